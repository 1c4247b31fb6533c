/**
 * The team pages' pure parts: what a one-button form actually sends (only what changed), and
 * stage kinds and flow rules in words for those who read them.
 */
import type { EnvironmentView, GateView, ProjectView } from '#schema/api.ts';
import type { Section } from '#schema/content/spec.ts';
import type { EnvironmentKind } from '#schema/presets.ts';

/** What a stage's kind means, in words (the kind only labels a stage; order decides its role). */
export const KIND_LABEL: Record<EnvironmentKind, string> = {
  dev: 'Development',
  test: 'Test',
  uat: 'User acceptance',
  staging: 'Staging',
  production: 'Production',
  custom: 'Other',
};

export const kindLabel = (kind: string): string =>
  (KIND_LABEL as Record<string, string>)[kind] ?? KIND_LABEL.custom;

export type StageEdit = { name: string; kind: string; color: string };

/** The stages whose name (trimmed), kind or color (any case) differ, in pipeline order, as PATCH bodies. */
export function stageChanges(
  envs: readonly Pick<EnvironmentView, 'id' | 'name' | 'kind' | 'color'>[],
  edited: Readonly<Record<string, StageEdit>>,
): { envId: string; name: string; patch: Partial<StageEdit> }[] {
  return envs.flatMap((e) => {
    const s = edited[e.id];
    if (!s) return [];
    const patch: Partial<StageEdit> = {};
    if (s.name.trim() !== e.name) patch.name = s.name.trim();
    if (s.kind !== e.kind) patch.kind = s.kind;
    if (s.color.toLowerCase() !== e.color.toLowerCase()) patch.color = s.color;
    return Object.keys(patch).length > 0 ? [{ envId: e.id, name: e.name, patch }] : [];
  });
}

/** The gates that differ from what is stored, as PUT bodies (approvals as a whole number). */
export function gateChanges(
  stored: Readonly<Record<string, GateView>>,
  edited: Readonly<Record<string, GateView>>,
): { envId: string; gate: GateView }[] {
  return Object.entries(edited).flatMap(([envId, g]) => {
    // Always the whole gate: a PUT without `requiredChecks` would clear them.
    const gate = {
      requiredApprovals: Number(g.requiredApprovals),
      allowSelfApproval: g.allowSelfApproval,
      requiredChecks: g.requiredChecks ?? [],
    };
    const s = stored[envId];
    const same =
      s !== undefined &&
      s.requiredApprovals === gate.requiredApprovals &&
      s.allowSelfApproval === gate.allowSelfApproval &&
      (s.requiredChecks ?? []).join(',') === gate.requiredChecks.join(',');
    return same ? [] : [{ envId, gate }];
  });
}

/** A section's rule in words, for those who read the rules without changing them. */
export function ruleInWords(
  project: Pick<ProjectView, 'flowRules' | 'environments'>,
  section: Section,
): string {
  const r = project.flowRules[section];
  const name = (id: string | undefined) =>
    project.environments.find((e) => e.id === id)?.name ?? 'a removed stage';
  if (r.direction === 'up') return 'moves up by Sync';
  if (r.direction === 'local') return 'stays in each stage';
  const also = (r.editableEnvIds ?? []).filter((id) => id !== r.sourceEnvId).map(name);
  return `flows down from ${name(r.sourceEnvId)}${also.length ? `, also edited in ${also.join(', ')}` : ''}`;
}
