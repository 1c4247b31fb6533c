import type { BoardView } from '#schema/api.ts';
import { upSections } from '#schema/flow.ts';
import { isAuthoring, isProduction, productionOf } from '#schema/pipeline.ts';
import { can } from '#schema/permissions.ts';
import type { Accounts, Principal } from './accounts.ts';
import { rolesOfMember, type Access } from './access.ts';
import type { Approvals } from './approvals.ts';
import type { Diffs } from './diffs.ts';
import type { Hotfixes } from './hotfixes.ts';
import type { LocalData } from './local.ts';
import type { Projects } from './projects.ts';
import type { Releases } from './releases.ts';
import type { Replication } from './replication.ts';
import type { Snapshots } from './snapshots.ts';
import type { Visibility } from './visibility.ts';
import { mapInOrder } from '../lib/in-order.ts';

/** How many of those who may approve into a gated stage the board names. */
const MAX_NAMED_APPROVERS = 5;

/**
 * Everything the pipeline board shows, cut to what the caller may read: a stage whose content
 * they may not read shows its name and color only (no snapshot, message, mover or problems),
 * a pending Sync shows counts only to readers of both stages, the hotfix divergence only to
 * production readers and editors of the authoring draft, the production-credentials warning
 * only to production's secrets managers. A stage's missing secrets (names its integrations use
 * that it lacks) go to its readers.
 */
