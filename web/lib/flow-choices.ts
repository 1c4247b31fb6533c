/**
 * The flow-rule choices of a custom pipeline as the form edits them (stage positions), and the
 * request body they become.
 */
import { SECTIONS, type Section } from '#schema/content/spec.ts';
import type { FlowRules } from '#schema/flow.ts';

/** A custom pipeline's rule for one section, stages by position (names are sent). */
export interface FlowChoice {
  direction: 'up' | 'down' | 'local';
  source: number;
  editable: number[];
}

export const allUp = (): Record<Section, FlowChoice> =>
  Object.fromEntries(
    SECTIONS.map((s) => [s, { direction: 'up', source: 1, editable: [] }]),
  ) as unknown as Record<Section, FlowChoice>;

/** A project's stored rules as choices (stage positions), to edit them. */
export function choicesOf(
  rules: FlowRules,
  envs: readonly { id: string; position: number }[],
): Record<Section, FlowChoice> {
  const position = (id: string | undefined) => envs.find((e) => e.id === id)?.position ?? 1;
  const out = allUp();
  for (const s of SECTIONS) {
    const r = rules[s];
    const source = position(r.sourceEnvId);
    out[s] = {
      direction: r.direction,
      source,
      editable: (r.editableEnvIds ?? []).map(position).filter((p) => p !== source),
    };
  }
  return out;
}

/** The `flowRules` body of POST /api/projects: only the sections that do not move up. */
export function flowRulesBody(
  rules: Record<Section, FlowChoice>,
  stages: readonly { name: string }[],
) {
  const name = (i: number) => stages[Math.min(i, stages.length - 1)]!.name;
  return Object.fromEntries(
    SECTIONS.filter((s) => rules[s].direction !== 'up').map((s) => {
      const r = rules[s];
      if (r.direction === 'local') return [s, { direction: 'local' }];
      return [
        s,
        {
          direction: 'down',
          source: name(r.source),
          editableIn: r.editable.filter((i) => i < r.source).map(name),
        },
      ];
    }),
  );
}
