import { AppError } from '#schema/errors.ts';
import type { FreezeView, ScheduledView } from '#schema/api.ts';
import type { ScheduledRow, ScheduleStore } from '../store/schedule.ts';
import type { Principal } from './accounts.ts';
import type { Releases, FreezeGuard } from './releases.ts';
import type { Atomically, Emit } from './events.ts';
import { newId } from './ids.ts';
import type { JobHandler, JobSink } from '../cluster/jobs.ts';

/** How far ahead a release may be scheduled (SCHED-1). */
export const SCHEDULE_MAX_AHEAD_MS = 90 * 24 * 60 * 60 * 1000;
/** Pending scheduled releases one environment may hold. */
export const SCHEDULED_PER_ENVIRONMENT = 50;
/** The job that runs a scheduled release at its time (PG-122); keyed by the scheduled id. */
export const SCHEDULED_JOB = 'release.scheduled';

export const scheduledView = (r: ScheduledRow): ScheduledView => ({
  id: r.id,
  environmentId: r.environmentId,
  kind: r.kind,
  snapshotId: r.snapshotId,
  at: new Date(r.at).toISOString(),
  createdBy: r.createdBy,
  state: r.state,
  error: r.errorId ? { id: r.errorId, message: r.errorMessage ?? '' } : null,
  releaseSeq: r.releaseSeq,
});

/**
 * The time of a scheduled move: in the future and at most 90 days ahead, else `400 invalid_body`.
 */
export function scheduleTime(at: string, now: number): number {
  const t = Date.parse(at);
  if (!Number.isFinite(t) || t <= now)
    throw new AppError('invalid_body', 'Schedule it for a time in the future.');
  if (t - now > SCHEDULE_MAX_AHEAD_MS)
    throw new AppError('invalid_body', 'Schedule it at most 90 days ahead.');
  return t;
}

/** Freeze windows (SCHED-5): `requireOpen` throws `409 frozen` inside one. */
export function createFreeze(store: ScheduleStore, now: () => number = Date.now) {
  const guard: FreezeGuard = {
    async requireOpen(env) {
      const t = now();
      const w = (await store.freeze(env.id)).find((x) => x.from <= t && t < x.to);
      if (!w) return;
      throw new AppError(
        'frozen',
        `${env.name} is frozen until ${new Date(w.to).toISOString()}${w.reason ? ` (${w.reason})` : ''}: nothing moved.`,
        { until: new Date(w.to).toISOString(), reason: w.reason },
      );
    },
  };
  return {
    ...guard,
    async get(envId: string): Promise<FreezeView> {
      return {
        windows: (await store.freeze(envId)).map((w) => ({
          from: new Date(w.from).toISOString(),
          to: new Date(w.to).toISOString(),
          reason: w.reason,
        })),
      };
    },
    async put(
      by: Principal,
      envId: string,
      windows: readonly { from: string; to: string; reason?: string | undefined }[],
    ): Promise<FreezeView> {
      const rows = windows
        .map((w) => ({ from: Date.parse(w.from), to: Date.parse(w.to), reason: w.reason || null }))
        .sort((a, b) => a.from - b.from);
      await store.putFreeze(envId, rows, by.user.id, now());
      return await this.get(envId);
    },
  };
}
export type Freeze = ReturnType<typeof createFreeze>;

/**
 * Scheduled releases (SCHED): stored bound to a snapshot and to what the target held; at their
 * time run through the same code path as an interactive move, claimed in the move's transaction
 * (so once, across restarts and processes), or marked failed with a `schedule` event. Each one's
 * time is a durable job (PG-122), enqueued with the row.
 */
