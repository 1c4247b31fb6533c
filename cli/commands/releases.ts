import type { EnvironmentView, ProjectView } from '../../schema/api.ts';
import type { RequestView } from '../../schema/api/release.ts';
import { parseDuration } from '../args.ts';
import {
  board,
  confirmProduction,
  findEnv,
  isFullId,
  isProductionEnv,
  previousOf,
  productionOf,
  resolvePrefix,
  short,
  snapshotRef,
  str,
  type Context,
} from '../context.ts';
import { CliError, usage } from '../errors.ts';
import { EXIT } from '../exit-codes.ts';
import { sleep } from '../http.ts';

/** A move answers 200 with what moved, or (with `at`) 202 with what was scheduled. */
function scheduledOf<T extends object>(r: T): Extract<T, { scheduled: unknown }> {
  if (!('scheduled' in r))
    throw new CliError('server_fault', 'Expected a scheduled release in the answer.');
  return r as Extract<T, { scheduled: unknown }>;
}
function movedOf<T extends object>(r: T): Exclude<T, { scheduled: unknown }> {
  if ('scheduled' in r)
    throw new CliError('server_fault', 'Expected a move, got a scheduled release.');
  return r as Exclude<T, { scheduled: unknown }>;
}

/** Default `--wait` / `wait --timeout`: long enough for a person to approve, short for a CI job. */
const DEFAULT_WAIT_MS = 15 * 60_000;

/** How often a wait asks again (STAGECOACH_POLL_MS; tests make it short). */
export const pollMs = () => Number(process.env.STAGECOACH_POLL_MS) || 2000;

/** `--wait` / `--wait=10m`: undefined when absent. */
export function waitOf(ctx: Context, flag: string): number | undefined {
  const v = ctx.flags.get(flag);
  if (v === undefined) return undefined;
  return v === true ? DEFAULT_WAIT_MS : parseDuration(v, flag);
}

/** `--at <time>`: an ISO time (or anything Date.parse reads), sent as ISO with offset. */
function atOf(ctx: Context): string | undefined {
  const at = str(ctx, 'at');
  if (at === undefined) return undefined;
  const t = Date.parse(at);
  if (Number.isNaN(t))
    throw usage(`--at: "${at}" is not a time (use ISO 8601, e.g. 2026-12-01T09:00:00Z).`);
  return new Date(t).toISOString();
}

/**
 * An `--expect-*` value against what the board shows (CLI-7): `none` is null; a full id is sent
 * for the server to compare; a prefix that is not what the board shows is refused here as the
 * server would (`moved`), exit 6, nothing sent.
 */
function expectation(
  ctx: Context,
  flag: string,
  actual: string | null,
  moved: 'target_moved' | 'source_moved',
): string | null | undefined {
  const v = str(ctx, flag);
  if (v === undefined) return undefined;
  if (v.toLowerCase() === 'none') return null;
  const ref = snapshotRef(v, flag);
  if (isFullId(ref)) return ref;
  if (actual?.startsWith(ref)) return actual;
  throw new CliError(
    moved,
    `Expected ${flag.replace('expect-', '')} ${short(ref)}, but it is ${short(actual)}: nothing was sent.`,
    {
      expected: ref,
      actual,
    },
  );
}

// ---------------------------------------------------------------------------------------------

