import { Hono } from 'hono';
import {
  CheckReportBody,
  DecisionBody,
  GateBody,
  type ChecksView,
  type CheckView,
  RequestBody,
  type GateView,
  type RequestsView,
  type RequestView,
} from '#schema/api.ts';
import type { AppDeps, AppEnv } from '../context.ts';
import { readJson } from '../validate.ts';
import { isProduction } from '#schema/pipeline.ts';
import { AppError } from '#schema/errors.ts';
import type { Principal } from '../../domain/accounts.ts';

const SNAPSHOT_ID = /^[0-9a-f]{64}$/;

/** Four eyes: gates per environment, promotion requests, approvals and rejections. */
export function approvalRoutes(deps: AppDeps) {
  const { access, approvals, projects } = deps;

  /**
   * Who reports a check on an environment: a reader of it who may move content into it — a
   * promoter of the stage before (Sync), or in production also a publisher (Publish). A CI job
   * uses such a member's API token.
   */
  function mayReport(p: Principal, envId: string) {
    const env = access.authorize(p, 'content.read', envId);
    const project = projects.get(env.projectId);
    if (isProduction(env, project)) {
      try {
        return access.authorize(p, 'env.publish', env.id);
      } catch (e) {
        if (!(e instanceof AppError && e.id === 'forbidden')) throw e;
      }
    }
    const before = project.environments.find((x) => x.position === env.position - 1);
    if (!before)
      throw new AppError('forbidden', `Nothing moves into ${env.name}: it takes no checks.`);
    access.authorize(p, 'env.sync', before.id);
    return env;
  }

  /**
   * A snapshot id is a content address: checks of one the caller may not read (held only by
   * stages they cannot read) are answered like an unknown id, or they would confirm a guess of
   * that content (SEC-24).
   */
  function requireReadable(p: Principal, env: { id: string; projectId: string }, id: string) {
    if (deps.visibility.canReadSnapshot(p, env.projectId, id)) return;
    if (approvals.isCandidateInto(env.id, id, deps.visibility.readable(p, env.projectId))) return;
    throw new AppError('snapshot_not_found');
  }
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
    .post('/environments/:envId/checks', async (c) => {
      const env = mayReport(c.get('principal'), c.req.param('envId'));
      const report = await readJson(c, CheckReportBody);
      requireReadable(c.get('principal'), env, report.snapshotId);
      return c.json(
        approvals.reportCheck(c.get('principal'), env.id, report) satisfies CheckView,
        201,
      );
    })
    .get('/environments/:envId/checks', (c) => {
      const env = access.authorize(c.get('principal'), 'content.read', c.req.param('envId'));
      const snapshotId = c.req.query('snapshotId') ?? '';
      if (!SNAPSHOT_ID.test(snapshotId))
        throw new AppError('invalid_body', 'snapshotId: a snapshot id is 64 hex characters.', [
          { path: 'snapshotId', message: 'A snapshot id is 64 hex characters.' },
        ]);
      requireReadable(c.get('principal'), env, snapshotId);
      return c.json(approvals.checks(env.id, snapshotId) satisfies ChecksView);
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
