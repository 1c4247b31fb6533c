import { Hono } from 'hono';
import { SECTIONS, type Section } from '#schema/content/spec.ts';
import { AppError } from '#schema/errors.ts';
import {
  FreezeBody,
  HotfixDiscardBody,
  HotfixPublishBody,
  PublishBody,
  RollbackBody,
  SyncBody,
} from '#schema/api.ts';
import type {
  AppliedToDev,
  BoardView,
  DiffResult,
  DivergenceView,
  HistoryView,
  ReleaseEvidence,
  HotfixRebased,
  HotfixStarted,
  HotfixState,
  ReleaseChainPage,
  ReleaseResult,
  SnapshotView,
  SyncResult,
  FreezeView,
  ScheduledList,
  ScheduledResult,
} from '#schema/api.ts';
import type { AppDeps, AppEnv } from '../context.ts';
import { readJson } from '../validate.ts';
import { op } from '../describe.ts';
import { historyCursorParam, limitParam, nextHistoryCursor, seqParam } from '../paging.ts';
import type { Principal } from '../../domain/accounts.ts';
import { authoringOf, isProduction } from '#schema/pipeline.ts';
import { scheduledView } from '../../domain/schedule.ts';

/** Release chain pages (VH-1): 100 records unless asked, at most 500. */
const CHAIN_PAGE = 100;
const CHAIN_PAGE_MAX = 500;
/** An environment's history pages (VH-4): 200 of each list unless asked (as before paging), at most 500. */
const HISTORY_PAGE = 200;
const HISTORY_PAGE_MAX = 500;

