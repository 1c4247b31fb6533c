import { AppError } from '#schema/errors.ts';
import { SPECS, type Section } from '#schema/content/spec.ts';
import { draftSections, parseFlowRules } from '#schema/flow.ts';
import { diffBudget, itemFieldChanges } from '#schema/content/diff.ts';
import { canonicalJson } from '#schema/content/canonical.ts';
import { setItemJson, type ItemJson } from '#schema/content/ydoc.ts';
import { own } from '#schema/content/ids.ts';
import type { DraftRow, EnvironmentRow, ProjectStore } from '../store/projects.ts';
import type { Atomically, Emit } from './events.ts';
import type { ReleaseRow, ReleaseStore } from '../store/releases.ts';
import type { Replication } from './replication.ts';
import type { Drafts } from './ports.ts';
import { itemBlob, type Snapshots } from './snapshots.ts';
import { requireEnvironment } from './require.ts';
import type { PullItem } from '#schema/api.ts';

/**
 * Pull (flow rules): chosen items of a `down` section from a lower environment's draft (UAT)
 * into a higher one's (Production) — the way an article tested in UAT goes live without
 * anything else moving. Within a project only, upward only, between drafts that both edit it.
 */
export function createPulls(deps: {
  projects: ProjectStore;
  releases: ReleaseStore;
  snapshots: Snapshots;
  drafts: Pick<Drafts, 'read' | 'edit'>;
  replication: Pick<Replication, 'agreed' | 'unseenBelow'>;
  /** The project event log: a `pull` event of the stage that received, in the record's transaction. */
  emit: Emit;
  /** A move and what stands or falls with it, as one transaction (PG-11). */
  atomically: Atomically;
}) {
  async function sides(envId: string, fromEnvId: string, section: Section) {
    const to = await requireEnvironment(deps.projects, envId);
    const from = await requireEnvironment(deps.projects, fromEnvId);
    if (to.environment.projectId !== from.environment.projectId)
      throw new AppError(
        'invalid_body',
        'Pulls never cross projects: export a snapshot and import it instead.',
      );
    const project = (await deps.projects.getProject(to.environment.projectId))!;
    const rule = parseFlowRules(project.project.flowRules)[section];
    const edits = (e: { environment: EnvironmentRow; draft: DraftRow | undefined }) =>
      !!e.draft &&
      (rule.editableEnvIds ?? []).includes(e.environment.id) &&
      draftSections(e.draft).includes(section);
    if (rule.direction !== 'down' || !edits(to) || !edits(from))
      throw new AppError(
        'invalid_body',
        'Only a section that flows down can be pulled, between environments that both edit it.',
      );
    if (from.environment.position >= to.environment.position)
      throw new AppError('invalid_body', 'Pull from an environment below this one.');
    return {
      target: { env: to.environment, draft: to.draft! },
      source: { env: from.environment, draft: from.draft! },
    };
  }

  /** The source holds the item in another version than this environment (or this one lacks it). */
  const differs = (
    section: Section,
    mine: Record<string, ItemJson>,
    theirs: Record<string, ItemJson>,
    id: string,
  ) => !own(mine, id) || itemBlob(section, mine[id]!).id !== itemBlob(section, theirs[id]!).id;

  return {
    /** What taking each item (default: every one that differs) would change here. */
    async preview(
      envId: string,
      fromEnvId: string,
      section: Section,
      itemIds?: readonly string[],
    ): Promise<PullItem[]> {
      const { target, source } = await sides(envId, fromEnvId, section);
      const mine = (await deps.drafts.read(target.draft.id))[section];
      const theirs = (await deps.drafts.read(source.draft.id))[section];
      const ids = itemIds ?? Object.keys(theirs).filter((id) => differs(section, mine, theirs, id));
      // One time budget for all the items' line diffs, as for any diff.
      const budget = diffBudget();
      const newer = new Set(await deps.replication.unseenBelow(target.env.id, section, ids));
      return ids.map((itemId) => {
        const after = own(theirs, itemId);
        if (!after)
          throw new AppError(
            'not_found',
            `${source.env.name} has no ${SPECS[section].noun} ${itemId}.`,
          );
        const before = own(mine, itemId);
        const fields = itemFieldChanges(section, before ?? {}, after, budget).filter(
          (f) =>
            before || (f.after !== undefined && f.after !== '' && canonicalJson(f.after) !== '[]'),
        );
        return {
          itemId,
          name: String(after[SPECS[section].nameField] ?? itemId),
          kind: !before ? 'added' : fields.length === 0 ? 'same' : 'changed',
          fields,
          newerHere: fields.length > 0 && newer.has(itemId),
        };
      });
    },

    /** Takes exactly the chosen items; nothing else moves. Recorded in this environment's history as `pull`. */
    async pull(
      actorId: string,
      envId: string,
      fromEnvId: string,
      section: Section,
      itemIds: readonly string[],
      { message, confirmOverwrite }: { message: string | null; confirmOverwrite: boolean },
    ): Promise<{ pulled: number }> {
      const { target, source } = await sides(envId, fromEnvId, section);
      const theirs = (await deps.drafts.read(source.draft.id))[section];
      const missing = itemIds.filter((id) => !own(theirs, id));
      if (missing.length > 0)
        throw new AppError(
          'not_found',
          `${source.env.name} has no ${SPECS[section].noun} ${missing.join(', ')}.`,
        );
      if (!confirmOverwrite) {
        // Taking a version alike to this one overwrites nothing, however the merge base stands.
        const mine = (await deps.drafts.read(target.draft.id))[section];
        const differ = itemIds.filter((id) => differs(section, mine, theirs, id));
        const newer = await deps.replication.unseenBelow(target.env.id, section, differ);
        if (newer.length > 0) {
          const names = newer
            .map((id) => `“${String(own(mine, id)?.[SPECS[section].nameField] ?? id)}”`)
            .join(', ');
          throw new AppError(
            'pull_overwrites_newer',
            `${target.env.name} changed ${names} after ${source.env.name} did: pulling would overwrite the newer version here. Review the diff and confirm the overwrite.`,
            { itemIds: newer },
          );
        }
      }
      const meta = { kind: 'pull', sourceDraftId: source.draft.id, message, createdBy: actorId };
      // The section here before and after, as snapshots: the history shows the pull as a diff.
      const fromSnapshotId = await deps.snapshots.freezeSection(
        target.env.projectId,
        section,
        (await deps.drafts.read(target.draft.id))[section],
        meta,
      );
      if (
        !(await deps.drafts.edit(target.draft.id, 'pull', (doc) =>
          itemIds.forEach((id) => setItemJson(doc, section, id, theirs[id]!)),
        ))
      )
        throw new AppError('storage_unavailable');
      // The environment pulled from replicates from this one: both now hold these versions.
      if (source.env.position + 1 === target.env.position)
        await deps.replication.agreed(
          source.draft,
          section,
          Object.fromEntries(itemIds.map((id) => [id, theirs[id]!])),
        );
      const toSnapshotId = await deps.snapshots.freezeSection(
        target.env.projectId,
        section,
        (await deps.drafts.read(target.draft.id))[section],
        meta,
      );
      const noun = `${itemIds.length} ${SPECS[section].noun}${itemIds.length === 1 ? '' : 's'}`;
      await deps.atomically(async () => {
        const alongside = async (row: ReleaseRow) =>
          await deps.emit({
            projectId: target.env.projectId,
            environmentId: target.env.id,
            kind: 'pull',
            actorId,
            subject: { releaseId: row.seq, section },
          });
        const row = await deps.releases.recordReplication(
          {
            projectId: target.env.projectId,
            environmentId: target.env.id,
            kind: 'pull',
            toSnapshotId,
            fromSnapshotId,
            sourceEnvironmentId: source.env.id,
            actorId,
            message: message ?? `Pulled ${noun} from ${source.env.name}`,
            detail: { section, itemIds },
          },
          Date.now(),
        );
        await alongside(row);
        return row;
      });
      return { pulled: itemIds.length };
    },
  };
}

export type Pulls = ReturnType<typeof createPulls>;
