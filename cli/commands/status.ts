import type { BoardView } from '../../schema/api/release.ts';
import { board, ordered, short, type Context } from '../context.ts';

/** `status`: the board in a few lines (CLI-6): each stage, its snapshot, live, runtimes, what waits. */
export async function status(ctx: Context): Promise<number> {
  const project = await ctx.project();
  const b = await board(ctx, project);
  const envName = (id: string) => project.environments.find((e) => e.id === id)?.name ?? id;
  const stages = ordered(project).map((e) => {
    const s = b.stages.find((x) => x.environmentId === e.id);
    return {
      id: e.id,
      name: e.name,
      kind: e.kind,
      readable: s?.readable ?? false,
      current: s?.current?.snapshot?.id ?? null,
      currentMovedAt: s?.current?.lastMove?.createdAt ?? null,
      currentMovedBy: nameOf(b, s?.current?.lastMove?.actorId),
      live: s?.live === undefined ? undefined : (s.live?.snapshot?.id ?? null),
      problems: s?.problems,
      runtimes: s?.runtimes,
      gate: b.gates[e.id] ?? null,
      missingSecrets: s?.missingSecrets ?? [],
    };
  });
  const pending = b.pending.map((p) => ({
    from: envName(p.fromEnvironmentId),
    to: envName(p.toEnvironmentId),
    fromSnapshotId: p.fromSnapshotId,
    toSnapshotId: p.toSnapshotId,
    changes: p.total,
    canSync: p.canSync,
  }));
  const requests = b.requests.map((r) => ({
    id: r.id,
    kind: r.kind,
    from: envName(r.sourceEnvironmentId),
    to: envName(r.targetEnvironmentId),
    snapshotId: r.snapshotId,
    approvals: r.approvals.filter((a) => a.decision === 'approve').length,
    required: r.required,
    valid: r.valid,
    approved: r.approved,
    requestedBy: nameOf(b, r.requestedBy),
  }));
  ctx.out.say(`${project.name}`);
  for (const s of stages) {
    if (!s.readable) {
      ctx.out.say(`  ${s.name.padEnd(12)} (you may not read this stage)`);
      continue;
    }
    const parts = [
      s.kind === 'dev' || s.problems !== undefined
        ? `draft · ${s.problems ?? 0} problem${s.problems === 1 ? '' : 's'}`
        : `current ${short(s.current)}`,
    ];
    if (s.live !== undefined) parts.push(`live ${short(s.live)}`);
    if (s.runtimes?.total)
      parts.push(`runtimes ${s.runtimes.onLive} of ${s.runtimes.total} on live`);
    if (s.gate && (s.gate.requiredApprovals || s.gate.requiredChecks.length))
      parts.push(
        `gate: ${s.gate.requiredApprovals} approval(s)${s.gate.requiredChecks.length ? `, checks ${s.gate.requiredChecks.join(', ')}` : ''}`,
      );
    if (s.missingSecrets.length) parts.push(`missing secrets: ${s.missingSecrets.join(', ')}`);
    ctx.out.say(`  ${s.name.padEnd(12)} ${parts.join(' · ')}`);
  }
  for (const p of pending)
    if (p.changes) ctx.out.say(`  pending ${p.from} → ${p.to}: ${p.changes} change(s)`);
  for (const r of requests)
    ctx.out.say(
      `  request ${r.id} ${r.from} → ${r.to} ${short(r.snapshotId)}: ${r.approvals}/${r.required} approvals${r.valid ? '' : ' (voided)'}`,
    );
  return ctx.out.done({
    project: { id: project.id, name: project.name },
    stages,
    pending,
    requests,
  });
}

const nameOf = (b: BoardView, id: string | undefined | null) => (id ? (b.users[id] ?? id) : null);
