import { createHash } from 'node:crypto';
import { verifyChain, type ChainRecord } from '../../schema/release-chain.ts';
import { findEnv, short, str, type Context } from '../context.ts';
import { CliError, usage } from '../errors.ts';

/** The most records `history --verify` reads (pages of 500): a bound, said when it is reached. */
const MAX_CHAIN_RECORDS = 200_000;
const CHAIN_PAGE = 500;
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/**
 * `history <env> [--limit N] [--verify]` (CLI-14). Without `--verify`: env's release records,
 * newest first. With it: the project's whole release chain, paged from its first record and
 * recomputed here with the schema's pure verifier (the server is not trusted to say it is
 * intact), and every record of env's history found in it; a break exits 6 (`history_broken`).
 */
export async function history(ctx: Context): Promise<number> {
  const project = await ctx.project();
  const env = findEnv(project, ctx.positionals[0]);
  const limitText = str(ctx, 'limit');
  const limit = limitText === undefined ? 20 : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw usage('--limit is 1 to 500.');
  if (ctx.flags.get('verify') !== true) {
    const h = await ctx.api.get('/api/environments/{envId}/history', {
      path: { envId: env.id },
      query: { limit: String(limit) },
    });
    for (const r of h.history)
      ctx.out.say(
        `${String(r.seq).padStart(6)} ${r.createdAt} ${r.kind.padEnd(9)} ${r.pointer.padEnd(7)} ${short(r.fromSnapshotId)} → ${short(r.toSnapshotId)}  ${h.users[r.actorId] ?? r.actorId}${r.message ? `: ${r.message}` : ''}`,
      );
    if (!h.history.length) ctx.out.say(`${env.name} has no releases yet.`);
    return ctx.out.done({ environment: env.name, history: h.history, next: h.next ?? null });
  }

  // The chain, oldest first, each page verified from where the last one ended.
  let from: { seq: number; hash: string } | undefined;
  let after = 0;
  let count = 0;
  const hashes = new Set<string>();
  for (;;) {
    const page = await ctx.api.get('/api/projects/{id}/releases', {
      path: { id: project.id },
      query: { after: String(after), limit: String(CHAIN_PAGE) },
    });
    const records = page.records as ChainRecord[];
    const verdict = verifyChain(records, sha256, from);
    if (!verdict.ok)
      throw new CliError(
        'history_broken',
        `${project.name}'s release chain is broken. ${verdict.message}`,
        {
          brokenAt: verdict.brokenAt,
          reason: verdict.reason,
          verified: count,
        },
      );
    count += verdict.count;
    for (const r of records) hashes.add(r.hash);
    if (verdict.headSeq !== null) from = { seq: verdict.headSeq, hash: verdict.head };
    if (page.next === null || !records.length) break;
    after = page.next;
    if (count >= MAX_CHAIN_RECORDS)
      throw new CliError(
        'usage',
        `The chain has more than ${MAX_CHAIN_RECORDS} records: verify it in parts.`,
        {
          verified: count,
        },
      );
  }
  // Env's own records (newest first, paged back to its first) must each be a link of that chain.
  let before: string | undefined;
  let envRecords = 0;
  for (;;) {
    const h = await ctx.api.get('/api/environments/{envId}/history', {
      path: { envId: env.id },
      query: { limit: '500', ...(before ? { before } : {}) },
    });
    for (const r of h.history) {
      if (!hashes.has(r.hash))
        throw new CliError(
          'history_broken',
          `Record ${r.seq} of ${env.name}'s history is not in the project's release chain.`,
          {
            brokenAt: r.seq,
            reason: 'not_in_chain',
            verified: count,
          },
        );
      envRecords++;
    }
    if (!h.next || envRecords >= MAX_CHAIN_RECORDS) break;
    before = h.next;
  }
  ctx.out.say(
    `${project.name}: the release chain verifies (${count} record${count === 1 ? '' : 's'}, head ${from ? from.hash.slice(0, 12) : 'genesis'}); ${env.name}'s ${envRecords} record(s) are in it.`,
  );
  return ctx.out.done({
    environment: env.name,
    verified: count,
    environmentRecords: envRecords,
    head: from?.hash ?? null,
    headSeq: from?.seq ?? null,
  });
}
