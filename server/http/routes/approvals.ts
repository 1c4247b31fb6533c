import { Hono } from 'hono';
import {
  DecisionBody,
  GateBody,
  RequestBody,
  type GateView,
  type RequestsView,
  type RequestView,
} from '#schema/api.ts';
import type { AppDeps, AppEnv } from '../context.ts';
import { readJson } from '../validate.ts';
import { isProduction } from '#schema/pipeline.ts';

/** Four eyes: gates per environment, promotion requests, approvals and rejections. */
export function approvalRoutes(deps: AppDeps) {
  const { access, approvals, projects } = deps;
  return new Hono<AppEnv>()
    .get('/environments/:envId/gate', (c) => {
      access.authorize(c.get('principal'), 'content.read', c.req.param('envId'));
      return c.json(approvals.gate(c.req.param('envId')) satisfies GateView);
    })
    .put('/environments/:envId/gate', async (c) => {
      const env = access.authorize(c.get('principal'), 'content.read', c.req.param('envId'));
      access.requireProjectAdmin(c.get('principal'), env.projectId);
      return c.json(
        approvals.setGate(
          c.get('principal'),
          env.id,
          await readJson(c, GateBody),
        ) satisfies GateView,
      );
    })
    .post('/environments/:envId/requests', async (c) => {
      const env = access.authorize(c.get('principal'), 'content.read', c.req.param('envId'));
      const production = isProduction(env, projects.get(env.projectId));
      access.authorize(c.get('principal'), production ? 'env.publish' : 'env.sync', env.id);
      const { message, hotfix, expectedSourceSnapshotId } = await readJson(c, RequestBody);
      return c.json(
        approvals.request(c.get('principal'), env.id, message ?? null, {
          hotfix: hotfix === true,
          expectedSourceSnapshotId,
        }) satisfies RequestView,
        201,
      );
    })
    .get('/projects/:id/requests', (c) => {
      access.requireMember(c.get('principal'), c.req.param('id'));
      // A request (its message and snapshot) is shown to readers of its source or target.
      const readable = deps.visibility.readable(c.get('principal'), c.req.param('id'));
      return c.json({
        requests: approvals
          .requests(c.req.param('id'))
          .filter(
            (r) => readable.has(r.sourceEnvironmentId) || readable.has(r.targetEnvironmentId),
          ),
      } satisfies RequestsView);
    })
    .post('/requests/:id/approve', async (c) => {
      access.authorize(
        c.get('principal'),
        'env.approve',
        approvals.requestTarget(c.req.param('id')),
      );
      const { comment } = await readJson(c, DecisionBody);
      return c.json(
        approvals.decide(
          c.get('principal'),
          c.req.param('id'),
          'approve',
          comment ?? null,
        ) satisfies RequestView,
      );
    })
    .post('/requests/:id/reject', async (c) => {
      access.authorize(
        c.get('principal'),
        'env.approve',
        approvals.requestTarget(c.req.param('id')),
      );
      const { comment } = await readJson(c, DecisionBody);
      return c.json(
        approvals.decide(
          c.get('principal'),
          c.req.param('id'),
          'reject',
          comment ?? null,
        ) satisfies RequestView,
      );
    });
}
