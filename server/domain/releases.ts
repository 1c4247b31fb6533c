import { AppError } from '#schema/errors.ts';
import type { WorkspaceContent } from '#schema/content/ydoc.ts';
import type { HotfixChange } from '#schema/content/hotfix.ts';
import type { ProjectStore, EnvironmentRow } from '../store/projects.ts';
import type { ReleaseRow, ReleaseStore, Pointer } from '../store/releases.ts';
import type { Principal } from './accounts.ts';
import type { Snapshots } from './snapshots.ts';
import type { Composition } from './composition.ts';
import { requireEnvironment } from './require.ts';
import { isAuthoring, isProduction } from '#schema/pipeline.ts';
import type { ReleaseChainPage, ReleaseEvidence, ReleaseView, SyncResult } from '#schema/api.ts';
import { chainFields, type ChainRecord } from '#schema/release-chain.ts';
import type { Atomically, Emit } from './events.ts';

/** What a promotion asks of hotfix tracking (see hotfixes.ts). */
export interface HotfixGuard {
  /** Hotfix changes live in production that the content would undo (read only if a hotfix is open). */
  undoneBy(
    projectId: string,
    content: () => Promise<WorkspaceContent>,
  ): Promise<{ hotfixId: string; changes: HotfixChange[] }[]>;
  markOverridden(hotfixIds: readonly string[]): Promise<void>;
}

/** The four-eyes gate (see approvals.ts), asked before a move commits. */
export interface GateCheck {
  /** Throws unless the move has the approvals the target needs; returns the request to close. */
  check(
    sourceEnvId: string,
    targetEnvId: string,
    snapshotId: string,
    opts?: { hotfix?: boolean },
  ): Promise<string | null>;
  /**
   * Run inside the move's transaction: the satisfied request closes, the other open requests for
   * this move are voided, and requests out of the moved environment for other snapshots no longer hold.
   */
  settle(move: {
    requestId: string | null;
    sourceEnvId: string;
    targetEnvId: string;
    hotfix?: boolean;
    movedTo?: string;
  }): Promise<void>;
  /**
   * Throws `checks_failed`/`checks_pending` unless the target's required checks passed for this
   * snapshot; returns what allowed a gated move (stored as the record's `detail.evidence`).
   */
  evidence(
    targetEnvId: string,
    snapshotId: string,
    requestId: string | null,
  ): Promise<ReleaseEvidence | undefined>;
  /** An environment's pointer moved: requests out of it for other snapshots no longer hold. */
  sourceMoved(envId: string, snapshotId: string | null): Promise<void>;
}

/** Freeze windows (see schedule.ts): throws `409 frozen` when the environment is in one now. */
export interface FreezeGuard {
  requireOpen(env: { id: string; name: string }): Promise<void>;
}

/** Which secrets a snapshot's integrations name that an environment does not have (see local.ts). */
export interface SecretsGuard {
  missingFor(envId: string, snapshotId: string): Promise<string[]>;
}

export const releaseView = (r: ReleaseRow): ReleaseView => ({
  seq: r.seq,
  environmentId: r.environmentId,
  kind: r.kind,
  pointer: r.pointer as ReleaseView['pointer'],
  fromSnapshotId: r.fromSnapshotId,
  toSnapshotId: r.toSnapshotId,
  sourceEnvironmentId: r.sourceEnvironmentId,
  actorId: r.actorId,
  message: r.message,
  detail: r.detail ? (JSON.parse(r.detail) as unknown) : null,
  createdAt: new Date(r.createdAt).toISOString(),
  hash: r.hash,
});

/** A record as the chain API answers it: exactly the hashed fields, its seq and hash (VH-1). */
export const chainRecord = (r: ReleaseRow): ChainRecord => ({
  seq: r.seq,
  ...chainFields(r),
  hash: r.hash,
});

/** What a promotion needs from audiences: the target must have every audience the snapshot refers to. */
export interface AudienceGuard {
  requireFor(targetEnvId: string, projectId: string, snapshotId: string): Promise<void>;
  noteSnapshot(snapshotId: string, content: WorkspaceContent): void;
}

/**
 * A Sync's or Publish's record of what its mover confirmed (hotfix changes undone, secrets
 * missing) and the request it satisfied; only what applies.
 */
