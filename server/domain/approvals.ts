import { AppError } from '#schema/errors.ts';
import type { CheckView, ChecksView, GateView, ReleaseEvidence, RequestView } from '#schema/api.ts';
import type { CheckRow, GateStore, RequestRow } from '../store/gates.ts';
import type { AuditStore } from '../store/audit.ts';
import type { ProjectStore, EnvironmentRow, DraftRow } from '../store/projects.ts';
import type { Principal } from './accounts.ts';
import { announcer, type Atomically, type Emit } from './events.ts';
import { requireSourceSeen } from './releases.ts';
import type { Drafts } from './ports.ts';
import type { Composition } from './composition.ts';
import type { Snapshots } from './snapshots.ts';
import { newId } from './ids.ts';
import { LIMITS, requireBelow, requireRate } from './limits.ts';
import { HOUR, MINUTE } from '../lib/time.ts';
import { requireEnvironment } from './require.ts';
import { isAuthoring } from '#schema/pipeline.ts';
import { mapInOrder } from '../lib/in-order.ts';

const DEFAULT_GATE: GateView = {
  requiredApprovals: 0,
  allowSelfApproval: false,
  requiredChecks: [],
};

const checkView = (r: CheckRow): CheckView => ({
  name: r.name,
  state: r.state as CheckView['state'],
  url: r.url,
  summary: r.summary,
  reportedBy: r.reportedBy,
  reportedAt: new Date(r.reportedAt).toISOString(),
});

type RequestKind = RequestView['kind'];

/**
 * Four eyes: a gate on an environment asks for N approvals of a Sync INTO it (a Publish, in
 * production). A request names the exact snapshot; approvals bind to it and are void once
 * the source moves on.
 */
