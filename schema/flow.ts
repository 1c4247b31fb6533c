import { SECTIONS, type Section } from './content/spec.ts';

/**
 * Flow rules: per content section, how it moves through a project's pipeline.
 * - `up`: edited in the authoring (first) environment's draft, promoted by Sync and Publish.
 * - `down`: edited in a designated source environment (and, optionally, others above the
 *   bottom, to set it up and test it there) and replicated into every lower environment;
 *   read-only everywhere else.
 * - `local`: never moves (kept per environment).
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

/** How a preset's stages treat a section, by stage position (resolved to ids at project creation). */
export interface FlowTemplate {
  direction: 'down';
  sourcePosition: number;
  editablePositions: number[];
}

/** The rules of a project whose stored rules are `stored` (missing sections: `up`). */
export function flowRules(stored: Partial<Record<Section, FlowRule>>): FlowRules {
  return Object.fromEntries(SECTIONS.map((s) => [s, stored[s] ?? { direction: 'up' }])) as FlowRules;
}

/** The rules stored (as JSON) on a project row. */
export const parseFlowRules = (json: string | undefined): FlowRules => flowRules(json ? (JSON.parse(json) as Partial<Record<Section, FlowRule>>) : {});

/** The sections the authoring draft owns: every `up` section. */
export const upSections = (rules: FlowRules): Section[] => SECTIONS.filter((s) => rules[s].direction === 'up');

/**
 * The sections an environment holds itself rather than by Sync: `down` (replicated into it,
 * or edited there) and `local`. A snapshot carries none of them; an environment's content is
 * its snapshot's `up` sections plus these, live from its own draft.
 */
export const heldSections = (rules: FlowRules): Section[] => SECTIONS.filter((s) => rules[s].direction !== 'up');

/** The sections edited in `envId`'s own (non-authoring) draft: the `down` sections editable there. */
export const sectionsEditableIn = (rules: FlowRules, envId: string): Section[] =>
  SECTIONS.filter((s) => rules[s].direction === 'down' && (rules[s].editableEnvIds ?? []).includes(envId));

/** The sections a draft owns, from its stored JSON list (null: every section). */
export const draftSections = (draft: { sections: string | null }): Section[] => (draft.sections ? (JSON.parse(draft.sections) as Section[]) : [...SECTIONS]);