function confirmed(
  undone: readonly unknown[],
  missing: readonly string[],
  requestId: string | null | undefined,
  evidence?: ReleaseEvidence,
) {
  return {
    ...(undone.length > 0 ? { confirmedHotfixUndo: undone } : {}),
    ...(missing.length > 0 ? { confirmedMissingSecrets: missing } : {}),
    ...(requestId ? { requestId } : {}),
    ...(evidence ? { evidence } : {}),
  };
}

/**
 * What the caller saw in the source (absent: not checked) must be what would move: else a
 * stale board would promote content nobody reviewed.
 */
export function requireSourceSeen(
  source: { name: string },
  expected: string | undefined,
  actual: string | null,
): void {
  if (expected !== undefined && expected !== actual) {
    throw new AppError(
      'source_moved',
      `${source.name} changed since you looked: what would move is not what you saw. Reload and review it again.`,
      { expected },
    );
  }
}

export function createReleases(deps: {
  projects: ProjectStore;
  store: ReleaseStore;
  snapshots: Snapshots;
  hotfixes: HotfixGuard;
  gates: GateCheck;
  audiences: AudienceGuard;
  composition: Pick<Composition, 'candidate' | 'candidateId'>;
  secrets: SecretsGuard;
  freeze: FreezeGuard;
  /** The project event log (inside each move's transaction). */
  emit: Emit;
  /** A move and what stands or falls with it, as one transaction (PG-11). */
  atomically: Atomically;
}) {
  const { projects, store, snapshots } = deps;
  /** The event of a move, inside its transaction: the stage whose pointer moved. */
  const moved = async (kind: 'sync' | 'publish' | 'rollback', by: Principal, row: ReleaseRow) =>
    await deps.emit({
      projectId: row.projectId,
      environmentId: row.environmentId,
      kind,
      actorId: by.user.id,
      subject: { releaseId: row.seq },
    });

  /** Refuses (`checks_failed`/`checks_pending`) a move whose target requires checks that did not pass. */
  async function requireChecks(targetEnvId: string, snapshotId: string): Promise<void> {
    await deps.gates.evidence(targetEnvId, snapshotId, null);
  }

  async function pipeline(env: EnvironmentRow): Promise<EnvironmentRow[]> {
    return (await projects.getProject(env.projectId))!.environments;
  }

  /** Refuses a move into production that would undo a live hotfix, unless confirmed. */
  async function guardHotfix(
    projectId: string,
    content: () => Promise<WorkspaceContent>,
    confirmed: boolean,
  ) {
    const undone = await deps.hotfixes.undoneBy(projectId, content);
    if (undone.length > 0 && !confirmed) {
      const changes = undone.flatMap((u) => u.changes);
      throw new AppError(
        'would_undo_hotfix',
        `This would undo ${changes.length} hotfix change${changes.length === 1 ? '' : 's'} in production. Confirm to go ahead, or apply the hotfix to DEV first.`,
        changes,
      );
    }
    return undone;
  }

  /**
   * Refuses to put content into production (its current, or live) that names secrets production
   * lacks, unless confirmed: its integrations would fail on the first call. Names only, never values.
   */
  async function guardSecrets(
    target: EnvironmentRow,
    snapshotId: string,
    confirmed: boolean,
  ): Promise<string[]> {
    const missing = await deps.secrets.missingFor(target.id, snapshotId);
    if (missing.length > 0 && !confirmed) {
      throw new AppError(
        'secrets_missing',
        `${target.name} lacks ${missing.length} secret${missing.length === 1 ? '' : 's'} this content's integrations use (${missing.join(', ')}): add ${missing.length === 1 ? 'it' : 'them'} in ${target.name}'s secrets first, or confirm going ahead without ${missing.length === 1 ? 'it' : 'them'}.`,
        { environmentId: target.id, missing },
      );
    }
    return missing;
  }

  return {
    /**
     * What a scheduled Sync binds to (SCHED-1): the snapshot it would move now (out of the
     * authoring stage frozen now, so it is exactly what was reviewed) and what the target holds.
     * Nothing is checked that its time re-checks; a stale caller or nothing to move is refused now.
     */
    async planSync(
      by: Principal,
      envId: string,
      opts: {
        expectedSourceSnapshotId?: string;
        expectedTargetSnapshotId?: string | null;
        message?: string;
      },
    ): Promise<{ projectId: string; snapshotId: string; targetSnapshotId: string | null }> {
      const { environment: env, draft } = await requireEnvironment(projects, envId);
      const target = (await pipeline(env)).find((e) => e.position === env.position + 1);
      if (!target) throw new AppError('no_next_environment');
      if (isAuthoring(env) && !draft) throw new AppError('draft_not_found');
      const { snapshotId: candidate, content } = await deps.composition.candidate(env.id);
      if (!candidate) throw new AppError('nothing_to_sync');
      requireSourceSeen(env, opts.expectedSourceSnapshotId, candidate);
      if (
        opts.expectedTargetSnapshotId !== undefined &&
        opts.expectedTargetSnapshotId !== target.snapshotId
      ) {
        throw new AppError('target_moved', undefined, {
          expected: opts.expectedTargetSnapshotId,
          actual: target.snapshotId,
        });
      }
      let snapshotId = candidate;
      if (content && draft) {
        snapshotId = await snapshots.freeze(env.projectId, content, {
          kind: 'freeze',
          parentId: target.snapshotId,
          sourceDraftId: draft.id,
          message: opts.message ?? null,
          createdBy: by.user.id,
        });
        deps.audiences.noteSnapshot(snapshotId, content);
      }
      if (target.snapshotId === snapshotId) throw new AppError('nothing_to_sync');
      return { projectId: env.projectId, snapshotId, targetSnapshotId: target.snapshotId };
    },

    /** What a scheduled Publish binds to (SCHED-1): production's synced snapshot and its live one. */
    async planPublish(
      envId: string,
      opts: { expectedSourceSnapshotId?: string; expectedLiveSnapshotId?: string | null },
    ): Promise<{ projectId: string; snapshotId: string; targetSnapshotId: string | null }> {
      const env = (await requireEnvironment(projects, envId)).environment;
      if (!isProduction(env, { environments: await pipeline(env) }))
        throw new AppError('not_production');
      if (!env.snapshotId) throw new AppError('nothing_to_publish');
      requireSourceSeen(env, opts.expectedSourceSnapshotId, env.snapshotId);
      if (
        opts.expectedLiveSnapshotId !== undefined &&
        opts.expectedLiveSnapshotId !== env.liveSnapshotId
      ) {
        throw new AppError('target_moved', undefined, {
          expected: opts.expectedLiveSnapshotId,
          actual: env.liveSnapshotId,
        });
      }
      return {
        projectId: env.projectId,
        snapshotId: env.snapshotId,
        targetSnapshotId: env.liveSnapshotId,
      };
    },

    /** The snapshot a Sync out of the environment would move (see composition.ts; nothing stored). */
    candidate: async (envId: string): Promise<string | null> =>
      await deps.composition.candidateId(envId),

    /**
     * Sync: promotes to the next environment. Plan (freeze or pick the current snapshot,
     * check hotfixes) happens first; the commit re-checks and writes pointer + record in one
     * synchronous transaction.
     */
    async sync(
      by: Principal,
      envId: string,
      opts: {
        expectedSourceSnapshotId?: string;
        expectedTargetSnapshotId?: string | null;
        message?: string;
        confirmUndoHotfix?: boolean;
        confirmMissingSecrets?: boolean;
        /** A scheduled Sync out of the authoring stage: the snapshot frozen when it was scheduled. */
        pinnedSnapshotId?: string;
        /** A scheduled release running: recorded as `detail.scheduledId`. */
        scheduledId?: string;
      },
    ): Promise<SyncResult> {
      const { environment: env, draft } = await requireEnvironment(projects, envId);
      const all = await pipeline(env);
      const target = all.find((e) => e.position === env.position + 1);
      if (!target) throw new AppError('no_next_environment');
      const authoring = isAuthoring(env);
      // Inside a freeze window of the target nothing moves in (SCHED-5).
      await deps.freeze.requireOpen(target);

      if (authoring && !draft) throw new AppError('draft_not_found');
      // What moves is what requests were made for and approvals bound to: the one candidate
      // (a scheduled Sync out of the authoring stage: what was frozen and reviewed then).
      const { snapshotId: candidate, content } =
        opts.pinnedSnapshotId !== undefined && authoring
          ? { snapshotId: opts.pinnedSnapshotId, content: null }
          : await deps.composition.candidate(env.id);
      if (!candidate) throw new AppError('nothing_to_sync');
      let snapshotId = candidate;
      // Checked before anything is frozen: a stale caller moves nothing.
      requireSourceSeen(env, opts.expectedSourceSnapshotId, snapshotId);
      if (
        opts.expectedTargetSnapshotId !== undefined &&
        opts.expectedTargetSnapshotId !== target.snapshotId
      ) {
        throw new AppError('target_moved', undefined, {
          expected: opts.expectedTargetSnapshotId,
          actual: target.snapshotId,
        });
      }
      if (content && draft) {
        snapshotId = await snapshots.freeze(env.projectId, content, {
          kind: 'freeze',
          parentId: target.snapshotId,
          sourceDraftId: draft.id,
          message: opts.message ?? null,
          createdBy: by.user.id,
        });
        deps.audiences.noteSnapshot(snapshotId, content);
      }
      if (target.snapshotId === snapshotId)
        return { snapshotId, targetEnvironmentId: target.id, unchanged: true, release: null };
      await deps.audiences.requireFor(target.id, env.projectId, snapshotId);
      const intoProduction = isProduction(target, { environments: all });
      const undone = intoProduction
        ? await guardHotfix(
            env.projectId,
            async () => await snapshots.content(env.projectId, snapshotId),
            opts.confirmUndoHotfix === true,
          )
        : [];
      const missing = intoProduction
        ? await guardSecrets(target, snapshotId, opts.confirmMissingSecrets === true)
        : [];
      // The gate last: a refusal above leaves the approved request as it is, for the confirmed retry.
      // Required checks first (they say whether the content is good), then the approvals.
      await requireChecks(target.id, snapshotId);
      const requestId = await deps.gates.check(env.id, target.id, snapshotId);
      const evidence = await deps.gates.evidence(target.id, snapshotId, requestId);

      const release = await deps.atomically(async () => {
        const alongside = async (row: ReleaseRow) => {
          await deps.gates.settle({
            requestId,
            sourceEnvId: env.id,
            targetEnvId: target.id,
            movedTo: snapshotId,
          });
          await moved('sync', by, row);
        };
        const row = await store.commitMove(
          {
            projectId: env.projectId,
            environmentId: target.id,
            pointer: 'current',
            kind: 'sync',
            toSnapshotId: snapshotId,
            ...(opts.expectedTargetSnapshotId !== undefined
              ? { expectedFrom: opts.expectedTargetSnapshotId }
              : {}),
            ...(authoring
              ? {}
              : { source: { environmentId: env.id, pointer: 'current' as const } }),
            actorId: by.user.id,
            message: opts.message ?? null,
            detail: {
              ...confirmed(undone, missing, requestId, evidence),
              ...(opts.scheduledId ? { scheduledId: opts.scheduledId } : {}),
            },
          },
          Date.now(),
        );
        await alongside(row);
        return row;
      });
      return {
        snapshotId,
        targetEnvironmentId: target.id,
        unchanged: false,
        release: releaseView(release),
      };
    },

    /** Publish (go-live): production's live pointer takes its synced snapshot. */
    async publish(
      by: Principal,
      envId: string,
      opts: {
        expectedSourceSnapshotId?: string;
        expectedLiveSnapshotId?: string | null;
        message?: string;
        confirmUndoHotfix?: boolean;
        confirmMissingSecrets?: boolean;
        /** A scheduled release running: recorded as `detail.scheduledId`. */
        scheduledId?: string;
      },
    ): Promise<ReleaseView> {
      const env = (await requireEnvironment(projects, envId)).environment;
      const all = await pipeline(env);
      if (!isProduction(env, { environments: all })) throw new AppError('not_production');
      await deps.freeze.requireOpen(env);
      if (!env.snapshotId) throw new AppError('nothing_to_publish');
      // What goes live is what the caller reviewed: a Sync into production meanwhile refuses it.
      requireSourceSeen(env, opts.expectedSourceSnapshotId, env.snapshotId);
      await deps.audiences.requireFor(env.id, env.projectId, env.snapshotId);
      const undone = await guardHotfix(
        env.projectId,
        async () => await snapshots.content(env.projectId, env.snapshotId!),
        opts.confirmUndoHotfix === true,
      );
      const missing = await guardSecrets(env, env.snapshotId, opts.confirmMissingSecrets === true);
      await requireChecks(env.id, env.snapshotId);
      const requestId = await deps.gates.check(env.id, env.id, env.snapshotId);
      const evidence = await deps.gates.evidence(env.id, env.snapshotId, requestId);
      const release = await deps.atomically(async () => {
        // The live pointer moved, not production's current: no request out of production loses its snapshot.
        const alongside = async (row: ReleaseRow) => {
          await deps.gates.settle({ requestId, sourceEnvId: env.id, targetEnvId: env.id });
          await moved('publish', by, row);
        };
        const row = await store.commitMove(
          {
            projectId: env.projectId,
            environmentId: env.id,
            pointer: 'live',
            kind: 'publish',
            toSnapshotId: env.snapshotId!,
            ...(opts.expectedLiveSnapshotId !== undefined
              ? { expectedFrom: opts.expectedLiveSnapshotId }
              : {}),
            source: { environmentId: env.id, pointer: 'current' },
            actorId: by.user.id,
            message: opts.message ?? null,
            detail: {
              ...confirmed(undone, missing, requestId, evidence),
              ...(opts.scheduledId ? { scheduledId: opts.scheduledId } : {}),
            },
          },
          Date.now(),
        );
        await alongside(row);
        return row;
      });
      await deps.hotfixes.markOverridden(undone.map((u) => u.hotfixId));
      return releaseView(release);
    },

    /** Points an environment (production: its live pointer by default) back at a snapshot from its own history. */
    async rollback(
      by: Principal,
      envId: string,
      opts: {
        snapshotId: string;
        pointer?: Pointer;
        message?: string;
        confirmUndoHotfix?: boolean;
      },
    ): Promise<ReleaseView> {
      const env = (await requireEnvironment(projects, envId)).environment;
      const all = await pipeline(env);
      const production = isProduction(env, { environments: all });
      if (isAuthoring(env))
        throw new AppError(
          'read_only_environment',
          'The authoring environment has a draft, not a pointer: restore content by editing it.',
        );
      const pointer: Pointer = opts.pointer ?? (production ? 'live' : 'current');
      if (pointer === 'live' && !production) throw new AppError('not_production');
      if (!(await store.wasEverAt(env.id, pointer, opts.snapshotId)))
        throw new AppError('not_in_history');
      await deps.audiences.requireFor(env.id, env.projectId, opts.snapshotId);
      const undone =
        pointer === 'live'
          ? await guardHotfix(
              env.projectId,
              async () => await snapshots.content(env.projectId, opts.snapshotId),
              opts.confirmUndoHotfix === true,
            )
          : [];
      const release = await deps.atomically(async () => {
        const alongside = async (row: ReleaseRow) => {
          if (pointer === 'current') await deps.gates.sourceMoved(env.id, opts.snapshotId);
          await moved('rollback', by, row);
        };
        const row = await store.commitMove(
          {
            projectId: env.projectId,
            environmentId: env.id,
            pointer,
            kind: 'rollback',
            toSnapshotId: opts.snapshotId,
            actorId: by.user.id,
            message: opts.message ?? null,
            detail: undone.length > 0 ? { confirmedHotfixUndo: undone } : undefined,
          },
          Date.now(),
        );
        await alongside(row);
        return row;
      });
      await deps.hotfixes.markOverridden(undone.map((u) => u.hotfixId));
      return releaseView(release);
    },

    /** A page of the project's release chain after `after`, oldest first (VH-1); the caller authorized it. */
    async chain(projectId: string, after: number, limit: number): Promise<ReleaseChainPage> {
      const rows = await store.chain(projectId, after, limit + 1);
      const records = rows.slice(0, limit).map(chainRecord);
      return { records, next: rows.length > limit ? records.at(-1)!.seq : null };
    },

    async history(envId: string): Promise<ReleaseView[]> {
      await requireEnvironment(projects, envId);
      return (await store.history(envId)).map(releaseView);
    },

    /** `limit` of an environment's records before the record `before` (a seq; null: the newest), newest first (VH-4). */
    async historyPage(envId: string, before: number | null, limit: number): Promise<ReleaseView[]> {
      await requireEnvironment(projects, envId);
      return (await store.historyPage(envId, before, limit)).map(releaseView);
    },
  };
}

export type Releases = ReturnType<typeof createReleases>;