export function createApprovals(deps: {
  store: GateStore & AuditStore;
  projects: ProjectStore;
  snapshots: Snapshots;
  drafts: Pick<Drafts, 'read'>;
  hotfixDraft: (envId: string) => Promise<DraftRow | undefined>;
  composition: Pick<Composition, 'candidate' | 'candidateId'>;
  /** The project event log: `gates`, `request` and `request.decided` events, in each change's transaction. */
  emit: Emit;
  atomically: Atomically;
}) {
  const { store, projects, snapshots } = deps;
  const announce = announcer(deps.atomically, deps.emit);

  /** Closes an open request and says so (`request.decided`). */
  async function close(
    r: RequestRow,
    state: 'done' | 'rejected' | 'voided',
    reason: string,
    now: number,
    actorId: string | null = null,
  ): Promise<void> {
    await store.closeRequest(r.id, state, reason, now);
    await decided(r, state, actorId);
  }
  async function decided(
    r: RequestRow,
    decision: 'approved' | 'rejected' | 'voided' | 'done',
    actorId: string | null,
  ): Promise<void> {
    await deps.emit({
      projectId: r.projectId,
      environmentId: r.targetEnvironmentId,
      kind: 'request.decided',
      actorId,
      subject: { requestId: r.id, decision },
    });
  }
  /** Voids requests out of `envId` for another snapshot than `except`, saying so for each. */
  async function voidFrom(envId: string, except: string | null, now: number): Promise<void> {
    for (const id of await store.voidRequestsFrom(envId, except, now)) {
      const r = await store.request(id);
      if (r) await decided(r, 'voided', null);
    }
  }

  const gate = async (envId: string): Promise<GateView> => {
    const g = await store.gate(envId);
    return g
      ? {
          requiredApprovals: g.requiredApprovals,
          allowSelfApproval: g.allowSelfApproval,
          requiredChecks: JSON.parse(g.requiredChecks) as string[],
        }
      : DEFAULT_GATE;
  };

  /**
   * A snapshot checks may be reported for on `e`: one the project stores, or what the stage before
   * would move now (the authoring stage's candidate is frozen only by the Sync); else `snapshot_not_found`.
   */
  async function requireKnown(e: EnvironmentRow, snapshotId: string): Promise<void> {
    if (await snapshots.exists(e.projectId, snapshotId)) return;
    const before = (await projects.getProject(e.projectId))!.environments.find(
      (x) => x.position === e.position - 1,
    );
    if (before && (await deps.composition.candidateId(before.id)) === snapshotId) return;
    throw new AppError('snapshot_not_found');
  }

  /** Check reports per environment in the last minute (in memory, like the sign-in counters). */
  const reportTimes = new Map<string, number[]>();

  async function env(id: string): Promise<EnvironmentRow> {
    return (await requireEnvironment(projects, id)).environment;
  }

  /**
   * What the source would move now: the stage's candidate (composition.ts: what a Sync or Publish
   * out of it moves); for a hotfix request, production's open hotfix as it would freeze.
   */
  async function sourceSnapshot(source: EnvironmentRow, kind: RequestKind): Promise<string | null> {
    if (kind === 'hotfix') {
      const hotfix = await deps.hotfixDraft(source.id);
      return hotfix ? snapshots.idOf(await deps.drafts.read(hotfix.id)) : null;
    }
    return await deps.composition.candidateId(source.id);
  }

  async function view(
    r: RequestRow,
    currentOfSource: () => Promise<string | null>,
  ): Promise<RequestView> {
    const required = (await gate(r.targetEnvironmentId)).requiredApprovals;
    const approvals = (await store.approvals([r.id])).map((a) => ({
      userId: a.userId,
      decision: a.decision as 'approve' | 'reject',
      comment: a.comment,
      createdAt: new Date(a.createdAt).toISOString(),
    }));
    const valid = r.state === 'open' && (await currentOfSource()) === r.snapshotId;
    return {
      id: r.id,
      kind: r.kind as RequestKind,
      sourceEnvironmentId: r.sourceEnvironmentId,
      targetEnvironmentId: r.targetEnvironmentId,
      snapshotId: r.snapshotId,
      message: r.message,
      requestedBy: r.requestedBy,
      createdAt: new Date(r.createdAt).toISOString(),
      state: r.state,
      required,
      approvals,
      valid,
      approved: valid && approvals.filter((a) => a.decision === 'approve').length >= required,
    };
  }

  async function target(
    source: EnvironmentRow,
  ): Promise<{ target: EnvironmentRow; kind: RequestKind }> {
    const all = (await projects.getProject(source.projectId))!.environments;
    const next = all.find((e) => e.position === source.position + 1);
    return next ? { target: next, kind: 'sync' } : { target: source, kind: 'publish' };
  }

  return {
    gate,

    async setGate(by: Principal, envId: string, policy: GateView): Promise<GateView> {
      const e = await env(envId);
      await announce(
        async () => {
          await store.putGate({
            environmentId: envId,
            requiredApprovals: policy.requiredApprovals,
            allowSelfApproval: policy.allowSelfApproval,
            requiredChecks: JSON.stringify(policy.requiredChecks),
            updatedBy: by.user.id,
            updatedAt: Date.now(),
          });
          await store.audit(
            {
              projectId: e.projectId,
              environmentId: envId,
              kind: 'gate.changed',
              actorId: by.user.id,
              subject: policy,
            },
            Date.now(),
          );
        },
        () => ({
          projectId: e.projectId,
          environmentId: envId,
          kind: 'gates',
          actorId: by.user.id,
        }),
      );
      return policy;
    },

    /**
     * A CI job's report of one check, on the environment the snapshot would move into: the
     * latest report per (environment, snapshot, name) wins. The snapshot must be this project's:
     * stored, or what the stage before would move now (the authoring stage's candidate is frozen
     * only by the Sync). Bounded: names per snapshot, reports per minute per environment.
     */
    async reportCheck(
      by: Principal,
      envId: string,
      report: {
        snapshotId: string;
        name: string;
        state: CheckView['state'];
        url?: string;
        summary?: string;
      },
    ): Promise<CheckView> {
      const e = await env(envId);
      await requireKnown(e, report.snapshotId);
      const now = Date.now();
      const times = (reportTimes.get(e.id) ?? []).filter((t) => now - t < MINUTE);
      const perMinute = LIMITS.CHECK_REPORTS_PER_ENVIRONMENT_PER_MINUTE;
      requireRate(
        'CHECK_REPORTS_PER_ENVIRONMENT_PER_MINUTE',
        perMinute,
        times,
        MINUTE,
        now,
        `At most ${perMinute} check reports a minute on ${e.name}: wait, then report again.`,
      );
      // Counted before any await: reports racing in this process cannot pass the rate together.
      times.push(now);
      reportTimes.set(e.id, times);
      const row: CheckRow = {
        environmentId: e.id,
        snapshotId: report.snapshotId,
        name: report.name,
        state: report.state,
        url: report.url ?? null,
        summary: report.summary ?? null,
        reportedBy: by.user.id,
        reportedAt: now,
      };
      // Counted in the write's transaction: racing new names cannot pass the bound together (PG-136).
      await deps.atomically(async () => {
        const existing = await store.checks(e.id, report.snapshotId);
        if (!existing.some((c) => c.name === report.name)) {
          const max = LIMITS.MAX_CHECKS_PER_SNAPSHOT;
          requireBelow(
            'MAX_CHECKS_PER_SNAPSHOT',
            max,
            existing.length,
            `At most ${max} checks per snapshot on ${e.name}.`,
          );
        }
        await store.putCheck(row);
      });
      return checkView(row);
    },

    /**
     * Whether `snapshotId` is what the stage before `envId` would move now, that stage being one
     * of `readable` (its candidate is stored only at the Sync, so the snapshot store cannot say).
     */
    async isCandidateInto(
      envId: string,
      snapshotId: string,
      readable: ReadonlySet<string>,
    ): Promise<boolean> {
      const e = await env(envId);
      const before = (await projects.getProject(e.projectId))!.environments.find(
        (x) => x.position === e.position - 1,
      );
      return (
        !!before &&
        readable.has(before.id) &&
        (await deps.composition.candidateId(before.id)) === snapshotId
      );
    },

    /** The checks reported on an environment for one snapshot, and what its gate requires. */
    async checks(envId: string, snapshotId: string): Promise<ChecksView> {
      const e = await env(envId);
      await requireKnown(e, snapshotId);
      return {
        snapshotId,
        required: (await gate(e.id)).requiredChecks,
        checks: (await store.checks(e.id, snapshotId)).map(checkView),
      };
    },

    /**
     * Called by Sync/Publish before the approvals (see GateCheck.evidence): throws `checks_failed`
     * or `checks_pending` unless every check the target's gate requires reported `success` for
     * exactly this snapshot; returns what allowed the move (checks, and the approvals of
     * `requestId`), or undefined when the target has no gate.
     */
    async evidence(
      targetEnvId: string,
      snapshotId: string,
      requestId: string | null,
    ): Promise<ReleaseEvidence | undefined> {
      const g = await gate(targetEnvId);
      if (g.requiredApprovals === 0 && g.requiredChecks.length === 0) return undefined;
      const reported = new Map(
        (await store.checks(targetEnvId, snapshotId)).map((c) => [c.name, c]),
      );
      const states = g.requiredChecks.map((name) => ({
        name,
        state: reported.get(name)?.state ?? 'missing',
      }));
      if (states.some((c) => c.state === 'failure'))
        throw new AppError('checks_failed', undefined, { checks: states });
      if (states.some((c) => c.state !== 'success'))
        throw new AppError('checks_pending', undefined, { checks: states });
      return {
        checks: g.requiredChecks.map((name) => {
          const c = reported.get(name)!;
          return {
            name,
            state: 'success' as const,
            url: c.url,
            reportedAt: new Date(c.reportedAt).toISOString(),
          };
        }),
        approvals: requestId
          ? (await store.approvals([requestId]))
              .filter((a) => a.decision === 'approve')
              .map((a) => ({ userId: a.userId, approvedAt: new Date(a.createdAt).toISOString() }))
          : [],
      };
    },

    /**
     * Asks for the move out of `sourceEnvId` (a Sync; from production, a Publish) of exactly what
     * it holds now; with `hotfix`, for publishing production's open hotfix as it is now.
     */
    async request(
      by: Principal,
      sourceEnvId: string,
      message: string | null,
      opts: { hotfix?: boolean; expectedSourceSnapshotId?: string } = {},
    ): Promise<RequestView> {
      const source = await env(sourceEnvId);
      const { target: t, kind: moveKind } = await target(source);
      if (opts.hotfix && moveKind !== 'publish') throw new AppError('not_production');
      const hotfix = opts.hotfix ? await deps.hotfixDraft(source.id) : undefined;
      if (opts.hotfix && !hotfix) throw new AppError('no_hotfix');
      const kind: RequestKind = hotfix ? 'hotfix' : moveKind;
      // Each request may freeze a snapshot: bounded before anything is frozen.
      const now = Date.now();
      const perHour = LIMITS.APPROVAL_REQUESTS_PER_ENVIRONMENT_PER_HOUR;
      const withinRate = async () =>
        requireRate(
          'APPROVAL_REQUESTS_PER_ENVIRONMENT_PER_HOUR',
          perHour,
          await store.requestTimesFrom(source.id, now - HOUR),
          HOUR,
          now,
          `At most ${perHour} requests an hour leave ${source.name}: wait, then request again.`,
        );
      await withinRate();
      // Bound to what a Sync out of the source would move (from the authoring stage: its draft as a
      // Sync freezes it, `up` sections only), so the approval matches that Sync.
      const candidate = hotfix ? null : await deps.composition.candidate(source.id);
      // Checked before anything is frozen: a request from a stale board asks for nothing.
      if (candidate) requireSourceSeen(source, opts.expectedSourceSnapshotId, candidate.snapshotId);
      const draftId = isAuthoring(source)
        ? ((await projects.getEnvironment(source.id))?.draft?.id ?? null)
        : null;
      // A request freezes what it names as the move would (kind, parent), so approvers can read exactly it.
      const hotfixContent = hotfix ? await deps.drafts.read(hotfix.id) : null;
      const freeze = async (): Promise<string | null> =>
        hotfix && hotfixContent
          ? await snapshots.freeze(source.projectId, hotfixContent, {
              kind: 'hotfix',
              parentId: hotfix.baseSnapshotId,
              sourceDraftId: hotfix.id,
              message,
              createdBy: by.user.id,
            })
          : candidate?.content
            ? await snapshots.freeze(source.projectId, candidate.content, {
                kind: 'freeze',
                parentId: t.snapshotId,
                sourceDraftId: draftId,
                message,
                createdBy: by.user.id,
              })
            : (candidate?.snapshotId ?? null);
      const snapshotId = await freeze();
      if (!snapshotId)
        throw new AppError(kind === 'publish' ? 'nothing_to_publish' : 'nothing_to_sync');
      const row: RequestRow = {
        id: newId('req'),
        projectId: source.projectId,
        kind,
        sourceEnvironmentId: source.id,
        targetEnvironmentId: t.id,
        snapshotId,
        message,
        requestedBy: by.user.id,
        createdAt: now,
        state: 'open',
        closedAt: null,
        closedReason: null,
      };
      await deps.atomically(async () => {
        // Counted again with the insert, first (PG-187): requests racing past the check above
        // are counted one at a time here.
        await withinRate();
        // A new request replaces any older open one for the same move.
        for (const r of await store.openRequests(source.projectId)) {
          if (
            r.sourceEnvironmentId === source.id &&
            r.targetEnvironmentId === t.id &&
            r.kind === kind
          )
            await close(r, 'voided', 'replaced by a newer request', now, by.user.id);
        }
        await store.insertRequest(row);
        // The freeze above may have found the snapshot held only by a request abandoned past
        // retention, and a retention commit deleted it since. From the insert on, the request
        // holds it (on PostgreSQL the retention commit's lock waits for this transaction; on
        // SQLite it cannot run inside it): look again, and freeze it anew if it went (SEC-8). A
        // freeze here takes the blobs lock after the insert, the other order from a retention
        // commit's: should the two meet, PostgreSQL's deadlock error reruns this whole (PG-15).
        if (
          !(await snapshots.exists(source.projectId, snapshotId)) &&
          (await freeze()) !== snapshotId
        )
          throw new AppError('snapshot_not_found');
        await store.audit(
          {
            projectId: source.projectId,
            environmentId: t.id,
            kind: 'request.created',
            actorId: by.user.id,
            subject: { requestId: row.id, kind, snapshotId, sourceEnvironmentId: source.id },
          },
          now,
        );
        await deps.emit({
          projectId: source.projectId,
          environmentId: t.id,
          kind: 'request',
          actorId: by.user.id,
          subject: { requestId: row.id },
        });
      });
      return await view(row, async () => snapshotId);
    },

    async requests(projectId: string): Promise<RequestView[]> {
      const cache = new Map<string, string | null>();
      const current = async (envId: string, kind: RequestKind) => {
        const key = `${kind}:${envId}`;
        if (!cache.has(key)) cache.set(key, await sourceSnapshot(await env(envId), kind));
        return cache.get(key)!;
      };
      return await mapInOrder(
        await store.openRequests(projectId),
        async (r) =>
          await view(r, async () => await current(r.sourceEnvironmentId, r.kind as RequestKind)),
      );
    },

    async requestTarget(requestId: string): Promise<string> {
      const r = await store.request(requestId);
      if (!r) throw new AppError('not_found', 'No such request.');
      return r.targetEnvironmentId;
    },

    /**
     * Approve or reject, bound to the request's snapshot; a requester may not approve their own
     * unless the gate allows.
     */
    async decide(
      by: Principal,
      requestId: string,
      decision: 'approve' | 'reject',
      comment: string | null,
    ): Promise<RequestView> {
      const r = await store.request(requestId);
      if (!r) throw new AppError('not_found', 'No such request.');
      if (r.state !== 'open') throw new AppError('request_closed');
      const now = Date.now();
      if (
        (await sourceSnapshot(await env(r.sourceEnvironmentId), r.kind as RequestKind)) !==
        r.snapshotId
      ) {
        await close(r, 'voided', 'the source moved', now);
        throw new AppError('approval_voided');
      }
      if (
        decision === 'approve' &&
        r.requestedBy === by.user.id &&
        !(await gate(r.targetEnvironmentId)).allowSelfApproval
      )
        throw new AppError('self_approval');
      await deps.atomically(async () => {
        // Read again inside the decision's transaction (PG-189): on PostgreSQL the look takes the
        // ledger lock, so a Publish or Sync closing this request commits first or waits for us.
        if (!(await store.openRequests(r.projectId)).some((o) => o.id === r.id))
          throw new AppError('request_closed');
        await store.putApproval({
          requestId: r.id,
          userId: by.user.id,
          decision,
          comment,
          createdAt: now,
        });
        if (decision === 'reject')
          await store.closeRequest(r.id, 'rejected', comment ?? 'rejected', now);
        await store.audit(
          {
            projectId: r.projectId,
            environmentId: r.targetEnvironmentId,
            kind: `request.${decision === 'approve' ? 'approved' : 'rejected'}`,
            actorId: by.user.id,
            subject: { requestId: r.id, snapshotId: r.snapshotId, comment },
          },
          now,
        );
        await decided(r, decision === 'approve' ? 'approved' : 'rejected', by.user.id);
      });
      return await view((await store.request(r.id))!, async () => r.snapshotId);
    },

    /**
     * Called by Sync/Publish before they commit: passes if the target has no gate, else needs
     * an approved request for exactly this snapshot from this source (a hotfix publish: a hotfix
     * request, so a Publish and a hotfix never void each other's requests). Returns the request to close.
     */
    async check(
      sourceEnvId: string,
      targetEnvId: string,
      snapshotId: string,
      opts: { hotfix?: boolean } = {},
    ): Promise<string | null> {
      const g = await gate(targetEnvId);
      if (g.requiredApprovals === 0) return null;
      const t = await env(targetEnvId);
      const open = (await store.openRequests(t.projectId)).filter(
        (r) =>
          r.sourceEnvironmentId === sourceEnvId &&
          r.targetEnvironmentId === targetEnvId &&
          (r.kind === 'hotfix') === (opts.hotfix === true),
      );
      const match = open.find((r) => r.snapshotId === snapshotId);
      if (!match) {
        if (open.length > 0) {
          for (const r of open) await close(r, 'voided', 'the source moved', Date.now());
          throw new AppError('approval_voided');
        }
        throw new AppError(
          'approval_required',
          `${t.name} needs ${g.requiredApprovals} approval${g.requiredApprovals === 1 ? '' : 's'} of this exact snapshot first: request it, and have an approver approve it.`,
        );
      }
      const approvals = (await store.approvals([match.id])).filter((a) => a.decision === 'approve');
      if (approvals.length < g.requiredApprovals) {
        throw new AppError(
          'approval_required',
          `${t.name} needs ${g.requiredApprovals} approval${g.requiredApprovals === 1 ? '' : 's'}; this request has ${approvals.length}.`,
        );
      }
      return match.id;
    },

    /**
     * Inside the move's transaction (see GateCheck.settle): the satisfied request is done, other
     * open requests for the same move are voided (their move happened or can no longer happen as
     * asked), and requests out of the moved environment for another snapshot no longer hold.
     */
    async settle(move: {
      requestId: string | null;
      sourceEnvId: string;
      targetEnvId: string;
      hotfix?: boolean;
      movedTo?: string;
    }): Promise<void> {
      const now = Date.now();
      const done = move.requestId ? await store.request(move.requestId) : undefined;
      if (done) await close(done, 'done', 'promoted', now);
      const t = await env(move.targetEnvId);
      for (const r of await store.openRequests(t.projectId)) {
        if (
          r.id !== move.requestId &&
          r.sourceEnvironmentId === move.sourceEnvId &&
          r.targetEnvironmentId === move.targetEnvId &&
          (r.kind === 'hotfix') === (move.hotfix === true)
        ) {
          await close(r, 'voided', 'the move was made', now);
        }
      }
      if (move.movedTo !== undefined) await voidFrom(move.targetEnvId, move.movedTo, now);
    },

    /** A pointer moved: requests out of that environment for another snapshot no longer hold. */
    async sourceMoved(envId: string, now: string | null): Promise<void> {
      await voidFrom(envId, now, Date.now());
    },
  };
}

export type Approvals = ReturnType<typeof createApprovals>;
