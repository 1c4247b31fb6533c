import { AppError } from '#schema/errors.ts';
import { storedSections, upSections } from '#schema/flow.ts';
import { applyContent, contentState, type WorkspaceContent } from '#schema/content/ydoc.ts';
import {
  applyHotfixChanges,
  contains,
  hotfixChanges,
  missingFrom,
  type HotfixChange,
} from '#schema/content/hotfix.ts';
import { mapInOrder } from '../lib/in-order.ts';
import type { ProjectStore } from '../store/projects.ts';
import type { HotfixStore } from '../store/hotfixes.ts';
import type { ReleaseRow, ReleaseStore } from '../store/releases.ts';
import type { Principal } from './accounts.ts';
import type { Snapshots } from './snapshots.ts';
import { releaseView, type FreezeGuard, type GateCheck, type HotfixGuard } from './releases.ts';
import { newId } from './ids.ts';
import { LIMITS, requireRate } from './limits.ts';
import { DAY } from '../lib/time.ts';
import { isProduction, productionOf } from '#schema/pipeline.ts';
import { requireEnvironment } from './require.ts';
import type { Drafts } from './ports.ts';
import type { Divergence, ReleaseView } from '#schema/api.ts';
import type { Atomically, ProjectEvents } from './events.ts';

/** An audit event (access store): a discard moves no pointer, so its reason is kept there. */
export type AuditSink = (
  e: { projectId: string; environmentId: string; kind: string; actorId: string; subject: unknown },
  now: number,
) => Promise<unknown>;

