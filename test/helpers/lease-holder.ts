/**
 * A draft owner in a process of its own, for tests that pause it for real (SIGSTOP): `node
 * test/helpers/lease-holder.ts <postgres url> <draft id> <node id> <ttl ms>`. It takes the draft's
 * lease, then appends one update (`<node id>:<n>`) at a time, forever, with the epoch it took —
 * also after it hears the lease is lost, as a former owner that has not noticed yet would. Each
 * outcome is a JSON line on stdout: {acquired}, {appended, seq}, {fenced}, {lost}, {failed}.
 */
import { Leases } from '../../server/cluster/leases.ts';
import { openPostgres } from '../../server/store/pg/db.ts';
import { createPgDraftStore, FencedError } from '../../server/store/pg/drafts.ts';
import { createLeaseStore } from '../../server/store/pg/leases.ts';

const [url, draftId, nodeId, ttl] = process.argv.slice(2) as [string, string, string, string];
const say = (line: object) => process.stdout.write(JSON.stringify(line) + '\n');

const pgx = await openPostgres(url, { max: 2, log: () => {} });
const leases = new Leases({
  store: createLeaseStore(pgx),
  nodeId,
  url: `http://${nodeId}.internal`,
  ttlMs: Number(ttl),
  onLost: (id) => say({ lost: id }),
  log: () => {},
});
const drafts = createPgDraftStore(pgx, nodeId);

const got = await leases.acquire(draftId);
if (!('epoch' in got)) throw new Error(`not acquired: ${JSON.stringify(got)}`);
say({ acquired: got.epoch });

for (let n = 0; ; n++) {
  const update = Buffer.from(`${nodeId}:${n}`);
  try {
    say({ appended: update.toString(), seq: await drafts.append(draftId, [update], got.epoch) });
  } catch (e) {
    if (e instanceof FencedError) say({ fenced: update.toString() });
    else say({ failed: (e as Error).message });
  }
  // Paced by a timer, so a SIGCONT finds an append due at once (timers run late, not never).
  await new Promise((r) => setTimeout(r, 10));
}
