import { Hono } from 'hono';
import { upSections } from '#schema/flow.ts';
import { onlySections } from '#schema/content/diff.ts';
import { SECTIONS, type Section } from '#schema/content/spec.ts';
import { AppError } from '#schema/errors.ts';
import { HotfixPublishBody, PublishBody, RollbackBody, SyncBody } from '#schema/local.ts';
import { validateContent } from '#schema/content/validate.ts';
import type { AppDeps, AppEnv } from '../context.ts';
import { readJson } from '../validate.ts';
import type { Principal } from '../../domain/accounts.ts';

/** Snapshots, Sync, Publish, rollback, history, diffs, the board and hotfixes. */
export function releaseRoutes(deps: AppDeps) {
  const { releases, snapshots, diffs, hotfixes, projects, accounts, releaseStore, access } = deps;

  /**
   * The project whose row of a snapshot id to read: `hint` (the page's project) if given, else
   * the first project holding it that this person is a member of (equal content in two projects
   * has one id and a row in each).
   */
  function snapshotProject(p: Principal, id: string, hint?: string): string {
    const visible = access.visibleProjectIds(p);
    const row = releaseStore.findSnapshots(id).find((r) => (hint === undefined || r.projectId === hint) && (visible === 'all' || visible.has(r.projectId)));
    if (!row) throw new AppError('snapshot_not_found');
    return row.projectId;
  }

  /** A diff side names an environment (env:, live:), a draft or a snapshot: each needs read access. */
  function authorizeSide(p: Principal, ref: string, projectId: string): void {
    const [kind, id = ''] = ref.split(':');
    if (kind === 'env' || kind === 'live') access.authorize(p, 'content.read', id);
    else if (kind === 'draft') {
      const d = projects.draftRecord(id);
      access.authorize(p, 'content.read', d.environment.id);
    } else if (kind === 'snapshot') access.requireMember(p, projectId);
  }

  return new Hono<AppEnv>()
    .post('/environments/:envId/sync', async (c) => {
      access.authorize(c.get('principal'), 'env.sync', c.req.param('envId'));
      return c.json(releases.sync(c.get('principal'), c.req.param('envId'), await readJson(c, SyncBody)));
    })
    .post('/environments/:envId/publish', async (c) => {
      access.authorize(c.get('principal'), 'env.publish', c.req.param('envId'));
      return c.json({ release: releases.publish(c.get('principal'), c.req.param('envId'), await readJson(c, PublishBody)) });
    })
    .post('/environments/:envId/rollback', async (c) => {
      const env = access.authorize(c.get('principal'), 'env.rollback', c.req.param('envId'));
      const body = await readJson(c, RollbackBody);
      // Rolling back what is live for end users is a publisher's call.
      const production = projects.get(env.projectId).environments.length - 1 === env.position;
      if (production && (body.pointer ?? 'live') === 'live') access.authorize(c.get('principal'), 'env.publish', env.id);
      return c.json({ release: releases.rollback(c.get('principal'), env.id, body) });
    })
    .get('/environments/:envId/history', (c) => {
      access.authorize(c.get('principal'), 'content.read', c.req.param('envId'));
      const history = releases.history(c.req.param('envId'));
      const events = deps.access.auditFor(c.req.param('envId'));
      return c.json({ history, events, users: accounts.names([...history.map((h) => h.actorId), ...events.map((e) => e.actorId ?? '')].filter(Boolean)) });
    })
    .get('/snapshots/:id', (c) => {
      // `?project=<id>` says which project's snapshot (the same content has the same id in every project).
      const id = c.req.param('id');
      const projectId = snapshotProject(c.get('principal'), id, c.req.query('project'));
      return c.json({ ...snapshots.meta(projectId, id), projectId, content: snapshots.content(projectId, id) });
    })
    .get('/diff', (c) => {
      const from = c.req.query('from');
      const to = c.req.query('to');
      if (!from || !to) throw new AppError('invalid_body', 'Give both sides: /api/diff?from=<ref>&to=<ref>.');
      // The project: given (`project=`), else an environment's or draft's side's, else the snapshot's.
      const projectId = c.req.query('project') ?? diffs.projectOf(from) ?? diffs.projectOf(to) ?? snapshotProject(c.get('principal'), from.slice('snapshot:'.length));
      authorizeSide(c.get('principal'), from, projectId);
      authorizeSide(c.get('principal'), to, projectId);
      const result = diffs.diff(from, to, projectId);
      // `sections=agents,workflows` limits it (the board asks for what a Sync carries).
      const only = c.req.query('sections')?.split(',').filter((s): s is Section => (SECTIONS as readonly string[]).includes(s));
      return c.json(only ? { ...result, diff: onlySections(result.diff, only) } : result);
    })
    .get('/projects/:id/board', (c) => {
      access.requireMember(c.get('principal'), c.req.param('id'));
      const project = projects.get(c.req.param('id'));
      const envs = project.environments;
      const lastMove = (envId: string, pointer: 'current' | 'live') => releases.history(envId).find((r) => r.pointer === pointer) ?? null;
      const meta = (id: string | null | undefined) => (id ? snapshots.meta(project.id, id) : null);
      const stages = envs.map((e, i) => ({
        environmentId: e.id,
        current: i === 0 ? null : { snapshot: meta(e.snapshotId), lastMove: lastMove(e.id, 'current') },
        ...(i === envs.length - 1 ? { live: { snapshot: meta(e.liveSnapshotId), lastMove: lastMove(e.id, 'live') } } : {}),
        ...(i === 0 ? { problems: validateContent(deps.localData.content(e.id)).length } : {}),
      }));
      // Flow rules: a Sync carries only the `up` sections; the others flow by replication.
      const carried = upSections(project.flowRules);
      const pending = envs.slice(0, -1).map((e, i) => {
        // What the next Sync moves is the change from the target's content to the source's.
        const d = onlySections(diffs.diff(`env:${envs[i + 1]!.id}`, `env:${e.id}`, project.id).diff, carried);
        return { fromEnvironmentId: e.id, toEnvironmentId: envs[i + 1]!.id, counts: d.counts, total: d.total, canSync: i === 0 ? true : e.snapshotId !== null };
      });
      const prod = envs[envs.length - 1]!;
      const divergence = hotfixes.divergence(project.id);
      const users = accounts.names(
        stages.flatMap((s) => [s.current?.lastMove?.actorId, s.live?.lastMove?.actorId, s.current?.snapshot?.createdBy, s.live?.snapshot?.createdBy].filter((x): x is string => !!x)).concat(divergence.map((d) => d.publishedBy)),
      );
      const requests = deps.approvals.requests(project.id);
      const gates = Object.fromEntries(envs.map((e) => [e.id, deps.approvals.gate(e.id)]));
      const members = access.members(project.id);
      // Who may still approve each request: approvers of its target who have not decided (and are not the requester unless allowed).
      const approvers = Object.fromEntries(
        requests.map((r) => {
          const target = projects.environment(r.targetEnvironmentId).environment;
          const eligible = members
            .filter((m) => (m.isInstanceAdmin ? true : [...(m.roles[target.id] ?? []), ...(m.roles['*'] ?? [])].includes('approver')))
            .map((m) => m.user.id)
            .filter((id) => !r.approvals.some((a) => a.userId === id) && (gates[target.id]!.allowSelfApproval || id !== r.requestedBy));
          return [r.id, eligible];
        }),
      );
      const names = accounts.names([...Object.keys(users), ...requests.flatMap((r) => [r.requestedBy, ...r.approvals.map((a) => a.userId)]), ...Object.values(approvers).flat()]);
      return c.json({
        project,
        stages,
        pending,
        divergence,
        sharedCredentials: deps.localData.sharedWithProduction(project.id),
        hotfixDraftId: hotfixes.openDraft(prod.id)?.id ?? null,
        requests,
        gates,
        approvers,
        myRoles: access.myRoles(c.get('principal'), project.id),
        isProjectAdmin: access.isProjectAdmin(c.get('principal'), project.id),
        users: { ...users, ...names },
      });
    })
    .post('/environments/:envId/hotfix', (c) => {
      access.authorize(c.get('principal'), 'env.publish', c.req.param('envId'));
      return c.json(hotfixes.start(c.get('principal'), c.req.param('envId')), 201);
    })
    .get('/environments/:envId/hotfix', (c) => {
      access.authorize(c.get('principal'), 'content.read', c.req.param('envId'));
      const d = hotfixes.openDraft(c.req.param('envId'));
      return c.json({ draftId: d?.id ?? null, baseSnapshotId: d?.baseSnapshotId ?? null, startedBy: d?.createdBy ?? null });
    })
    .post('/environments/:envId/hotfix/publish', async (c) => {
      access.authorize(c.get('principal'), 'env.publish', c.req.param('envId'));
      return c.json({ release: hotfixes.publish(c.get('principal'), c.req.param('envId'), await readJson(c, HotfixPublishBody)) });
    })
    .delete('/environments/:envId/hotfix', (c) => {
      access.authorize(c.get('principal'), 'env.publish', c.req.param('envId'));
      hotfixes.discard(c.req.param('envId'));
      return c.body(null, 204);
    })
    .get('/environments/:envId/divergence', (c) => {
      const env = access.authorize(c.get('principal'), 'content.read', c.req.param('envId'));
      return c.json({ divergence: hotfixes.divergence(env.projectId) });
    })
    .post('/environments/:envId/hotfix/apply-to-dev', (c) => {
      // It edits the DEV draft: an editor of DEV may do it.
      const env = access.authorize(c.get('principal'), 'content.read', c.req.param('envId'));
      access.authorize(c.get('principal'), 'content.edit', projects.get(env.projectId).environments[0]!.id);
      return c.json(hotfixes.applyToDev(env.id));
    });
}