export function createHotfixes(deps: {
  projects: ProjectStore;
  store: HotfixStore;
  releases: ReleaseStore;
  snapshots: Snapshots;
  drafts: Drafts;
  gates: GateCheck;
  /** Freeze windows (SCHED-6): a hotfix publish inside one needs `overrideFreeze`. */
  freeze: FreezeGuard;
  audit: AuditSink;
  /** The project event log (`hotfix`), inside each change's transaction. */
  emit: ProjectEvents['emit'];
  /** Several store calls as one transaction (PG-11). */
  atomically: Atomically;
}) {
  const { projects, store, snapshots, drafts } = deps;

  /** Says what happened to production's hotfix (`port`: its changes wait to be brought to the authoring stage). */
  async function told(
    env: { id: string; projectId: string },
    actorId: string | null,
    hotfixId: string | null,
    action: 'started' | 'published' | 'discarded' | 'rebased' | 'applied',
    port = false,
    /** The release record a publish wrote (webhook payloads carry its sequence and hash, WH-5). */
    releaseId?: number,
  ): Promise<void> {
    await deps.emit({
      projectId: env.projectId,
      environmentId: env.id,
      kind: 'hotfix',
      actorId,
      subject: {
        hotfixId,
        action,
        ...(port ? { port } : {}),
        ...(releaseId !== undefined ? { releaseId } : {}),
      },
    });
  }

  async function production(envId: string) {
    const env = (await requireEnvironment(projects, envId)).environment;
    const all = (await projects.getProject(env.projectId))!.environments;
    if (!isProduction(env, { environments: all })) throw new AppError('not_production');
    return { env, all };
  }

  const changesOf = async (projectId: string, baseId: string, fixedId: string) =>
    hotfixChanges(
      await snapshots.content(projectId, baseId),
      await snapshots.content(projectId, fixedId),
    );

  /** Each open hotfix with its changes that neither DEV nor production's current content holds yet. */
  async function pendingOf(projectId: string) {
    const project = (await projects.getProject(projectId))!;
    const devDraft = project.drafts.find((d) => d.kind === 'authoring');
    const dev = devDraft ? await drafts.read(devDraft.id) : null;
    const prod = productionOf(project.environments)!;
    const prodCurrent = prod.snapshotId
      ? await snapshots.content(projectId, prod.snapshotId)
      : null;
    return await mapInOrder(await store.open(projectId), async (h) => ({
      h,
      pending: (await changesOf(projectId, h.baseSnapshotId, h.snapshotId)).filter(
        (c) => !(dev && contains(dev, c)) && !(prodCurrent && contains(prodCurrent, c)),
      ),
    }));
  }

  /**
   * Open hotfixes and what of each DEV lacks; one whose changes all arrived is left out. A read:
   * it writes nothing (the board and GET …/divergence call it); `settle` records the resolution.
   */
  async function divergence(projectId: string): Promise<Divergence[]> {
    return (await pendingOf(projectId))
      .filter(({ pending }) => pending.length > 0)
      .map(({ h, pending }) => ({
        hotfixId: h.id,
        snapshotId: h.snapshotId,
        publishedBy: h.publishedBy,
        publishedAt: new Date(h.publishedAt).toISOString(),
        pending,
      }));
  }

  /**
   * Marks resolved the open hotfixes whose changes all arrived: called by the writes that bring
   * them (the port into DEV).
   */
  async function settle(projectId: string): Promise<void> {
    for (const { h, pending } of await pendingOf(projectId))
      if (pending.length === 0) await store.setState(h.id, 'resolved');
  }

  const guard: HotfixGuard = {
    async undoneBy(projectId: string, content: () => Promise<WorkspaceContent>) {
      const open = await store.open(projectId);
      if (open.length === 0) return [];
      const c = await content();
      const out: { hotfixId: string; changes: HotfixChange[] }[] = [];
      for (const h of open) {
        const changes = missingFrom(c, await changesOf(projectId, h.baseSnapshotId, h.snapshotId));
        if (changes.length > 0) out.push({ hotfixId: h.id, changes });
      }
      return out;
    },
    async markOverridden(ids) {
      for (const id of ids) await store.setState(id, 'overridden');
    },
  };

  /** The open hotfix of production, with the live snapshot it was forked from. */
  async function openHotfix(envId: string) {
    const { env } = await production(envId);
    const draft = await store.openDraft(env.id);
    if (!draft || !draft.baseSnapshotId) throw new AppError('no_hotfix');
    return { env, draft, baseSnapshotId: draft.baseSnapshotId };
  }

  /**
   * A hotfix replaces live wholesale, so publishing it after live moved would silently undo that
   * Publish or rollback: refused, naming what of the newer live the hotfix lacks.
   */
  async function requireLiveUnmoved(
    env: { projectId: string; liveSnapshotId: string | null; name: string },
    draftId: string,
    baseSnapshotId: string,
  ): Promise<void> {
    if (env.liveSnapshotId === baseSnapshotId) return;
    const live = env.liveSnapshotId
      ? await snapshots.content(env.projectId, env.liveSnapshotId)
      : null;
    const lost = live
      ? missingFrom(
          await drafts.read(draftId),
          hotfixChanges(await snapshots.content(env.projectId, baseSnapshotId), live),
        )
      : [];
    throw new AppError(
      'live_moved',
      `${env.name} went live with something else since this hotfix started; publishing it would undo ${lost.length} change${lost.length === 1 ? '' : 's'}. Rebase the hotfix onto what is live now, or discard it.`,
      { baseSnapshotId, liveSnapshotId: env.liveSnapshotId, lost },
    );
  }

  return {
    guard,
    divergence,

    async openDraft(envId: string) {
      await production(envId);
      return (await store.openDraft(envId)) ?? null;
    },

    /** Forks a hotfix draft from production's live snapshot. */
    async start(
      by: Principal,
      envId: string,
    ): Promise<{ draftId: string; baseSnapshotId: string }> {
      const { env } = await production(envId);
      if (!env.liveSnapshotId) throw new AppError('nothing_live');
      if (await store.openDraft(env.id)) throw new AppError('hotfix_open');
      // Each start copies the live content into a new draft (kept after a discard): bounded per day.
      const now = Date.now();
      const perDay = LIMITS.HOTFIXES_PER_ENVIRONMENT_PER_DAY;
      const withinRate = async () =>
        requireRate(
          'HOTFIXES_PER_ENVIRONMENT_PER_DAY',
          perDay,
          await store.startedSince(env.id, now - DAY),
          DAY,
          now,
          `At most ${perDay} hotfixes a day start in ${env.name}: finish this one with what it needs, or try again tomorrow.`,
        );
      await withinRate();
      const draftId = newId('dft');
      // Flow rules: a hotfix changes the sections that are promoted; `down` ones are edited in their own drafts.
      const rules = await deps.projects.flowRules(env.projectId);
      const owned = upSections(rules);
      await deps.atomically(async () => {
        // Counted again with the insert, first (PG-187): starts racing past the checks above are
        // counted one at a time here (and the second finds the first's draft open).
        await withinRate();
        if (await store.openDraft(env.id)) throw new AppError('hotfix_open');
        await store.insertDraft(
          {
            id: draftId,
            projectId: env.projectId,
            environmentId: env.id,
            kind: 'hotfix',
            createdAt: now,
            createdBy: by.user.id,
            baseSnapshotId: env.liveSnapshotId,
            closedAt: null,
            sections: storedSections(owned),
          },
          contentState(await snapshots.content(env.projectId, env.liveSnapshotId!)),
        );
        await told(env, by.user.id, draftId, 'started');
      });
      return { draftId, baseSnapshotId: env.liveSnapshotId };
    },

    /** Freezes the hotfix draft and makes it live directly; its changes are then tracked until DEV has them. */
    async publish(
      by: Principal,
      envId: string,
      opts: { message?: string; overrideFreeze?: boolean },
    ): Promise<ReleaseView> {
      const { env, draft, baseSnapshotId } = await openHotfix(envId);
      // Inside a freeze window only with an explicit override, recorded in the release.
      let overrodeFreeze = false;
      if (opts.overrideFreeze === true) {
        try {
          await deps.freeze.requireOpen(env);
        } catch (err) {
          if (!(err instanceof AppError) || err.id !== 'frozen') throw err;
          overrodeFreeze = true;
        }
      } else await deps.freeze.requireOpen(env);
      await requireLiveUnmoved(env, draft.id, baseSnapshotId);
      // Read once: what is checked against the approvals is exactly what freezes, even while editors type.
      const content = await drafts.read(draft.id);
      // Four eyes: a gated production needs an approved hotfix request for exactly what this draft freezes to.
      const requestId = await deps.gates.check(env.id, env.id, snapshots.idOf(content), {
        hotfix: true,
      });
      const snapshotId = await snapshots.freeze(env.projectId, content, {
        kind: 'hotfix',
        parentId: baseSnapshotId,
        sourceDraftId: draft.id,
        message: opts.message ?? null,
        createdBy: by.user.id,
      });
      const release = await deps.atomically(async () => {
        const alongside = async (_row: ReleaseRow) =>
          await deps.gates.settle({
            requestId,
            sourceEnvId: env.id,
            targetEnvId: env.id,
            hotfix: true,
          });
        const row = await deps.releases.commitMove(
          {
            projectId: env.projectId,
            environmentId: env.id,
            pointer: 'live',
            kind: 'hotfix',
            toSnapshotId: snapshotId,
            expectedFrom: baseSnapshotId,
            actorId: by.user.id,
            message: opts.message ?? null,
            detail: {
              baseSnapshotId,
              ...(requestId ? { requestId } : {}),
              ...(overrodeFreeze ? { overrideFreeze: true } : {}),
            },
          },
          Date.now(),
        );
        await alongside(row);
        return row;
      });
      const now = Date.now();
      const hotfixId = newId('hfx');
      await deps.atomically(async () => {
        await store.closeDraft(draft.id, now);
        if (snapshotId !== baseSnapshotId) {
          await store.insert({
            id: hotfixId,
            projectId: env.projectId,
            environmentId: env.id,
            draftId: draft.id,
            baseSnapshotId,
            snapshotId,
            publishedBy: by.user.id,
            publishedAt: now,
            state: 'open',
          });
        }
        await told(
          env,
          by.user.id,
          hotfixId,
          'published',
          snapshotId !== baseSnapshotId,
          release.seq,
        );
      });
      drafts.close(draft.id);
      return releaseView(release);
    },

    /**
     * Moves the open hotfix onto what is live now: a three-way apply of its changes (base = the
     * live it was forked from) onto the newer live, in one transaction its editors see live. Where
     * both changed the same field, the hotfix's value wins: it is the newer intent, and the editor
     * reviews it before publishing.
     */
    async rebase(
      envId: string,
    ): Promise<{ draftId: string; baseSnapshotId: string; applied: number }> {
      const { env, draft, baseSnapshotId } = await openHotfix(envId);
      if (!env.liveSnapshotId) throw new AppError('nothing_live');
      if (env.liveSnapshotId === baseSnapshotId)
        return { draftId: draft.id, baseSnapshotId, applied: 0 };
      const changes = hotfixChanges(
        await snapshots.content(env.projectId, baseSnapshotId),
        await drafts.read(draft.id),
      );
      const live = await snapshots.content(env.projectId, env.liveSnapshotId);
      const ok = await drafts.edit(draft.id, 'hotfix-port', (doc) => {
        applyContent(doc, live);
        applyHotfixChanges(doc, changes);
      });
      if (!ok) throw new AppError('storage_unavailable');
      await deps.atomically(async () => {
        await store.setDraftBase(draft.id, env.liveSnapshotId!);
        await told(env, null, draft.id, 'rebased');
      });
      return { draftId: draft.id, baseSnapshotId: env.liveSnapshotId, applied: changes.length };
    },

    /** Closes the open hotfix unpublished; who and why goes to the environment's history (`hotfix.discarded`). */
    async discard(by: Principal, envId: string, opts: { message?: string } = {}): Promise<void> {
      const { env } = await production(envId);
      const draft = await store.openDraft(env.id);
      if (!draft) throw new AppError('no_hotfix');
      const now = Date.now();
      // Closed and recorded together: a discard is never without its who and why.
      await deps.atomically(async () => {
        await store.closeDraft(draft.id, now);
        await deps.audit(
          {
            projectId: env.projectId,
            environmentId: env.id,
            kind: 'hotfix.discarded',
            actorId: by.user.id,
            subject: {
              draftId: draft.id,
              baseSnapshotId: draft.baseSnapshotId,
              message: opts.message ?? null,
            },
          },
          now,
        );
        await told(env, by.user.id, draft.id, 'discarded');
      });
      drafts.close(draft.id);
    },

    /** Applies exactly the pending hotfix changes to the DEV draft as one transaction everyone sees live. */
    async applyToDev(envId: string): Promise<{ applied: number; divergence: Divergence[] }> {
      const { env } = await production(envId);
      const devDraft = (await projects.getProject(env.projectId))!.drafts.find(
        (d) => d.kind === 'authoring',
      );
      if (!devDraft) throw new AppError('draft_not_found');
      const pending = (await divergence(env.projectId)).flatMap((d) => d.pending);
      if (
        pending.length > 0 &&
        !(await drafts.edit(devDraft.id, 'hotfix-port', (doc) => applyHotfixChanges(doc, pending)))
      ) {
        throw new AppError('storage_unavailable');
      }
      await deps.atomically(async () => {
        await settle(env.projectId);
        if (pending.length > 0) await told(env, null, null, 'applied');
      });
      return { applied: pending.length, divergence: await divergence(env.projectId) };
    },
  };
}

export type Hotfixes = ReturnType<typeof createHotfixes>;
