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
import { op } from '../describe.ts';

const SNAPSHOT_ID = /^[0-9a-f]{64}$/;

/** Four eyes: gates per environment, promotion requests, approvals and rejections. */
export function approvalRoutes(deps: AppDeps) {
  const { access, approvals, projects } = deps;

  /**
   * Who reports a check on an environment: a reader of it who may move content into it — a
   * promoter of the stage before (Sync), or in production also a publisher (Publish). A CI job
   * uses such a member's API token.
   */
  async function mayReport(p: Principal, envId: string) {
    const env = await access.authorize(p, 'content.read', envId);
    const project = await projects.get(env.projectId);
    if (isProduction(env, project)) {
      try {
        return await access.authorize(p, 'env.publish', env.id);
      } catch (e) {
        if (!(e instanceof AppError && e.id === 'forbidden')) throw e;
      }
    }
    const before = project.environments.find((x) => x.position === env.position - 1);
    if (!before)
      throw new AppError('forbidden', `Nothing moves into ${env.name}: it takes no checks.`);
    await access.authorize(p, 'env.sync', before.id);
    return env;
  }

  /**
   * A snapshot id is a content address: checks of one the caller may not read (held only by
   * stages they cannot read) are answered like an unknown id, or they would confirm a guess of
   * that content (SEC-24).
   */
  async function requireReadable(p: Principal, env: { id: string; projectId: string }, id: string) {
    if (await deps.visibility.canReadSnapshot(p, env.projectId, id)) return;
    if (
      await approvals.isCandidateInto(env.id, id, await deps.visibility.readable(p, env.projectId))
    )
      return;
    throw new AppError('snapshot_not_found');
  }
  return new Hono<AppEnv>()
    .get(
      '/environments/:envId/gate',
      op({
        id: 'getGate',
        tag: 'Approvals',
        summary: 'What a move into this environment needs (approvals, checks)',
        answers: { 200: 'GateView' },
        errors: ['environment_not_found'],
      }),
      async (c) => {
        await access.authorize(c.get('principal'), 'content.read', c.req.param('envId'));
        return c.json((await approvals.gate(c.req.param('envId'))) satisfies GateView);
      },
    )
    .put(
      '/environments/:envId/gate',
      op({
        id: 'setGate',
        tag: 'Approvals',
        summary: 'Set the gate: approvals and required checks (project admin)',
        body: GateBody,
        answers: { 200: 'GateView' },
        errors: ['environment_not_found'],
      }),
      async (c) => {
        const env = await access.authorize(
          c.get('principal'),
          'content.read',
          c.req.param('envId'),
        );
        await access.requireProjectAdmin(c.get('principal'), env.projectId);
        return c.json(
          (await approvals.setGate(
            c.get('principal'),
            env.id,
            await readJson(c, GateBody),
          )) satisfies GateView,
        );
      },
    )
    .post(
      '/environments/:envId/checks',
      op({
        id: 'reportCheck',
        tag: 'Approvals',
        summary: 'Report a required check’s result for a snapshot (CI)',
        body: CheckReportBody,
        answers: { 201: 'CheckView' },
        errors: ['environment_not_found', 'snapshot_not_found', 'rate_limited', 'limit_reached'],
      }),
      async (c) => {
        const env = await mayReport(c.get('principal'), c.req.param('envId'));
        const report = await readJson(c, CheckReportBody);
        await requireReadable(c.get('principal'), env, report.snapshotId);
        return c.json(
          (await approvals.reportCheck(c.get('principal'), env.id, report)) satisfies CheckView,
          201,
        );
      },
    )
    .get(
      '/environments/:envId/checks',
      op({
        id: 'listChecks',
        tag: 'Approvals',
        summary: 'The checks reported for a snapshot moving into this environment',
        query: { snapshotId: { description: 'The snapshot (64 hex characters).', required: true } },
        answers: { 200: 'ChecksView' },
        errors: ['environment_not_found', 'snapshot_not_found'],
      }),
      async (c) => {
        const env = await access.authorize(
          c.get('principal'),
          'content.read',
          c.req.param('envId'),
        );
        const snapshotId = c.req.query('snapshotId') ?? '';
        if (!SNAPSHOT_ID.test(snapshotId))
          throw new AppError('invalid_body', 'snapshotId: a snapshot id is 64 hex characters.', [
            { path: 'snapshotId', message: 'A snapshot id is 64 hex characters.' },
          ]);
        await requireReadable(c.get('principal'), env, snapshotId);
        return c.json((await approvals.checks(env.id, snapshotId)) satisfies ChecksView);
      },
    )
    .post(
      '/environments/:envId/requests',
      op({
        id: 'createRequest',
        tag: 'Approvals',
        summary: 'Ask for approval of a move into this environment',
        body: RequestBody,
        answers: { 201: 'RequestView' },
        errors: [
          'environment_not_found',
          'target_moved',
          'nothing_to_sync',
          'nothing_to_publish',
          'no_hotfix',
          'rate_limited',
          'limit_reached',
        ],
      }),
      async (c) => {
        const env = await access.authorize(
          c.get('principal'),
          'content.read',
          c.req.param('envId'),
        );
        const production = isProduction(env, await projects.get(env.projectId));
        await access.authorize(c.get('principal'), production ? 'env.publish' : 'env.sync', env.id);
        const { message, hotfix, expectedSourceSnapshotId } = await readJson(c, RequestBody);
        return c.json(
          (await approvals.request(c.get('principal'), env.id, message ?? null, {
            hotfix: hotfix === true,
            expectedSourceSnapshotId,
          })) satisfies RequestView,
          201,
        );
      },
    )
    .get(
      '/projects/:id/requests',
      op({
        id: 'listRequests',
        tag: 'Approvals',
        summary: 'A project’s release requests you may see',
        answers: { 200: 'RequestsView' },
        errors: ['project_not_found'],
      }),
      async (c) => {
        await access.requireMember(c.get('principal'), c.req.param('id'));
        // A request (its message and snapshot) is shown to readers of its source or target.
        const readable = await deps.visibility.readable(c.get('principal'), c.req.param('id'));
        return c.json({
          requests: (await approvals.requests(c.req.param('id'))).filter(
            (r) => readable.has(r.sourceEnvironmentId) || readable.has(r.targetEnvironmentId),
          ),
        } satisfies RequestsView);
      },
    )
    .post(
      '/requests/:id/approve',
      op({
        id: 'approveRequest',
        tag: 'Approvals',
        summary: 'Approve a release request',
        body: DecisionBody,
        answers: { 200: 'RequestView' },
        errors: ['not_found', 'request_closed', 'self_approval', 'approval_voided'],
      }),
      async (c) => {
        await access.authorize(
          c.get('principal'),
          'env.approve',
          await approvals.requestTarget(c.req.param('id')),
        );
        const { comment } = await readJson(c, DecisionBody);
        return c.json(
          (await approvals.decide(
            c.get('principal'),
            c.req.param('id'),
            'approve',
            comment ?? null,
          )) satisfies RequestView,
        );
      },
    )
    .post(
      '/requests/:id/reject',
      op({
        id: 'rejectRequest',
        tag: 'Approvals',
        summary: 'Reject a release request',
        body: DecisionBody,
        answers: { 200: 'RequestView' },
        errors: ['not_found', 'request_closed'],
      }),
      async (c) => {
        await access.authorize(
          c.get('principal'),
          'env.approve',
          await approvals.requestTarget(c.req.param('id')),
        );
        const { comment } = await readJson(c, DecisionBody);
        return c.json(
          (await approvals.decide(
            c.get('principal'),
            c.req.param('id'),
            'reject',
            comment ?? null,
          )) satisfies RequestView,
        );
      },
    );
}