export function createBoard(deps: {
  projects: Projects;
  releases: Releases;
  snapshots: Snapshots;
  diffs: Diffs;
  hotfixes: Hotfixes;
  accounts: Accounts;
  approvals: Approvals;
  access: Access;
  localData: LocalData;
  visibility: Visibility;
  /** Open (unresolved) stakeholder feedback per environment id. */
  openFeedback: (envIds: string[]) => Promise<Record<string, number>>;
  replication: Pick<Replication, 'received'>;
}) {
  const {
    projects,
    releases,
    snapshots,
    diffs,
    hotfixes,
    accounts,
    approvals,
    access,
    localData,
    visibility,
    replication,
  } = deps;

  return {
    async read(p: Principal, projectId: string): Promise<BoardView> {
      await access.requireMember(p, projectId);
      const project = await projects.get(projectId);
      const envs = project.environments;
      const readable = await visibility.readable(p, project.id);
      const lastMove = async (envId: string, pointer: 'current' | 'live') =>
        (await releases.history(envId)).find((r) => r.pointer === pointer) ?? null;
      const meta = async (id: string | null | undefined) =>
        id ? await snapshots.meta(project.id, id) : null;
      const pointer = async (
        envId: string,
        id: string | null | undefined,
        which: 'current' | 'live',
      ) =>
        readable.has(envId)
          ? { snapshot: await meta(id), lastMove: await lastMove(envId, which) }
          : null;
      const openFeedback = await deps.openFeedback(
        envs.filter((e) => readable.has(e.id)).map((e) => e.id),
      );
      const prod = productionOf(envs)!;
      // Flowing sections and the open hotfix: only for stages the caller may read.
      const received = await replication.received(project.id, (id) => readable.has(id));
      const hotfix = readable.has(prod.id) ? await hotfixes.openDraft(prod.id) : null;
      const gates = Object.fromEntries(
        await mapInOrder(envs, async (e) => [e.id, await approvals.gate(e.id)]),
      );
      const members = await access.members(project.id);
      const eligibleIn = (envId: string) =>
        members.filter((m) => can(rolesOfMember(m, envId), 'env.approve', { hasDraft: true }));
      const mayApproveInto = (envId: string) => eligibleIn(envId).map((m) => m.user.id);
      // A gated stage's readers see how many may approve into it (a gate nobody can meet shows), a
      // few by name (the first by name, so the board does not reshuffle): bounded whatever the
      // project's size.
      const gateApprovers = (envId: string) => {
        const eligible = eligibleIn(envId).sort((a, b) => a.user.name.localeCompare(b.user.name));
        return {
          count: eligible.length,
          userIds: eligible.slice(0, MAX_NAMED_APPROVERS).map((m) => m.user.id),
        };
      };
      // RTC-9: the slowest pickup is counted from the live pointer's last move (the Publish or
      // rollback that put the live snapshot there).
      const runtimesOn = async (envId: string, live: string | null) => {
        const move = await lastMove(envId, 'live');
        const publishedAt =
          move && live !== null && move.toSnapshotId === live ? Date.parse(move.createdAt) : null;
        const { total, onIt, oldestPickupMs } = localData.runtimes.summary(
          envId,
          live,
          publishedAt,
        );
        return { total, onLive: onIt, oldestPickupMs };
      };
      const stages = await mapInOrder(envs, async (e) => ({
        environmentId: e.id,
        readable: readable.has(e.id),
        current: isAuthoring(e) ? null : await pointer(e.id, e.snapshotId, 'current'),
        ...(isProduction(e, project)
          ? { live: await pointer(e.id, e.liveSnapshotId, 'live') }
          : {}),
        ...(isAuthoring(e) && readable.has(e.id)
          ? { problems: (await localData.problems(e.id)).length }
          : {}),
        // Variable names only (never values): overrides a Sync left behind a type change.
        invalidOverrides: readable.has(e.id) ? await localData.invalidOverrides(e.id) : [],
        // Names only, to readers of the stage: its integrations name them in content they can read;
        // values never leave the secrets store.
        missingSecrets: readable.has(e.id) ? await localData.missingSecretNames(e.id) : [],
        // Stakeholders' comments nobody resolved yet, to readers of the stage.
        openFeedback: readable.has(e.id) ? (openFeedback[e.id] ?? 0) : 0,
        replication: received.get(e.id) ?? [],
        ...(readable.has(e.id) && gates[e.id]!.requiredApprovals > 0
          ? { mayApprove: gateApprovers(e.id) }
          : {}),
        ...(e.id === prod.id && readable.has(e.id)
          ? { runtimes: await runtimesOn(e.id, e.liveSnapshotId ?? null) }
          : {}),
        ...(e.id === prod.id
          ? {
              hotfix: hotfix
                ? {
                    startedBy: hotfix.createdBy,
                    startedAt: new Date(hotfix.createdAt).toISOString(),
                  }
                : null,
            }
          : {}),
      }));
      // Flow rules: a Sync carries only the `up` sections; the others flow by replication.
      const carried = upSections(project.flowRules);
      const pending = await mapInOrder(envs.slice(0, -1), async (e, i) => {
        const target = envs[i + 1]!;
        // What the next Sync moves is the change from the target's content to the source's; counted
        // from trees, never line-diffed.
        const d =
          readable.has(e.id) && readable.has(target.id)
            ? await diffs.counts(`env:${target.id}`, `env:${e.id}`, project.id, carried)
            : { counts: null, total: null };
        // The ids the caller saw, sent back with the action (a stale board is refused); a stage's
        // ids only to its readers.
        const fromSnapshotId = readable.has(e.id) ? await releases.candidate(e.id) : null;
        const toSnapshotId = readable.has(target.id) ? target.snapshotId : null;
        return {
          fromEnvironmentId: e.id,
          toEnvironmentId: target.id,
          fromSnapshotId,
          toSnapshotId,
          counts: d.counts,
          total: d.total,
          canSync: i === 0 ? true : e.snapshotId !== null,
        };
      });
      const divergence = (await visibility.canSeeDivergence(p, project.id))
        ? await hotfixes.divergence(project.id)
        : [];
      const users = await accounts.names(
        stages
          .flatMap((s) =>
            [
              s.current?.lastMove?.actorId,
              s.live?.lastMove?.actorId,
              s.current?.snapshot?.createdBy,
              s.live?.snapshot?.createdBy,
              s.hotfix?.startedBy,
            ].filter((x): x is string => !!x),
          )
          .concat(divergence.map((d) => d.publishedBy)),
      );
      // A request (its message, its snapshot) is shown to readers of its source or target.
      const requests = (await approvals.requests(project.id)).filter(
        (r) => readable.has(r.sourceEnvironmentId) || readable.has(r.targetEnvironmentId),
      );
      // Who may still approve each request: those the permission matrix lets approve into its
      // target, who have not decided (and are not the requester unless allowed).
      const approvers = Object.fromEntries(
        await mapInOrder(requests, async (r) => {
          const target = (await projects.environment(r.targetEnvironmentId)).environment;
          const eligible = mayApproveInto(target.id).filter(
            (id) =>
              !r.approvals.some((a) => a.userId === id) &&
              (gates[target.id]!.allowSelfApproval || id !== r.requestedBy),
          );
          return [r.id, eligible];
        }),
      );
      const names = await accounts.names([
        ...Object.keys(users),
        ...requests.flatMap((r) => [r.requestedBy, ...r.approvals.map((a) => a.userId)]),
        ...Object.values(approvers).flat(),
        ...stages.flatMap((s) => s.mayApprove?.userIds ?? []),
      ]);
      return {
        project: await visibility.projectFor(p, project),
        stages,
        pending,
        divergence,
        sharedCredentials: (await visibility.canSeeSharedCredentials(p, project.id))
          ? await localData.sharedWithProduction(project.id)
          : [],
        hotfixDraftId: hotfix?.id ?? null,
        requests,
        gates,
        approvers,
        myRoles: await access.myRoles(p, project.id),
        isProjectAdmin: await access.isProjectAdmin(p, project.id),
        users: { ...users, ...names },
      };
    },
  };
}

export type Board = ReturnType<typeof createBoard>;