/** Snapshots, Sync, Publish, rollback, history, diffs, the board and hotfixes. */
export function releaseRoutes(deps: AppDeps) {
  const { releases, snapshots, diffs, hotfixes, projects, accounts, access, visibility } = deps;

  /** A diff side names an environment (env:, live:), a draft or a snapshot: each needs read access. */
  async function authorizeSide(p: Principal, ref: string, projectId: string): Promise<void> {
    const [kind, id = ''] = ref.split(':');
    if (kind === 'env' || kind === 'live') await access.authorize(p, 'content.read', id);
    else if (kind === 'draft') {
      const d = await projects.draftRecord(id);
      await access.authorize(p, 'content.read', d.environment.id);
    } else if (kind === 'snapshot' && !(await visibility.canReadSnapshot(p, projectId, id)))
      throw new AppError('snapshot_not_found');
  }

  return new Hono<AppEnv>()
    .post(
      '/environments/:envId/sync',
      op({
        id: 'syncEnvironment',
        tag: 'Releases',
        summary:
          'Sync: move this environment’s snapshot to the next stage (or schedule it with `at`)',
        body: SyncBody,
        answers: { 200: 'SyncResult', 202: 'ScheduledResult' },
        errors: [
          'environment_not_found',
          'draft_not_found',
          'nothing_to_sync',
          'no_next_environment',
          'target_moved',
          'source_moved',
          'draft_has_problems',
          'draft_closed',
          'secrets_missing',
          'would_undo_hotfix',
          'approval_required',
          'checks_failed',
          'checks_pending',
          'frozen',
          'too_many_scheduled',
        ],
      }),
      async (c) => {
        await access.authorize(c.get('principal'), 'env.sync', c.req.param('envId'));
        const { at, ...body } = await readJson(c, SyncBody);
        // With `at`: stored for its time, bound to what would move now (SCHED-1).
        if (at !== undefined)
          return c.json(
            {
              scheduled: await deps.schedule.schedule(
                c.get('principal'),
                c.req.param('envId'),
                'sync',
                {
                  ...body,
                  at,
                },
              ),
            } satisfies ScheduledResult,
            202,
          );
        return c.json(
          (await releases.sync(
            c.get('principal'),
            c.req.param('envId'),
            body,
          )) satisfies SyncResult,
        );
      },
    )
    .post(
      '/environments/:envId/publish',
      op({
        id: 'publishEnvironment',
        tag: 'Releases',
        summary: 'Publish: move production’s live pointer (or schedule it with `at`)',
        body: PublishBody,
        answers: { 200: 'ReleaseResult', 202: 'ScheduledResult' },
        errors: [
          'environment_not_found',
          'not_production',
          'nothing_to_publish',
          'target_moved',
          'would_undo_hotfix',
          'hotfix_open',
          'approval_required',
          'checks_failed',
          'checks_pending',
          'secrets_missing',
          'frozen',
          'too_many_scheduled',
        ],
      }),
      async (c) => {
        await access.authorize(c.get('principal'), 'env.publish', c.req.param('envId'));
        const { at, ...body } = await readJson(c, PublishBody);
        if (at !== undefined)
          return c.json(
            {
              scheduled: await deps.schedule.schedule(
                c.get('principal'),
                c.req.param('envId'),
                'publish',
                {
                  ...body,
                  at,
                },
              ),
            } satisfies ScheduledResult,
            202,
          );
        return c.json({
          release: await releases.publish(c.get('principal'), c.req.param('envId'), body),
        } satisfies ReleaseResult);
      },
    )
    .get(
      '/environments/:envId/scheduled',
      op({
        id: 'listScheduled',
        tag: 'Releases',
        summary: 'Moves scheduled for an environment',
        answers: { 200: 'ScheduledList' },
        errors: ['environment_not_found'],
      }),
      async (c) => {
        await access.authorize(c.get('principal'), 'content.read', c.req.param('envId'));
        const scheduled = await deps.schedule.pending(c.req.param('envId'));
        return c.json({
          scheduled,
          users: await accounts.names(scheduled.map((s) => s.createdBy)),
        } satisfies ScheduledList);
      },
    )
    .get(
      '/scheduled/:id',
      op({
        id: 'getScheduled',
        tag: 'Releases',
        summary: 'One scheduled move',
        answers: { 200: 'ScheduledResult' },
        errors: ['scheduled_not_found'],
      }),
      async (c) => {
        const r = await deps.schedule.get(c.req.param('id'));
        if (!(await access.isMember(c.get('principal'), r.projectId)))
          throw new AppError('scheduled_not_found');
        await access.authorize(c.get('principal'), 'content.read', r.environmentId);
        return c.json({ scheduled: scheduledView(r) } satisfies ScheduledResult);
      },
    )
    .delete(
      '/scheduled/:id',
      op({
        id: 'cancelScheduled',
        tag: 'Releases',
        summary: 'Cancel a scheduled move',
        answers: { 204: null },
        errors: ['scheduled_not_found'],
      }),
      async (c) => {
        const p = c.get('principal');
        const r = await deps.schedule.get(c.req.param('id'));
        // Another project's: as if it did not exist.
        if (!(await access.isMember(p, r.projectId))) throw new AppError('scheduled_not_found');
        // Cancelling is for whoever may make the move now.
        await access.authorize(
          p,
          r.kind === 'publish' ? 'env.publish' : 'env.sync',
          r.environmentId,
        );
        await deps.schedule.cancel(r.id);
        return c.body(null, 204);
      },
    )
    .get(
      '/environments/:envId/freeze',
      op({
        id: 'getFreeze',
        tag: 'Releases',
        summary: 'An environment’s freeze windows',
        answers: { 200: 'FreezeView' },
        errors: ['environment_not_found'],
      }),
      async (c) => {
        await access.authorize(c.get('principal'), 'content.read', c.req.param('envId'));
        return c.json((await deps.freeze.get(c.req.param('envId'))) satisfies FreezeView);
      },
    )
    .put(
      '/environments/:envId/freeze',
      op({
        id: 'setFreeze',
        tag: 'Releases',
        summary: 'Set an environment’s freeze windows (project admin)',
        body: FreezeBody,
        answers: { 200: 'FreezeView' },
        errors: ['environment_not_found'],
      }),
      async (c) => {
        const env = await access.authorize(
          c.get('principal'),
          'content.read',
          c.req.param('envId'),
        );
        await access.requireProjectAdmin(c.get('principal'), env.projectId);
        const { windows } = await readJson(c, FreezeBody);
        return c.json(
          (await deps.freeze.put(c.get('principal'), env.id, windows)) satisfies FreezeView,
        );
      },
    )
    .post(
      '/environments/:envId/rollback',
      op({
        id: 'rollbackEnvironment',
        tag: 'Releases',
        summary: 'Roll back to a snapshot from the environment’s own history',
        body: RollbackBody,
        answers: { 200: 'ReleaseResult' },
        errors: [
          'environment_not_found',
          'snapshot_not_found',
          'not_in_history',
          'not_production',
          'nothing_live',
          'target_moved',
          'would_undo_hotfix',
          'frozen',
        ],
      }),
      async (c) => {
        const env = await access.authorize(
          c.get('principal'),
          'env.rollback',
          c.req.param('envId'),
        );
        const body = await readJson(c, RollbackBody);
        // Rolling back what is live for end users is a publisher's call.
        const production = isProduction(env, await projects.get(env.projectId));
        if (production && (body.pointer ?? 'live') === 'live')
          await access.authorize(c.get('principal'), 'env.publish', env.id);
        return c.json({
          release: await releases.rollback(c.get('principal'), env.id, body),
        } satisfies ReleaseResult);
      },
    )
    .get(
      '/environments/:envId/history',
      op({
        id: 'getHistory',
        tag: 'Releases',
        summary: 'An environment’s releases and audit events, newest first, pageable to the first',
        query: {
          before: {
            description:
              'The `next` of the previous page (an opaque `<seq>.<seq>` cursor); absent: the newest page.',
          },
          limit: {
            description: `Releases and audit events per page, each (1–${HISTORY_PAGE_MAX}, default ${HISTORY_PAGE}).`,
            schema: { type: 'integer', minimum: 1, maximum: HISTORY_PAGE_MAX },
          },
        },
        answers: { 200: 'HistoryView' },
        errors: ['environment_not_found'],
      }),
      async (c) => {
        await access.authorize(c.get('principal'), 'content.read', c.req.param('envId'));
        // Pageable back to the first entry, newest first (VH-4): one more than the page says if there are older ones.
        const before = historyCursorParam(c.req.query('before'));
        const limit = limitParam(c.req.query('limit'), HISTORY_PAGE, HISTORY_PAGE_MAX);
        // A list already done (cursor 0) reads nothing.
        const moreHistory =
          before.releases === 0
            ? []
            : await releases.historyPage(c.req.param('envId'), before.releases, limit + 1);
        const moreEvents =
          before.events === 0
            ? []
            : await deps.access.auditFor(c.req.param('envId'), limit + 1, before.events);
        const history = moreHistory.slice(0, limit);
        const events = moreEvents.slice(0, limit);
        return c.json({
          history,
          events,
          next: nextHistoryCursor(
            { seqs: history.map((h) => h.seq), more: moreHistory.length > limit },
            { seqs: events.map((e) => e.seq), more: moreEvents.length > limit },
          ),
          users: await accounts.names(
            [
              ...history.map((h) => h.actorId),
              ...events.map((e) => e.actorId ?? ''),
              // The approvers a gated move's evidence names (CHK-6).
              ...history.flatMap(
                (h) =>
                  (h.detail as { evidence?: ReleaseEvidence } | null)?.evidence?.approvals.map(
                    (a) => a.userId,
                  ) ?? [],
              ),
            ].filter(Boolean),
          ),
        } satisfies HistoryView);
      },
    )
    .get(
      '/snapshots/:id',
      op({
        id: 'getSnapshot',
        tag: 'Releases',
        summary: 'A snapshot with its content',
        query: {
          project: {
            description:
              'The project whose snapshot (the same content has the same id in every project).',
          },
        },
        answers: { 200: 'SnapshotView' },
        errors: ['snapshot_not_found', 'snapshot_corrupt'],
      }),
      async (c) => {
        // `?project=<id>` says which project's snapshot (the same content has the same id in every project).
        const id = c.req.param('id');
        const projectId = await visibility.snapshotProject(
          c.get('principal'),
          id,
          c.req.query('project'),
        );
        return c.json({
          ...(await snapshots.meta(projectId, id)),
          projectId,
          content: await snapshots.content(projectId, id),
        } satisfies SnapshotView);
      },
    )
    .get(
      '/diff',
      op({
        id: 'diff',
        tag: 'Releases',
        summary: 'What differs between two sides (env:, live:, draft: or snapshot: refs)',
        query: {
          from: {
            description: 'One side: env:<id>, live:<id>, draft:<id> or snapshot:<id>.',
            required: true,
          },
          to: { description: 'The other side, the same way.', required: true },
          project: { description: 'The project (when both sides are snapshots).' },
          sections: { description: 'Comma-separated sections to compare (default: all).' },
        },
        answers: { 200: 'DiffResult' },
        errors: ['environment_not_found', 'draft_not_found', 'snapshot_not_found'],
      }),
      async (c) => {
        const from = c.req.query('from');
        const to = c.req.query('to');
        if (!from || !to)
          throw new AppError('invalid_body', 'Give both sides: /api/diff?from=<ref>&to=<ref>.');
        // The project: given (`project=`), else an environment's or draft's side's, else the snapshot's.
        const projectId =
          c.req.query('project') ??
          (await diffs.projectOf(from)) ??
          (await diffs.projectOf(to)) ??
          (await visibility.snapshotProject(c.get('principal'), from.slice('snapshot:'.length)));
        await authorizeSide(c.get('principal'), from, projectId);
        await authorizeSide(c.get('principal'), to, projectId);
        // `sections=agents,workflows` limits it (the board asks for what a Sync carries).
        const only = c.req
          .query('sections')
          ?.split(',')
          .filter((s): s is Section => (SECTIONS as readonly string[]).includes(s));
        return c.json((await diffs.diff(from, to, projectId, only)) satisfies DiffResult);
      },
    )
    .get(
      '/projects/:id/releases',
      op({
        id: 'getReleaseChain',
        tag: 'Releases',
        summary:
          'The project’s release chain, oldest first, with exactly the hashed fields (verify it with verifyChain)',
        query: {
          after: {
            description:
              'The `next` of the previous page (a record’s seq); absent: from the first record.',
            schema: { type: 'integer', minimum: 0 },
          },
          limit: {
            description: `Records per page (1–${CHAIN_PAGE_MAX}, default ${CHAIN_PAGE}).`,
            schema: { type: 'integer', minimum: 1, maximum: CHAIN_PAGE_MAX },
          },
        },
        answers: { 200: 'ReleaseChainPage' },
        errors: ['project_not_found', 'not_a_member', 'chain_not_readable'],
      }),
      async (c) => {
        // The whole chain names every environment's moves: readers of every environment only (VH-3).
        await access.authorizeChain(c.get('principal'), c.req.param('id'));
        return c.json(
          (await releases.chain(
            c.req.param('id'),
            seqParam('after', c.req.query('after'), 0),
            limitParam(c.req.query('limit'), CHAIN_PAGE, CHAIN_PAGE_MAX),
          )) satisfies ReleaseChainPage,
        );
      },
    )
    .get(
      '/projects/:id/board',
      op({
        id: 'getBoard',
        tag: 'Releases',
        summary: 'The release board: every stage, what it holds and what is pending',
        answers: { 200: 'BoardView' },
        errors: ['project_not_found'],
      }),
      async (c) =>
        c.json((await deps.board.read(c.get('principal'), c.req.param('id'))) satisfies BoardView),
    )
    .post(
      '/environments/:envId/hotfix',
      op({
        id: 'startHotfix',
        tag: 'Releases',
        summary: 'Open a hotfix draft on production’s live snapshot',
        answers: { 201: 'HotfixStarted' },
        errors: [
          'environment_not_found',
          'not_production',
          'nothing_live',
          'hotfix_open',
          'rate_limited',
        ],
      }),
      async (c) => {
        await access.authorize(c.get('principal'), 'env.publish', c.req.param('envId'));
        return c.json(
          (await hotfixes.start(c.get('principal'), c.req.param('envId'))) satisfies HotfixStarted,
          201,
        );
      },
    )
    .get(
      '/environments/:envId/hotfix',
      op({
        id: 'getHotfix',
        tag: 'Releases',
        summary: 'Production’s open hotfix, if any',
        answers: { 200: 'HotfixState' },
        errors: ['environment_not_found', 'not_production'],
      }),
      async (c) => {
        await access.authorize(c.get('principal'), 'content.read', c.req.param('envId'));
        const d = await hotfixes.openDraft(c.req.param('envId'));
        return c.json({
          draftId: d?.id ?? null,
          baseSnapshotId: d?.baseSnapshotId ?? null,
          startedBy: d?.createdBy ?? null,
        } satisfies HotfixState);
      },
    )
    .post(
      '/environments/:envId/hotfix/publish',
      op({
        id: 'publishHotfix',
        tag: 'Releases',
        summary: 'Publish the open hotfix',
        body: HotfixPublishBody,
        answers: { 200: 'ReleaseResult' },
        errors: [
          'environment_not_found',
          'not_production',
          'no_hotfix',
          'live_moved',
          'draft_has_problems',
          'approval_required',
          'checks_failed',
          'checks_pending',
          'secrets_missing',
          'frozen',
        ],
      }),
      async (c) => {
        await access.authorize(c.get('principal'), 'env.publish', c.req.param('envId'));
        return c.json({
          release: await hotfixes.publish(
            c.get('principal'),
            c.req.param('envId'),
            await readJson(c, HotfixPublishBody),
          ),
        } satisfies ReleaseResult);
      },
    )
    .post(
      '/environments/:envId/hotfix/rebase',
      op({
        id: 'rebaseHotfix',
        tag: 'Releases',
        summary: 'Move the open hotfix onto what is live now',
        answers: { 200: 'HotfixRebased' },
        errors: ['environment_not_found', 'not_production', 'no_hotfix'],
      }),
      async (c) => {
        await access.authorize(c.get('principal'), 'env.publish', c.req.param('envId'));
        return c.json((await hotfixes.rebase(c.req.param('envId'))) satisfies HotfixRebased);
      },
    )
    .delete(
      '/environments/:envId/hotfix',
      op({
        id: 'discardHotfix',
        tag: 'Releases',
        summary: 'Discard the open hotfix',
        body: HotfixDiscardBody,
        bodyOptional: true,
        answers: { 204: null },
        errors: ['environment_not_found', 'not_production', 'no_hotfix'],
      }),
      async (c) => {
        await access.authorize(c.get('principal'), 'env.publish', c.req.param('envId'));
        // The body (the reason) is optional: a bare DELETE still discards.
        const body = (await c.req.text()).trim() ? await readJson(c, HotfixDiscardBody) : {};
        await hotfixes.discard(c.get('principal'), c.req.param('envId'), body);
        return c.body(null, 204);
      },
    )
    .get(
      '/environments/:envId/divergence',
      op({
        id: 'getDivergence',
        tag: 'Releases',
        summary: 'What production’s hotfixes changed that DEV does not have',
        answers: { 200: 'DivergenceView' },
        errors: ['environment_not_found'],
      }),
      async (c) => {
        // Hotfix values are production content: its readers, and the editors who must port it (who
        // may not read the rest of production), see them, whichever stage of the project is named.
        const { environment: env } = await projects.environment(c.req.param('envId'));
        if (!(await access.isMember(c.get('principal'), env.projectId)))
          throw new AppError('environment_not_found');
        if (!(await visibility.canSeeDivergence(c.get('principal'), env.projectId)))
          throw new AppError(
            'forbidden',
            'Only readers of production and editors of the authoring draft see a hotfix’s changes.',
          );
        return c.json({
          divergence: await hotfixes.divergence(env.projectId),
        } satisfies DivergenceView);
      },
    )
    .post(
      '/environments/:envId/hotfix/apply-to-dev',
      op({
        id: 'applyHotfixToDev',
        tag: 'Releases',
        summary: 'Write the hotfixes’ changes into the DEV draft',
        answers: { 200: 'AppliedToDev' },
        errors: ['environment_not_found', 'draft_closed'],
      }),
      async (c) => {
        // It writes the hotfix's changes into the DEV draft: an editor of DEV may, without reading
        // the rest of production (the changes are the divergence, which DEV's editors see to port it).
        const { environment: env } = await projects.environment(c.req.param('envId'));
        await access.authorize(
          c.get('principal'),
          'content.edit',
          authoringOf((await projects.get(env.projectId)).environments)!.id,
        );
        return c.json((await hotfixes.applyToDev(env.id)) satisfies AppliedToDev);
      },
    );
}
