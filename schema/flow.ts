import { SECTIONS, SPECS, STEP_VARIANTS, type Fields, type Section } from './content/spec.ts';

/**
 * Flow rules: per content section, how it moves through a project's pipeline.
 * - `up`: edited in the authoring (first) environment's draft, promoted by Sync and Publish.
 * - `down`: edited in a designated source environment (and, optionally, others below it, to
 *   set it up and test it there) and replicated into every lower environment; read-only
 *   everywhere else.
 * - `local`: never moves: every environment edits its own in its own draft.
 */
export const FLOW_DIRECTIONS = ['up', 'down', 'local'] as const;
export type FlowDirection = (typeof FLOW_DIRECTIONS)[number];

export interface FlowRule {
  direction: FlowDirection;
  /** `down`: the environment whose version wins and flows down. */
  sourceEnvId?: string;
  /** `down`: every environment with a draft of this section (the source first). */
  editableEnvIds?: string[];
}
export type FlowRules = Record<Section, FlowRule>;

/** How a pipeline's stages treat a section, by stage position (resolved to ids at project creation). */
export type FlowTemplate =
  | { direction: 'up' }
  | { direction: 'local' }
  | { direction: 'down'; sourcePosition: number; editablePositions: number[] };

/** Which sections each section refers to by item id (a `ref`/`refs` field, workflow steps included). */
export const ID_REFERENCES: Readonly<Record<Section, readonly Section[]>> = (() => {
  const targets = (fields: Fields) =>
    Object.values(fields).flatMap((f) => (f.kind === 'ref' || f.kind === 'refs' ? [f.to] : []));
  const out = {} as Record<Section, Section[]>;
  for (const s of SECTIONS) {
    const spec = SPECS[s];
    const fields = [
      spec.fields,
      ...Object.values(spec.variants ?? {}).map((v) => v.fields),
      ...(Object.values(spec.fields).some((f) => f.kind === 'steps')
        ? Object.values(STEP_VARIANTS).map((v) => v.fields)
        : []),
    ];
    out[s] = [...new Set(fields.flatMap(targets))].filter((t) => t !== s);
  }
  return out;
})();

const sameWay = (a: FlowTemplate, b: FlowTemplate) => JSON.stringify(a) === JSON.stringify(b);

/**
 * What is wrong with a pipeline's rules (`templates` by stage position, `stages` of them), in
 * words for the admin: a `down` section needs a source above the first stage and is edited only
 * at or below it; an item may refer by id only to a section that moves up, or one that moves
 * the same way as its own (else a promoted item could point at nothing).
 */
export function flowTemplateProblems(
  templates: Partial<Record<Section, FlowTemplate>>,
  stages: number,
): string[] {
  const rule = (s: Section): FlowTemplate => templates[s] ?? { direction: 'up' };
  const out: string[] = [];
  for (const s of SECTIONS) {
    const r = rule(s);
    if (r.direction !== 'down') continue;
    if (r.sourcePosition < 1 || r.sourcePosition >= stages)
      out.push(
        `${s} flows down from its source to every stage below it: choose a source above the first stage.`,
      );
    if (r.editablePositions.some((p) => p < 0 || p > r.sourcePosition))
      out.push(`${s} can be edited only in its source stage or below it.`);
  }
  for (const from of SECTIONS) {
    for (const to of ID_REFERENCES[from]) {
      if (rule(to).direction !== 'up' && !sameWay(rule(from), rule(to)))
        out.push(`${from} refer to ${to} by id: ${to} must move up, or the same way as ${from}.`);
    }
  }
  return out;
}

/** The rules of a project whose stored rules are `stored` (missing sections: `up`). */
export function flowRules(stored: Partial<Record<Section, FlowRule>>): FlowRules {
  return Object.fromEntries(
    SECTIONS.map((s) => [s, stored[s] ?? { direction: 'up' }]),
  ) as FlowRules;
}

/** A project's rules by stage position (the inverse of resolving templates to environment ids). */
export function templatesOf(
  rules: FlowRules,
  positionOf: (envId: string) => number,
): Partial<Record<Section, FlowTemplate>> {
  const out: Partial<Record<Section, FlowTemplate>> = {};
  for (const s of SECTIONS) {
    const r = rules[s];
    if (r.direction === 'local') out[s] = { direction: 'local' };
    if (r.direction === 'down')
      out[s] = {
        direction: 'down',
        sourcePosition: positionOf(r.sourceEnvId!),
        editablePositions: (r.editableEnvIds ?? []).map(positionOf),
      };
  }
  return out;
}

/** The rules stored (as JSON) on a project row. */
export const parseFlowRules = (json: string | undefined): FlowRules =>
  flowRules(json ? (JSON.parse(json) as Partial<Record<Section, FlowRule>>) : {});

/** The sections the authoring draft owns: every `up` section. */
export const upSections = (rules: FlowRules): Section[] =>
  SECTIONS.filter((s) => rules[s].direction === 'up');

/**
 * The sections not in place yet at the stage at `position`: before its first Sync a later stage
 * holds none of the `up` sections (what it holds itself, a sample's or an import's articles, is
 * there already). The problems of that stage leave references into them unjudged.
 */
export const sectionsNotArrived = (
  rules: FlowRules,
  position: number,
  snapshotId: string | null,
): Section[] => (position === 0 || snapshotId !== null ? [] : upSections(rules));

/**
 * The sections an environment holds itself rather than by Sync: `down` (replicated into it,
 * or edited there) and `local`. A snapshot carries none of them; an environment's content is
 * its snapshot's `up` sections plus these, live from its own draft.
 */
export const heldSections = (rules: FlowRules): Section[] =>
  SECTIONS.filter((s) => rules[s].direction !== 'up');

/**
 * The sections the draft of the stage at `position` owns (edits): the first stage's owns every
 * `up` section; every stage owns its `local` sections and the `down` ones editable there.
 */
export const ownedAt = (
  templates: Partial<Record<Section, FlowTemplate>>,
  position: number,
): Section[] =>
  SECTIONS.filter((s) => {
    const r = templates[s] ?? { direction: 'up' };
    return r.direction === 'up'
      ? position === 0
      : r.direction === 'local' || r.editablePositions.includes(position);
  });

/** Whether the stage at `position` receives some `down` section (it lies below the section's source). */
export const receivesAt = (
  templates: Partial<Record<Section, FlowTemplate>>,
  position: number,
): boolean =>
  Object.values(templates).some((r) => r.direction === 'down' && position < r.sourcePosition);

/** A draft's stored section list (null: every section), the inverse of `draftSections`. */
export const storedSections = (sections: readonly Section[]): Section[] | null =>
  sections.length === SECTIONS.length ? null : [...sections];

/** Rules by stage position resolved to environment ids (as a project stores them; `up` is left out). */
export function rulesFromTemplates(
  templates: Partial<Record<Section, FlowTemplate>>,
  envIds: readonly string[],
): Partial<FlowRules> {
  const out: Partial<FlowRules> = {};
  for (const [s, t] of Object.entries(templates) as [Section, FlowTemplate][]) {
    if (t.direction === 'local') out[s] = { direction: 'local' };
    if (t.direction === 'down')
      out[s] = {
        direction: 'down',
        sourceEnvId: envIds[t.sourcePosition]!,
        editableEnvIds: t.editablePositions.map((p) => envIds[p]!),
      };
  }
  return out;
}

/** The sections a draft owns, from its stored list (null: every section). */
export const draftSections = (draft: { sections: readonly Section[] | null }): Section[] =>
  draft.sections ? [...draft.sections] : [...SECTIONS];
