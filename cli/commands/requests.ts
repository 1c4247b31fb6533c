import {
  board,
  findEnv,
  previousOf,
  resolvePrefix,
  short,
  snapshotRef,
  str,
  type Context,
} from '../context.ts';
import { CliError, usage } from '../errors.ts';

/** `requests list|approve|reject` (CLI-9): the open approval requests, and deciding one. */
export async function requests(ctx: Context): Promise<number> {
  const [sub, id] = ctx.positionals;
  const project = await ctx.project();
  const envName = (envId: string) =>
    project.environments.find((e) => e.id === envId)?.name ?? envId;
  const { requests: open } = await ctx.api.get('/api/projects/{id}/requests', {
    path: { id: project.id },
  });
  if (sub === 'list' || sub === undefined) {
    ctx.out.command = 'requests list';
    for (const r of open)
      ctx.out.say(
        `${r.id}  ${r.kind} ${envName(r.sourceEnvironmentId)} → ${envName(r.targetEnvironmentId)} ${short(r.snapshotId)}  ${r.approvals.filter((a) => a.decision === 'approve').length}/${r.required}${r.approved ? ' approved' : ''}${r.valid ? '' : ' (voided)'}`,
      );
    if (!open.length) ctx.out.say('No open requests.');
    return ctx.out.done({ requests: open });
  }
  if (sub !== 'approve' && sub !== 'reject')
    throw usage('requests list | approve <id> | reject <id>');
  ctx.out.command = `requests ${sub}`;
  if (!id) throw usage(`requests ${sub} <request id>`);
  const hits = open.filter((r) => r.id === id || r.id.startsWith(id));
  if (hits.length > 1)
    throw new CliError('ambiguous', `"${id}" matches ${hits.length} requests: give the whole id.`);
  const fullId = hits[0]?.id ?? id;
  const body: Record<string, unknown> = {};
  const comment = str(ctx, 'message');
  if (comment) body.comment = comment;
  const r = await ctx.api.write(
    'POST',
    sub === 'approve' ? '/api/requests/{id}/approve' : '/api/requests/{id}/reject',
    sub,
    { path: { id: fullId } },
    body,
  );
  ctx.out.say(
    `${sub === 'approve' ? 'Approved' : 'Rejected'} request ${r.id} (${envName(r.sourceEnvironmentId)} → ${envName(r.targetEnvironmentId)}).`,
  );
  return ctx.out.done({ request: r });
}

/**
 * `checks report <env> --name N --state pending|success|failure [--snapshot S] [--url] [--summary]`
 * (CLI-9): reported on the gated environment for the snapshot that would move into it; without
 * `--snapshot`, the candidate the stage before would move now (the board's).
 */
export async function checks(ctx: Context): Promise<number> {
  const [sub, envRef] = ctx.positionals;
  if (sub !== 'report')
    throw usage('checks report <env> --name <check> --state pending|success|failure');
  ctx.out.command = 'checks report';
  const project = await ctx.project();
  const env = findEnv(project, envRef);
  const name = str(ctx, 'name');
  const state = str(ctx, 'state');
  if (!name) throw usage('--name <check name> is needed.');
  if (state !== 'pending' && state !== 'success' && state !== 'failure')
    throw usage('--state is pending, success or failure.');
  const b = await board(ctx, project);
  const prev = previousOf(project, env);
  const candidate = b.pending.find((p) => p.toEnvironmentId === env.id)?.fromSnapshotId ?? null;
  const stage = b.stages.find((s) => s.environmentId === env.id);
  const given = str(ctx, 'snapshot');
  let snapshotId: string;
  if (given) {
    const ref = snapshotRef(given, 'snapshot');
    const hit = resolvePrefix(ref, [
      candidate,
      stage?.current?.snapshot?.id,
      stage?.live?.snapshot?.id,
    ]);
    if (!hit)
      throw new CliError(
        'snapshot_not_found',
        `No snapshot ${short(ref)} waits to move into ${env.name}: give its whole id.`,
      );
    snapshotId = hit;
  } else {
    if (!prev && !stage?.current)
      throw usage(`${env.name} is the authoring stage: nothing moves into it.`);
    const fallback = stage?.live !== undefined ? stage.current?.snapshot?.id : null;
    const id = candidate ?? fallback;
    if (!id)
      throw new CliError(
        'snapshot_not_found',
        `Nothing waits to move into ${env.name}: give --snapshot.`,
      );
    snapshotId = id;
  }
  const body: Record<string, unknown> = { snapshotId, name, state };
  const url = str(ctx, 'url');
  const summary = str(ctx, 'summary');
  if (url) body.url = url;
  if (summary) body.summary = summary;
  const r = await ctx.api.write(
    'POST',
    '/api/environments/{envId}/checks',
    'check',
    { path: { envId: env.id } },
    body,
  );
  ctx.out.say(`Check ${r.name} on ${env.name} for ${short(snapshotId)}: ${r.state}.`);
  return ctx.out.done({ ...r, environment: env.name, snapshotId });
}
