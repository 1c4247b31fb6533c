import { Hono } from 'hono';
import { AppError } from '#schema/errors.ts';
import { HotfixPublishBody, PublishBody, RollbackBody, SyncBody } from '#schema/local.ts';
import { validateContent } from '#schema/content/validate.ts';
import type { AppDeps, AppEnv } from '../context.ts';
import { readJson } from '../validate.ts';

/** Snapshots, Sync, Publish, rollback, history, diffs, the board and hotfixes. */
export function releaseRoutes(deps: AppDeps) {
  const { releases, snapshots, diffs, hotfixes, projects, accounts, releaseStore } = deps;

  return new Hono<AppEnv>()
    .post('/environments/:envId/sync', async (c) => c.json(releases.sync(c.get('principal'), c.req.param('envId'), await readJson(c, SyncBody))))
    .post('/environments/:envId/publish', async (c) => c.json({ release: releases.publish(c.get('principal'), c.req.param('envId'), await readJson(c, PublishBody)) }))
    .post('/environments/:envId/rollback', async (c) => c.json({ release: releases.rollback(c.get('principal'), c.req.param('envId'), await readJson(c, RollbackBody)) }))
    .get('/environments/:envId/history', (c) => {
      const history = releases.history(c.req.param('envId'));
      return c.json({ history, users: accounts.names(history.map((h) => h.actorId)) });
    })
    .get('/snapshots/:id', (c) => {
      const row = releaseStore.findSnapshot(c.req.param('id'));
      if (!row) throw new AppError('snapshot_not_found');
      return c.json({ ...snapshots.meta(row.projectId, row.id), projectId: row.projectId, content: snapshots.content(row.projectId, row.id) });
    })
    .get('/diff', (c) => {
      const from = c.req.query('from');
      const to = c.req.query('to');
      if (!from || !to) throw new AppError('invalid_body', 'Give both sides: /api/diff?from=<ref>&to=<ref>.');
      return c.json(diffs.diff(from, to));
    })
    .get('/projects/:id/board', (c) => {
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
      const pending = envs.slice(0, -1).map((e, i) => {
        const d = diffs.diff(`env:${e.id}`, `env:${envs[i + 1]!.id}`).diff;
        // What the next Sync moves is the change from the target's content to the source's.
        const reverse = diffs.diff(`env:${envs[i + 1]!.id}`, `env:${e.id}`).diff;
        return { fromEnvironmentId: e.id, toEnvironmentId: envs[i + 1]!.id, counts: reverse.counts, total: reverse.total, canSync: i === 0 ? true : e.snapshotId !== null, same: d.total === 0 };
      });
      const prod = envs[envs.length - 1]!;
      const divergence = hotfixes.divergence(project.id);
      const users = accounts.names(
        stages.flatMap((s) => [s.current?.lastMove?.actorId, s.live?.lastMove?.actorId, s.current?.snapshot?.createdBy, s.live?.snapshot?.createdBy].filter((x): x is string => !!x)).concat(divergence.map((d) => d.publishedBy)),
      );
      return c.json({ project, stages, pending, divergence, hotfixDraftId: hotfixes.openDraft(prod.id)?.id ?? null, users });
    })
    .post('/environments/:envId/hotfix', (c) => c.json(hotfixes.start(c.get('principal'), c.req.param('envId')), 201))
    .get('/environments/:envId/hotfix', (c) => {
      const d = hotfixes.openDraft(c.req.param('envId'));
      return c.json({ draftId: d?.id ?? null, baseSnapshotId: d?.baseSnapshotId ?? null, startedBy: d?.createdBy ?? null });
    })
    .post('/environments/:envId/hotfix/publish', async (c) => c.json({ release: hotfixes.publish(c.get('principal'), c.req.param('envId'), await readJson(c, HotfixPublishBody)) }))
    .delete('/environments/:envId/hotfix', (c) => {
      hotfixes.discard(c.req.param('envId'));
      return c.body(null, 204);
    })
    .get('/environments/:envId/divergence', (c) => {
      const env = projects.environment(c.req.param('envId')).environment;
      return c.json({ divergence: hotfixes.divergence(env.projectId) });
    })
    .post('/environments/:envId/hotfix/apply-to-dev', (c) => c.json(hotfixes.applyToDev(c.req.param('envId'))));
}