export function createSchedule(deps: {
  store: ScheduleStore;
  releases: Releases;
  atomically: Atomically;
  emit: Emit;
  /** The scheduler's user as a principal at its time; null when the account is gone. */
  principalOf: (userId: string) => Promise<Principal | null>;
  /** Re-checks the scheduler may still make the move (throws like the route would). */
  authorize: (p: Principal, kind: 'sync' | 'publish', envId: string) => Promise<void>;
  log: (msg: string, err?: unknown) => void;
  jobs: JobSink;
  now?: () => number;
}) {
  const { store } = deps;
  const now = deps.now ?? Date.now;

  const announce = async (r: ScheduledRow, state: string, errorId?: string) =>
    await deps.emit({
      projectId: r.projectId,
      environmentId: r.environmentId,
      kind: 'schedule',
      actorId: r.createdBy,
      subject: { scheduledId: r.id, state, ...(errorId ? { errorId } : {}) },
    });

  /** Runs one due release: moves and marks it done in one transaction, or marks it failed. */
  async function run(r: ScheduledRow): Promise<void> {
    try {
      await deps.atomically(async () => {
        // The claim first: if another process (or an earlier run) finished it, nothing happens.
        if (!(await store.finish(r.id, { state: 'done' }, now()))) return;
        const by = await deps.principalOf(r.createdBy);
        if (!by) throw new AppError('forbidden', 'The person who scheduled it no longer exists.');
        await deps.authorize(by, r.kind, r.environmentId);
        const common = {
          scheduledId: r.id,
          expectedSourceSnapshotId: r.snapshotId,
          ...(r.message ? { message: r.message } : {}),
          confirmMissingSecrets: r.confirmMissingSecrets,
          confirmUndoHotfix: r.confirmUndoHotfix,
        };
        const release =
          r.kind === 'publish'
            ? await deps.releases.publish(by, r.environmentId, {
                ...common,
                expectedLiveSnapshotId: r.expectedTargetSnapshotId,
              })
            : (
                await deps.releases.sync(by, r.environmentId, {
                  ...common,
                  expectedTargetSnapshotId: r.expectedTargetSnapshotId,
                  pinnedSnapshotId: r.snapshotId,
                })
              ).release;
        await store.setReleaseSeq(r.id, release?.seq ?? null);
      });
    } catch (err) {
      const e =
        err instanceof AppError
          ? err
          : new AppError('internal', 'The scheduled release failed unexpectedly.');
      if (!(err instanceof AppError)) deps.log(`scheduled release ${r.id} failed`, err);
      await deps.atomically(async () => {
        if (
          await store.finish(
            r.id,
            { state: 'failed', errorId: e.id, errorMessage: e.message },
            now(),
          )
        )
          await announce(r, 'failed', e.id);
      });
    }
  }

  /**
   * The job of one scheduled release (PG-122): a cancelled or finished one does nothing, and `run`
   * claims the row in the move's transaction, so a rerun after a crash moves nothing twice.
   */
  const job: JobHandler = {
    async run({ key }) {
      const r = await store.get(key);
      if (r?.state === 'pending') await run(r);
    },
  };

  return {
    job,

    /** Stores a pending release bound to what would move now (SCHED-1). */
    async schedule(
      by: Principal,
      envId: string,
      kind: 'sync' | 'publish',
      body: {
        at: string;
        expectedSourceSnapshotId?: string;
        expectedTargetSnapshotId?: string | null;
        expectedLiveSnapshotId?: string | null;
        message?: string;
        confirmMissingSecrets?: boolean;
        confirmUndoHotfix?: boolean;
      },
    ): Promise<ScheduledView> {
      const at = scheduleTime(body.at, now());
      const row = await deps.atomically(async () => {
        if ((await store.pendingCount(envId)) >= SCHEDULED_PER_ENVIRONMENT)
          throw new AppError('too_many_scheduled');
        const plan =
          kind === 'publish'
            ? await deps.releases.planPublish(envId, {
                ...(body.expectedSourceSnapshotId !== undefined
                  ? { expectedSourceSnapshotId: body.expectedSourceSnapshotId }
                  : {}),
                ...(body.expectedLiveSnapshotId !== undefined
                  ? { expectedLiveSnapshotId: body.expectedLiveSnapshotId }
                  : {}),
              })
            : await deps.releases.planSync(by, envId, {
                ...(body.expectedSourceSnapshotId !== undefined
                  ? { expectedSourceSnapshotId: body.expectedSourceSnapshotId }
                  : {}),
                ...(body.expectedTargetSnapshotId !== undefined
                  ? { expectedTargetSnapshotId: body.expectedTargetSnapshotId }
                  : {}),
                ...(body.message !== undefined ? { message: body.message } : {}),
              });
        const r: ScheduledRow = {
          id: newId('sch'),
          projectId: plan.projectId,
          environmentId: envId,
          kind,
          snapshotId: plan.snapshotId,
          expectedTargetSnapshotId: plan.targetSnapshotId,
          at,
          createdBy: by.user.id,
          message: body.message ?? null,
          confirmMissingSecrets: body.confirmMissingSecrets === true,
          confirmUndoHotfix: body.confirmUndoHotfix === true,
          state: 'pending',
          errorId: null,
          errorMessage: null,
          releaseSeq: null,
          createdAt: now(),
          finishedAt: null,
        };
        await store.insert(r);
        await deps.jobs.enqueue(SCHEDULED_JOB, r.id, null, at);
        await announce(r, 'pending');
        return r;
      });
      return scheduledView(row);
    },

    async pending(envId: string): Promise<ScheduledView[]> {
      return (await store.pending(envId)).map(scheduledView);
    },

    /** The row of a scheduled release (any state), or `scheduled_not_found`. */
    async get(id: string): Promise<ScheduledRow> {
      const r = await store.get(id);
      if (!r) throw new AppError('scheduled_not_found');
      return r;
    },

    /** Cancels a pending one; one that already ran or was cancelled is not found. */
    async cancel(id: string): Promise<void> {
      await deps.atomically(async () => {
        const r = await this.get(id);
        if (!(await store.finish(id, { state: 'cancelled' }, now())))
          throw new AppError('scheduled_not_found');
        await announce(r, 'cancelled');
      });
    },
  };
}
export type Schedule = ReturnType<typeof createSchedule>;