/** A diff side: an environment name or id, `live:<env>`, `snapshot:<id>` or a bare snapshot id. */
function sideOf(project: ProjectView, text: string): string {
  const m = /^(env|live|snapshot|draft):(.*)$/i.exec(text);
  if (m) {
    const kind = m[1]!.toLowerCase();
    if (kind === 'snapshot' || kind === 'draft') return `${kind}:${m[2]}`;
    return `${kind}:${findEnv(project, m[2]).id}`;
  }
  if (/^#?[0-9a-f]{64}$/i.test(text)) return `snapshot:${text.replace('#', '').toLowerCase()}`;
  return `env:${findEnv(project, text).id}`;
}

/**
 * `diff <env>` (CLI-6): by default what the next move INTO env would change: for production,
 * from live to what is synced (a Publish); elsewhere from env to the stage before it (a Sync).
 * `--from/--to` pick other sides. `--exit-code`: 0 when there are differences (something would
 * move), 9 when there are none (nothing to do); 1 is kept for server faults.
 */
export async function diff(ctx: Context): Promise<number> {
  const project = await ctx.project();
  const env = findEnv(project, ctx.positionals[0]);
  const fromFlag = str(ctx, 'from');
  const toFlag = str(ctx, 'to');
  let from: string;
  let to: string;
  if (isProductionEnv(project, env)) {
    from = fromFlag ? sideOf(project, fromFlag) : `live:${env.id}`;
    to = toFlag ? sideOf(project, toFlag) : `env:${env.id}`;
  } else {
    const prev = previousOf(project, env);
    if (!prev && !(fromFlag && toFlag))
      throw usage(
        `${env.name} is the authoring stage: nothing syncs into it. Give --from and --to.`,
      );
    from = fromFlag ? sideOf(project, fromFlag) : `env:${env.id}`;
    to = toFlag ? sideOf(project, toFlag) : `env:${prev!.id}`;
  }
  const query: Record<string, string> = { from, to, project: project.id };
  const sections = str(ctx, 'sections');
  if (sections) query.sections = sections;
  const d = await ctx.api.get('/api/diff', { query });
  const changes = Object.entries(d.diff.sections).flatMap(([section, items]) =>
    items.map((i) => ({
      section,
      id: i.id,
      name: i.name,
      kind: i.kind,
      fields: i.fields.map((f) => f.field),
    })),
  );
  const n = `${d.diff.total} change${d.diff.total === 1 ? '' : 's'}`;
  const prev = previousOf(project, env);
  ctx.out.say(
    fromFlag || toFlag
      ? `From ${d.from.label} to ${d.to.label}: ${n}`
      : isProductionEnv(project, env)
        ? `A Publish in ${env.name} (live → synced) would make ${n}`
        : `A Sync ${prev?.name} → ${env.name} would make ${n} in ${env.name}`,
  );
  for (const c of changes.slice(0, 200))
    ctx.out.say(
      `  ${c.kind.padEnd(8)} ${c.section}/${c.name}${c.fields.length ? ` (${c.fields.join(', ')})` : ''}`,
    );
  if (changes.length > 200) ctx.out.say(`  … and ${changes.length - 200} more`);
  const code =
    ctx.flags.get('exit-code') === true && d.diff.total === 0 ? EXIT.nothing_to_do : EXIT.ok;
  return ctx.out.done(
    { from: d.from, to: d.to, total: d.diff.total, counts: d.diff.counts, changes, diff: d.diff },
    code,
  );
}

// ---------------------------------------------------------------------------------------------

/** Moves whose refusal means "wait for someone" (exit 7), which `--wait` waits out. */
const PENDING = new Set(['approval_required', 'checks_pending']);

/**
 * `sync <env>` (CLI-7): moves into env (the TARGET) what the stage before it holds. With
 * `--request-approval` a refused move into a gated stage asks for approval (once per candidate);
 * without `--wait` that ends with 7; with it, the CLI waits until approved and checks green,
 * then syncs (10 when the wait ends first; 8 when the request is rejected).
 */
export async function sync(ctx: Context): Promise<number> {
  const project = await ctx.project();
  const target = findEnv(project, ctx.positionals[0]);
  const source = previousOf(project, target);
  if (!source) throw usage(`${target.name} is the authoring stage: nothing syncs into it.`);
  const b = await board(ctx, project);
  const pend = b.pending.find(
    (p) => p.fromEnvironmentId === source.id && p.toEnvironmentId === target.id,
  );
  const body: Record<string, unknown> = {};
  const expTarget = expectation(ctx, 'expect-target', pend?.toSnapshotId ?? null, 'target_moved');
  if (expTarget !== undefined) body.expectedTargetSnapshotId = expTarget;
  const expSource = expectation(ctx, 'expect-source', pend?.fromSnapshotId ?? null, 'source_moved');
  if (expSource) body.expectedSourceSnapshotId = expSource;
  const message = str(ctx, 'message');
  if (message) body.message = message;
  if (ctx.flags.get('confirm-undo-hotfix') === true) body.confirmUndoHotfix = true;
  if (ctx.flags.get('confirm-missing-secrets') === true) body.confirmMissingSecrets = true;
  const at = atOf(ctx);
  const path = { path: { envId: source.id } };
  if (at) {
    const s = scheduledOf(
      await ctx.api.write('POST', '/api/environments/{envId}/sync', 'sync', path, { ...body, at }),
    );
    ctx.out.say(
      `Scheduled: ${source.name} → ${target.name} (${short(s.scheduled.snapshotId)}) at ${s.scheduled.at}.`,
    );
    return ctx.out.done(s);
  }
  const wait = waitOf(ctx, 'wait');
  const deadline = wait === undefined ? 0 : Date.now() + wait;
  let request: RequestView | null = null;
  for (;;) {
    try {
      const r = movedOf(
        await ctx.api.write('POST', '/api/environments/{envId}/sync', 'sync', path, body),
      );
      ctx.out.say(
        r.unchanged
          ? `${target.name} already holds ${short(r.snapshotId)}: nothing moved.`
          : `Synced ${source.name} → ${target.name}: ${short(r.snapshotId)}.`,
      );
      return ctx.out.done({
        ...r,
        source: source.name,
        target: target.name,
        requestId: request?.id ?? null,
      });
    } catch (e) {
      if (!(e instanceof CliError) || !PENDING.has(e.id)) throw e;
      if (e.id === 'approval_required' && ctx.flags.get('request-approval') === true && !request)
        request = await requestApproval(
          ctx,
          project,
          source,
          target,
          body.expectedSourceSnapshotId as string | undefined,
          message,
        );
      if (wait === undefined) {
        if (request)
          throw new CliError(
            'approval_pending',
            `Approval requested (request ${request.id}): run again once it is approved, or use --wait.`,
            { requestId: request.id, required: request.required },
          );
        throw e;
      }
      if (request) await requestStillOpen(ctx, project, request, target);
      if (Date.now() >= deadline)
        throw new CliError('wait_timeout', `Waited ${Math.round(wait / 1000)} s: ${e.message}`, {
          waitingFor: e.id,
          requestId: request?.id ?? null,
          details: e.details,
        });
      ctx.out.say(
        `waiting: ${e.id === 'checks_pending' ? 'required checks pending' : 'approval pending'}…`,
      );
      await sleep(Math.min(pollMs(), Math.max(deadline - Date.now(), 0)));
    }
  }
}

/** An open request for this exact move, or a new one (POST …/requests on the source). */
async function requestApproval(
  ctx: Context,
  project: ProjectView,
  source: EnvironmentView,
  target: EnvironmentView,
  expected: string | undefined,
  message: string | undefined,
): Promise<RequestView> {
  const b = await board(ctx, project);
  const candidate = b.pending.find((p) => p.toEnvironmentId === target.id)?.fromSnapshotId;
  const open = b.requests.find(
    (r) =>
      r.sourceEnvironmentId === source.id &&
      r.targetEnvironmentId === target.id &&
      r.valid &&
      r.snapshotId === candidate,
  );
  if (open) {
    ctx.out.say(`An open request (${open.id}) already asks for this move: ${approvals(open)}.`);
    return open;
  }
  const body: Record<string, unknown> = {};
  if (expected ?? candidate) body.expectedSourceSnapshotId = expected ?? candidate;
  if (message) body.message = message;
  const r = await ctx.api.write(
    'POST',
    '/api/environments/{envId}/requests',
    'request',
    { path: { envId: source.id } },
    body,
  );
  ctx.out.say(
    `Requested approval for ${source.name} → ${target.name} (${short(r.snapshotId)}): request ${r.id}.`,
  );
  return r;
}

const approvals = (r: RequestView) =>
  `${r.approvals.filter((a) => a.decision === 'approve').length} of ${r.required} approvals`;

/**
 * While waiting on a request: still open, approved (fine), or closed — rejected (8) or voided /
 * done by another move (6).
 */
async function requestStillOpen(
  ctx: Context,
  project: ProjectView,
  request: RequestView,
  target: EnvironmentView,
) {
  const { requests } = await ctx.api.get('/api/projects/{id}/requests', {
    path: { id: project.id },
  });
  const now = requests.find((r) => r.id === request.id);
  if (now) {
    if (!now.valid)
      throw new CliError(
        'approval_voided',
        `Request ${request.id} no longer holds: the source moved since it was made.`,
        {
          requestId: request.id,
        },
      );
    return;
  }
  await closedRequest(ctx, request.id, target);
}

async function closedRequest(
  ctx: Context,
  requestId: string,
  target: EnvironmentView,
): Promise<never> {
  const h = await ctx.api.get('/api/environments/{envId}/history', {
    path: { envId: target.id },
  });
  const rejected = h.events.find(
    (e) =>
      e.kind === 'request.rejected' &&
      (e.subject as { requestId?: string } | null)?.requestId === requestId,
  );
  if (rejected)
    throw new CliError(
      'request_rejected',
      `Request ${requestId} was rejected${rejected.actorId ? ` by ${h.users[rejected.actorId] ?? 'an approver'}` : ''}.`,
      {
        requestId,
        comment: (rejected.subject as { comment?: string | null }).comment ?? null,
      },
    );
  throw new CliError(
    'request_closed_elsewhere',
    `Request ${requestId} was closed (voided, or done by another move).`,
    {
      requestId,
    },
  );
}

// ---------------------------------------------------------------------------------------------

/**
 * `publish` (CLI-8): production's live pointer takes what was synced there. Refused without
 * `--yes` off a terminal (2). `--wait-delivered[=dur]`: then waits until every runtime that
 * reports for production serves the new live snapshot (CLI-12; 10 when the wait ends first).
 */
export async function publish(ctx: Context): Promise<number> {
  const project = await ctx.project();
  const prod = productionOf(project);
  const b = await board(ctx, project);
  const stage = b.stages.find((s) => s.environmentId === prod.id);
  const live = stage?.live?.snapshot?.id ?? null;
  const synced = stage?.current?.snapshot?.id ?? null;
  const body: Record<string, unknown> = {};
  const expLive = expectation(ctx, 'expect-live', live, 'target_moved');
  if (expLive !== undefined) body.expectedLiveSnapshotId = expLive;
  const expSource = expectation(ctx, 'expect-source', synced, 'source_moved');
  if (expSource) body.expectedSourceSnapshotId = expSource;
  const message = str(ctx, 'message');
  if (message) body.message = message;
  if (ctx.flags.get('confirm-undo-hotfix') === true) body.confirmUndoHotfix = true;
  if (ctx.flags.get('confirm-missing-secrets') === true) body.confirmMissingSecrets = true;
  const at = atOf(ctx);
  const waitDelivered = waitOf(ctx, 'wait-delivered');
  if (at && waitDelivered !== undefined)
    throw usage('--wait-delivered waits for a publish now: not with --at.');
  if (
    !at &&
    live &&
    live === synced &&
    expSource === undefined &&
    (expLive === undefined || expLive === live)
  ) {
    // Publishing what is already live would only write a record: say so and move nothing.
    ctx.out.say(`${prod.name} already serves ${short(live)}: nothing to publish.`);
    if (waitDelivered === undefined) return ctx.out.done({ unchanged: true, snapshotId: live });
    const delivered = await waitForRuntimes(ctx, prod, live, waitDelivered);
    return ctx.out.done({ unchanged: true, snapshotId: live, delivered });
  }
  await confirmProduction(
    ctx,
    `${at ? `Schedule a Publish at ${at}` : 'Publish'} in ${prod.name}: live ${short(live)} → ${short(synced)}`,
  );
  const path = { path: { envId: prod.id } };
  if (at) {
    const s = scheduledOf(
      await ctx.api.write('POST', '/api/environments/{envId}/publish', 'publish', path, {
        ...body,
        at,
      }),
    );
    ctx.out.say(
      `Scheduled: Publish ${short(s.scheduled.snapshotId)} in ${prod.name} at ${s.scheduled.at}.`,
    );
    return ctx.out.done(s);
  }
  const r = movedOf(
    await ctx.api.write('POST', '/api/environments/{envId}/publish', 'publish', path, body),
  );
  ctx.out.say(`Published in ${prod.name}: live is ${short(r.release.toSnapshotId)}.`);
  if (waitDelivered === undefined) return ctx.out.done(r);
  const delivered = await waitForRuntimes(ctx, prod, r.release.toSnapshotId, waitDelivered);
  return ctx.out.done({ ...r, delivered });
}

/**
 * Waits until the runtimes reporting for production all serve `snapshotId`
 * (`GET /environments/:envId/runtimes`: instances heard from lately, what each serves), naming
 * the ones still behind.
 */
async function waitForRuntimes(
  ctx: Context,
  prod: EnvironmentView,
  snapshotId: string,
  wait: number,
) {
  const deadline = Date.now() + wait;
  for (;;) {
    const r = await ctx.api.get('/api/environments/{envId}/runtimes', {
      path: { envId: prod.id },
    });
    if (r.liveSnapshotId !== snapshotId)
      throw new CliError(
        'target_moved',
        `Live moved on to ${short(r.liveSnapshotId)} while waiting for delivery of ${short(snapshotId)}.`,
        { expected: snapshotId, actual: r.liveSnapshotId },
      );
    const behind = r.runtimes.filter((x) => x.snapshotId !== snapshotId).map((x) => x.instance);
    const runtimes = {
      total: r.runtimes.length,
      onLive: r.runtimes.length - behind.length,
      behind,
    };
    if (behind.length === 0) {
      ctx.out.say(
        runtimes.total
          ? `Delivered: ${runtimes.onLive} of ${runtimes.total} runtimes serve ${short(snapshotId)}.`
          : 'No runtime reports for production: nothing to wait for.',
      );
      return runtimes;
    }
    const still = `${behind.slice(0, 5).join(', ')}${behind.length > 5 ? ` and ${behind.length - 5} more` : ''}`;
    if (Date.now() >= deadline)
      throw new CliError(
        'wait_timeout',
        `Waited ${Math.round(wait / 1000)} s: ${runtimes.onLive} of ${runtimes.total} runtimes serve ${short(snapshotId)}; not yet: ${still}.`,
        { waitingFor: 'delivery', runtimes },
      );
    ctx.out.say(
      `waiting: ${runtimes.onLive} of ${runtimes.total} runtimes on ${short(snapshotId)} (not yet: ${still})…`,
    );
    await sleep(Math.min(pollMs(), Math.max(deadline - Date.now(), 0)));
  }
}

// ---------------------------------------------------------------------------------------------

/**
 * `rollback <env> --to S [--pointer current|live]` (CLI-8): back to a snapshot of env's own history
 * (a prefix resolved there). In production (either pointer) `--yes` off a terminal.
 */
export async function rollback(ctx: Context): Promise<number> {
  const project = await ctx.project();
  const env = findEnv(project, ctx.positionals[0]);
  const to = str(ctx, 'to');
  if (!to) throw usage('Say which snapshot to go back to: --to <snapshot id>.');
  const ref = snapshotRef(to, 'to');
  const pointer = str(ctx, 'pointer');
  if (pointer !== undefined && pointer !== 'current' && pointer !== 'live')
    throw usage('--pointer is current or live.');
  let snapshotId = ref;
  if (!isFullId(ref)) {
    const h = await ctx.api.get('/api/environments/{envId}/history', {
      path: { envId: env.id },
    });
    const hit = resolvePrefix(
      ref,
      h.history.flatMap((r) => [r.toSnapshotId, r.fromSnapshotId]),
    );
    if (!hit)
      throw new CliError('not_in_history', `No snapshot ${short(ref)} in ${env.name}'s history.`);
    snapshotId = hit;
  }
  const production = isProductionEnv(project, env);
  if (production)
    await confirmProduction(
      ctx,
      `Roll back ${env.name}'s ${pointer ?? 'live'} pointer to ${short(snapshotId)}`,
    );
  const body: Record<string, unknown> = { snapshotId };
  if (pointer) body.pointer = pointer;
  const message = str(ctx, 'message');
  if (message) body.message = message;
  if (ctx.flags.get('confirm-undo-hotfix') === true) body.confirmUndoHotfix = true;
  const r = await ctx.api.write(
    'POST',
    '/api/environments/{envId}/rollback',
    'rollback',
    { path: { envId: env.id } },
    body,
  );
  ctx.out.say(
    `Rolled back ${env.name} (${r.release.pointer}) to ${short(r.release.toSnapshotId)}.`,
  );
  return ctx.out.done(r);
}

// ---------------------------------------------------------------------------------------------

/**
 * `wait` (CLI-9): `wait --request <id>` until the request is approved (0), rejected (8) or
 * voided/closed (6); `wait <env> --snapshot S [--pointer current|live]` until env's pointer holds
 * S. `--timeout` (default 15m) ends it with 10.
 */
export async function waitCommand(ctx: Context): Promise<number> {
  const timeout = str(ctx, 'timeout');
  const wait = timeout ? parseDuration(timeout, 'timeout') : DEFAULT_WAIT_MS;
  const deadline = Date.now() + wait;
  const project = await ctx.project();
  const requestId = str(ctx, 'request');
  const timedOut = (what: string, details: unknown) =>
    new CliError('wait_timeout', `Waited ${Math.round(wait / 1000)} s: ${what}.`, details);
  if (requestId) {
    if (ctx.positionals.length) throw usage('wait --request takes no environment.');
    let target: EnvironmentView | null = null;
    for (;;) {
      const { requests } = await ctx.api.get('/api/projects/{id}/requests', {
        path: { id: project.id },
      });
      const r = requests.find((x) => x.id === requestId);
      if (r) {
        target = project.environments.find((e) => e.id === r.targetEnvironmentId) ?? null;
        if (!r.valid)
          throw new CliError(
            'approval_voided',
            `Request ${r.id} no longer holds: the source moved since it was made.`,
            { requestId },
          );
        if (r.approved) {
          ctx.out.say(`Request ${r.id} is approved (${approvals(r)}).`);
          return ctx.out.done({ request: r });
        }
      } else {
        if (!target)
          throw new CliError('not_found', `No open request ${requestId} in ${project.name}.`, {
            requestId,
          });
        await closedRequest(ctx, requestId, target);
      }
      if (Date.now() >= deadline)
        throw timedOut(`request ${requestId} is not approved yet`, {
          requestId,
          waitingFor: 'approval',
        });
      ctx.out.say(`waiting: request ${requestId}${r ? `, ${approvals(r)}` : ''}…`);
      await sleep(Math.min(pollMs(), Math.max(deadline - Date.now(), 0)));
    }
  }
  const env = findEnv(project, ctx.positionals[0]);
  const want = str(ctx, 'snapshot');
  if (!want) throw usage('wait <env> needs --snapshot <id> (or use wait --request <id>).');
  const ref = snapshotRef(want, 'snapshot');
  const pointer = str(ctx, 'pointer') ?? (isProductionEnv(project, env) ? 'live' : 'current');
  if (pointer !== 'current' && pointer !== 'live') throw usage('--pointer is current or live.');
  for (;;) {
    const b = await board(ctx, project);
    const stage = b.stages.find((s) => s.environmentId === env.id);
    const holds = (pointer === 'live' ? stage?.live : stage?.current)?.snapshot?.id ?? null;
    if (holds?.startsWith(ref)) {
      ctx.out.say(`${env.name} (${pointer}) holds ${short(holds)}.`);
      return ctx.out.done({ environment: env.name, pointer, snapshotId: holds });
    }
    if (Date.now() >= deadline)
      throw timedOut(`${env.name} (${pointer}) holds ${short(holds)}, not ${short(ref)}`, {
        expected: ref,
        actual: holds,
      });
    ctx.out.say(`waiting: ${env.name} (${pointer}) holds ${short(holds)}…`);
    await sleep(Math.min(pollMs(), Math.max(deadline - Date.now(), 0)));
  }
}
