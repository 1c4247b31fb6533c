import type * as Y from 'yjs';
import type { Atomically, Emit } from './events.ts';
import { AppError } from '#schema/errors.ts';
import { SECTIONS, SPECS, type Section } from '#schema/content/spec.ts';
import { parseFlowRules, type FlowRules } from '#schema/flow.ts';
import { setItemJson, type ItemJson } from '#schema/content/ydoc.ts';
import { own } from '#schema/content/ids.ts';
import type { ProjectStore, DraftRow, EnvironmentRow } from '../store/projects.ts';
import type { ReleaseRow, ReleaseStore } from '../store/releases.ts';
import type { SnapshotStore } from '../store/snapshots.ts';
import type { BaseRow, ReplicationStore } from '../store/replication.ts';
import { itemBlob, type Snapshots } from './snapshots.ts';
import { requireEnvironment } from './require.ts';
import { openDraftOf } from '#schema/pipeline.ts';
import type { Drafts } from './ports.ts';
import type { JobHandler, JobSink } from '../cluster/jobs.ts';
import type { ConflictView, StageReplication } from '#schema/api.ts';

/** The job that replicates one project's `down` sections (PG-121); keyed by the project id. */
export const REPLICATE_JOB = 'replicate';

const DELETED = 'deleted';

/**
 * Replication of `down` sections (flow rules). Each environment below a section's source takes
 * the version of the environment just above it: Production → UAT → Staging in the three-stage
 * preset. A receiving draft that edits the section itself (UAT) gets a three-way merge against
 * the upstream version it last took: items only it has stay, items only upstream changed are
 * taken, items changed on both sides become conflicts (kept local, listed to resolve). A
 * receiving draft that may not edit the section (Staging) simply equals upstream. Runs a
 * short while after a change (batched), never touches environment-local data.
 */
