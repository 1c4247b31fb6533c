import { SECTIONS, type Section } from './content/spec.ts';
import type { WorkspaceContent } from './content/ydoc.ts';
import { heldSections, upSections, type FlowRules } from './flow.ts';
import { isProduction } from './pipeline.ts';

/**
 * What an environment shows, and what a stage would freeze to, by the flow rules. Stated once
 * here; the server (domain/composition.ts) applies it to stored snapshots and live drafts, the
 * web to what it was sent.
 *
 * An environment shows the `up` sections of the snapshot in place (what Sync brought) with the
 * sections it holds itself (`down`, `local`) live from its own draft. The authoring environment
 * shows its whole draft.
 */

/**
 * An environment's view per section: `fromSnapshot` for the `up` sections, `own` (its draft)
 * for the sections it holds, `none()` for those where it has no draft. Generic over what a
 * section is: items (content) or item addresses (a diff's tree).
 */
export function composeShown<T>(
  rules: FlowRules,
  fromSnapshot: Record<Section, T>,
  own: Record<Section, T> | null,
  none: () => T,
): Record<Section, T> {
  const out = { ...fromSnapshot };
  for (const s of heldSections(rules)) out[s] = own ? own[s] : none();
  return out;
}

/**
 * What a Sync out of the authoring environment carries of its draft (and so what it freezes
 * to): the `up` sections only. The others each environment holds itself; they never move by
 * Sync. Empties the others in `content` (a copy the caller read for this) and returns it.
 */
export function carriedBySync(content: WorkspaceContent, rules: FlowRules): WorkspaceContent {
  const up = upSections(rules);
  for (const s of SECTIONS) if (!up.includes(s)) content[s] = {};
  return content;
}

/**
 * The snapshot a reader sees in an environment by default: production's live one (its current
 * one before anything went live), elsewhere the current one.
 */
export function shownSnapshotId(
  env: { position: number; snapshotId: string | null; liveSnapshotId?: string | null },
  project: { environments: readonly unknown[] },
): string | null {
  return isProduction(env, project) ? (env.liveSnapshotId ?? env.snapshotId) : env.snapshotId;
}