export function createReplication(deps: {
  projects: ProjectStore;
  releases: ReleaseStore & SnapshotStore;
  snapshots: Snapshots;
  store: ReplicationStore;
  drafts: Pick<Drafts, 'read' | 'edit'>;
  delayMs: number;
  log: (msg: string, err?: unknown) => void;
  jobs: JobSink;
  /** The project event log: `replication` (the stage that received) and `conflict` events, in the record's transaction. */
  emit: Emit;
  /** Several store calls as one transaction (PG-11). */
  atomically: Atomically;
}) {
  const blobOf = itemBlob;

  function chain(rules: FlowRules, section: Section, envs: EnvironmentRow[], drafts: DraftRow[]) {
    const rule = rules[section];
    const source = envs.find((e) => e.id === rule.sourceEnvId);
    if (rule.direction !== 'down' || !source) return [];
    const draftOf = (e: EnvironmentRow) => openDraftOf(drafts, e.id);
    // From the source down: each with its draft (every stage of a preset that receives a down section has one).
    return envs
      .filter((e) => e.position <= source.position)
      .sort((a, b) => b.position - a.position)
      .map((e) => ({ env: e, draft: draftOf(e) }))
      .filter((x): x is { env: EnvironmentRow; draft: DraftRow } => x.draft !== undefined);
  }

  /**
   * Both sides hold the same version (`blobId`, null: neither has the item): it is the merge base,
   * unless it already is.
   */
  function agreement(
    draft: DraftRow,
    section: Section,
    itemId: string,
    blobId: string | null,
    base: BaseRow | undefined,
    now: number,
  ): BaseRow | null {
    if (base ? base.baseBlobId === blobId && !base.conflictBlobId : blobId === null) return null;
    return {
      draftId: draft.id,
      section,
      itemId,
      baseBlobId: blobId,
      conflictBlobId: null,
      updatedAt: now,
    };
  }

  async function conflict(
    draft: DraftRow,
    section: Section,
    itemId: string,
    action: 'detected' | 'resolved',
    actorId: string | null,
  ): Promise<void> {
    await deps.emit({
      projectId: draft.projectId,
      environmentId: draft.environmentId,
      kind: 'conflict',
      actorId,
      subject: { section, itemId, action },
    });
  }

  /** Makes `draft`'s `section` follow `upstream`; returns how many items changed, and the section before. */
  async function receive(
    draft: DraftRow,
    section: Section,
    upstream: Record<string, ItemJson>,
    editsHere: boolean,
    now: number,
  ): Promise<{ changed: number; before: Record<string, ItemJson> }> {
    const local = (await deps.drafts.read(draft.id))[section];
    const bases = new Map((await deps.store.bases(draft.id, section)).map((b) => [b.itemId, b]));
    const take = new Map<string, ItemJson | null>();
    const rows: BaseRow[] = [];
    const newBlobs: { id: string; json: string }[] = [];
    const detected: string[] = [];
    const ids = new Set([...Object.keys(upstream), ...Object.keys(local), ...bases.keys()]);
    for (const itemId of ids) {
      const upItem = own(upstream, itemId);
      const loItem = own(local, itemId);
      const up = upItem ? blobOf(section, upItem) : null;
      const lo = loItem ? blobOf(section, loItem) : null;
      const base = bases.get(itemId);
      const ba = base?.baseBlobId ?? null;
      const row = (baseBlobId: string | null, conflictBlobId: string | null): BaseRow => ({
        draftId: draft.id,
        section,
        itemId,
        baseBlobId,
        conflictBlobId,
        updatedAt: now,
      });
      if ((up?.id ?? null) === (lo?.id ?? null)) {
        const agreed = agreement(draft, section, itemId, up?.id ?? null, base, now);
        if (agreed) rows.push(agreed);
        continue;
      }
      if (!editsHere || (lo?.id ?? null) === ba) {
        // Unchanged here since the last replication (or not editable here): upstream wins.
        take.set(itemId, upItem ?? null);
        rows.push(row(up?.id ?? null, null));
        continue;
      }
      if ((up?.id ?? null) === ba) {
        // Only changed here: keep local work (and forget a conflict upstream has since taken back).
        if (base?.conflictBlobId) rows.push(row(ba, null));
        continue;
      }
      // Changed on both sides since the last replication: a conflict, local kept.
      if (up) newBlobs.push(up);
      if (base?.conflictBlobId !== (up?.id ?? DELETED)) rows.push(row(ba, up?.id ?? DELETED));
      if (!base?.conflictBlobId) detected.push(itemId);
    }
    if (take.size > 0) {
      await deps.drafts.edit(draft.id, 'replicate', (doc: Y.Doc) => {
        for (const [itemId, json] of take) setItemJson(doc, section, itemId, json);
      });
    }
    await deps.atomically(async () => {
      await deps.releases.putBlobs(newBlobs);
      await deps.store.put(rows);
      for (const itemId of detected) await conflict(draft, section, itemId, 'detected', null);
    });
    return { changed: take.size, before: local };
  }

  /**
   * The environment's history gets a `replicate` record: the section there before and after, as
   * snapshots (a diff shows what flowed).
   */
  async function record(
    projectId: string,
    env: EnvironmentRow,
    from: EnvironmentRow,
    draft: DraftRow,
    section: Section,
    before: Record<string, ItemJson>,
    items: number,
  ): Promise<void> {
    const meta = { kind: 'replicate', sourceDraftId: draft.id, message: null, createdBy: 'system' };
    const fromSnapshotId = await deps.snapshots.freezeSection(projectId, section, before, meta);
    const toSnapshotId = await deps.snapshots.freezeSection(
      projectId,
      section,
      (await deps.drafts.read(draft.id))[section],
      meta,
    );
    await deps.atomically(async () => {
      const alongside = async (row: ReleaseRow) =>
        await deps.emit({
          projectId,
          environmentId: env.id,
          kind: 'replication',
          actorId: null,
          subject: { releaseId: row.seq, section },
        });
      const row = await deps.releases.recordReplication(
        {
          projectId,
          environmentId: env.id,
          kind: 'replicate',
          toSnapshotId,
          fromSnapshotId,
          sourceEnvironmentId: from.id,
          actorId: 'system',
          message: `${items} ${SPECS[section].noun}${items === 1 ? '' : 's'} from ${from.name}`,
          detail: { section, items },
        },
        Date.now(),
      );
      await alongside(row);
      return row;
    });
  }

  type Step = { env: EnvironmentRow; draft: DraftRow };
  /** Visits each receiving stage of each `down` section, from the source down, with the stage just above it. */
  async function eachStep(
    projectId: string,
    visit: (section: Section, from: Step, to: Step, editsHere: boolean) => Promise<void>,
  ): Promise<void> {
    const project = await deps.projects.getProject(projectId);
    if (!project) return;
    const rules = parseFlowRules(project.project.flowRules);
    for (const section of SECTIONS) {
      const steps = chain(rules, section, project.environments, project.drafts);
      const editable = new Set(rules[section].editableEnvIds ?? []);
      for (let i = 1; i < steps.length; i++)
        await visit(section, steps[i - 1]!, steps[i]!, editable.has(steps[i]!.env.id));
    }
  }

  async function replicateNow(projectId: string): Promise<void> {
    await eachStep(projectId, async (section, from, to, editsHere) => {
      const upstream = (await deps.drafts.read(from.draft.id))[section];
      const { changed, before } = await receive(to.draft, section, upstream, editsHere, Date.now());
      if (changed > 0)
        await record(projectId, to.env, from.env, to.draft, section, before, changed);
    });
  }

  return {
    /**
     * Replicates a project's `down` sections a little later, once for a burst of changes (PG-121):
     * a durable job, coalesced by project; called inside a change's transaction, it is part of it.
     */
    async schedule(projectId: string): Promise<void> {
      await deps.jobs.enqueue(REPLICATE_JOB, projectId, null, Date.now() + deps.delayMs);
      deps.jobs.wake();
    },

    /**
     * The replication job (PG-121): it recomputes from the drafts' current state, so a rerun after
     * a crash changes nothing more; a failure is retried with the runner's backoff.
     */
    job: { run: async ({ key }) => await replicateNow(key) } satisfies JobHandler,

    replicateNow,

    /**
     * Content just arrived without replication (the sample at creation, an import): items a stage
     * and the stage above it already hold alike become merge bases now, so a change on one side
     * before the next replication flows instead of looking changed on both. Takes nothing.
     */
    async settle(projectId: string): Promise<void> {
      const now = Date.now();
      await eachStep(projectId, async (section, from, to) => {
        const upstream = (await deps.drafts.read(from.draft.id))[section];
        const local = (await deps.drafts.read(to.draft.id))[section];
        const bases = new Map(
          (await deps.store.bases(to.draft.id, section)).map((b) => [b.itemId, b]),
        );
        const rows: BaseRow[] = [];
        for (const [itemId, item] of Object.entries(upstream)) {
          const mine = own(local, itemId);
          const blobId = blobOf(section, item).id;
          const agreed =
            mine && blobOf(section, mine).id === blobId
              ? agreement(to.draft, section, itemId, blobId, bases.get(itemId), now)
              : null;
          if (agreed) rows.push(agreed);
        }
        await deps.store.put(rows);
      });
    },

    /**
     * `draft` and the environment just above it now agree on these items (a pull took them up
     * as they are): they become the merge base, so the next change above flows down cleanly.
     */
    async agreed(
      draft: DraftRow,
      section: Section,
      items: Record<string, ItemJson>,
    ): Promise<void> {
      const now = Date.now();
      await deps.store.put(
        Object.entries(items).map(([itemId, item]) => ({
          draftId: draft.id,
          section,
          itemId,
          baseBlobId: blobOf(section, item).id,
          conflictBlobId: null,
          updatedAt: now,
        })),
      );
    },

    /**
     * Of these items, those `envId`'s draft holds in a version the stage just below it never took:
     * changed (or deleted) there since the merge base, the version both last held. Replication hands
     * a change down within its delay, so an edit below made after one here is made on top of it
     * (the merge base moves to it); one of these is therefore newer here than anything below it.
     */
    async unseenBelow(
      envId: string,
      section: Section,
      itemIds: readonly string[],
    ): Promise<string[]> {
      const found = await deps.projects.getEnvironment(envId);
      const project = found && (await deps.projects.getProject(found.environment.projectId));
      if (!found?.draft || !project) return [];
      const steps = chain(
        parseFlowRules(project.project.flowRules),
        section,
        project.environments,
        project.drafts,
      );
      const at = steps.findIndex((s) => s.env.id === envId);
      const below = at >= 0 ? steps[at + 1] : undefined;
      // Not in the chain, or its last stage: nothing below takes from it.
      if (!below) return [];
      const bases = new Map(
        (await deps.store.bases(below.draft.id, section)).map((b) => [b.itemId, b.baseBlobId]),
      );
      const local = (await deps.drafts.read(found.draft.id))[section];
      return itemIds.filter((id) => {
        const mine = own(local, id);
        return (mine ? blobOf(section, mine).id : null) !== (bases.get(id) ?? null);
      });
    },

    /** A section's rule changed: its merge bases and conflicts in these drafts no longer hold. */
    async forget(draftIds: readonly string[], sections: readonly Section[]): Promise<void> {
      for (const d of draftIds) for (const s of sections) await deps.store.forget(d, s);
    },

    /**
     * For each stage that receives a `down` section and `wanted` accepts: per section, the stage it
     * takes it from, when a replication last changed it there, and how many items wait in conflict.
     * Cheap enough for every board read: one grouped count per draft on its primary key and one
     * newest-first lookup per (stage, section) on the releases' (environment, seq) index.
     */
    async received(
      projectId: string,
      wanted: (envId: string) => boolean,
    ): Promise<Map<string, StageReplication[]>> {
      const out = new Map<string, StageReplication[]>();
      const counts = new Map<string, Record<string, number>>();
      await eachStep(projectId, async (section, from, to) => {
        if (!wanted(to.env.id)) return;
        let conflicts = counts.get(to.draft.id);
        if (!conflicts)
          counts.set(to.draft.id, (conflicts = await deps.store.conflictCounts(to.draft.id)));
        const at = await deps.releases.lastReplicated(to.env.id, section);
        const list = out.get(to.env.id) ?? [];
        list.push({
          section,
          sourceEnvironmentId: from.env.id,
          lastReplicatedAt: at === null ? null : new Date(at).toISOString(),
          conflicts: conflicts[section] ?? 0,
        });
        out.set(to.env.id, list);
      });
      return out;
    },

    /** Items changed both upstream and in this environment since the last replication. */
    async conflicts(envId: string): Promise<ConflictView[]> {
      const found = await requireEnvironment(deps.projects, envId);
      if (!found.draft) return [];
      const rows = await deps.store.conflicts(found.draft.id);
      const blobs = await deps.releases.getBlobs(
        rows.map((r) => r.conflictBlobId!).filter((id) => id !== DELETED),
      );
      const local = await deps.drafts.read(found.draft.id);
      return rows.map((r) => {
        const section = r.section as Section;
        const upstream =
          r.conflictBlobId === DELETED
            ? null
            : (JSON.parse(blobs.get(r.conflictBlobId!) ?? 'null') as ItemJson | null);
        const mine = own(local[section], r.itemId) ?? null;
        const nameField = SPECS[section].nameField;
        return {
          section,
          itemId: r.itemId,
          name: String((mine ?? upstream)?.[nameField] ?? r.itemId),
          upstream,
          local: mine,
        };
      });
    },

    /** Resolves a conflict: take the upstream version, or keep this environment's. */
    async resolve(
      envId: string,
      section: Section,
      itemId: string,
      take: 'upstream' | 'local',
      actorId: string | null = null,
    ): Promise<void> {
      const found = await deps.projects.getEnvironment(envId);
      const row = found?.draft
        ? (await deps.store.conflicts(found.draft.id)).find(
            (r) => r.section === section && r.itemId === itemId,
          )
        : undefined;
      if (!found?.draft || !row) throw new AppError('not_found', 'There is no such conflict here.');
      const upstreamId = row.conflictBlobId === DELETED ? null : row.conflictBlobId;
      if (take === 'upstream') {
        const json = upstreamId
          ? (JSON.parse((await deps.releases.getBlobs([upstreamId])).get(upstreamId)!) as ItemJson)
          : null;
        await deps.drafts.edit(found.draft.id, 'replicate', (doc: Y.Doc) =>
          setItemJson(doc, section, itemId, json),
        );
      }
      // Either way the upstream version is now the base: later upstream changes merge again.
      const draft = found.draft;
      await deps.atomically(async () => {
        await deps.store.put([
          { ...row, baseBlobId: upstreamId, conflictBlobId: null, updatedAt: Date.now() },
        ]);
        await conflict(draft, section, itemId, 'resolved', actorId);
      });
    },
  };
}

export type Replication = ReturnType<typeof createReplication>;
