import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase } from '#server/store/db.ts';
import { healthWhile, rssMb } from '../helpers/health.ts';
import { seedAbandonedSnapshots } from '../helpers/retention.ts';
import { startTestServer, tempDataDir } from '../helpers/server.ts';

/**
 * SEC-8: the retention sweep of abandoned approval requests' snapshots runs at start on a
 * big instance while the server keeps answering. A hostile promoter can leave many abandoned
 * requests (60 an hour per environment); the sweep must not freeze the event loop reading
 * every snapshot's tree. `npm run soak` (SOAK=1) runs it at full size.
 */
const SOAK = process.env.SOAK === '1';
const SNAPSHOTS = SOAK ? 500 : 120;
const ITEMS = SOAK ? 2000 : 1000;

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

/**
 * A data folder with SNAPSHOTS snapshots of ITEMS items each; every other one held only by a
 * request voided 40 days ago.
 */
async function bigInstance(): Promise<string> {
  const dir = tempDataDir();
  const { sqlite, close: done } = openDatabase(dir, 'normal', () => {});
  seedAbandonedSnapshots(sqlite, SNAPSHOTS, ITEMS);
  await done();
  return dir;
}

describe('SEC-8 retention sweep on a big instance', () => {
  it(
    "SEC-8 /api/health keeps answering while the start-up sweep deletes abandoned requests' snapshots",
    { timeout: 120_000 },
    async () => {
      const dir = await bigInstance();
      const server = await startTestServer(dir);
      close = () => server.close();
      const count = (sql: string) => (server.sqlite.prepare(sql).get() as { n: number }).n;
      const health = await healthWhile(
        server.url,
        () => count('SELECT count(*) AS n FROM promotion_requests') > 0,
      );
      console.log(
        `SEC-8 retention sweep of ${SNAPSHOTS / 2} of ${SNAPSHOTS} snapshots (${ITEMS} items each): slowest /api/health ${health.maxMs.toFixed(0)} ms over ${health.count} probes, RSS ${rssMb().toFixed(0)} MB`,
      );
      expect(health.count).toBeGreaterThan(0); // the sweep spans many event-loop turns: health was asked during it
      expect(count('SELECT count(*) AS n FROM snapshots')).toBe(SNAPSHOTS / 2);
      expect(count('SELECT count(*) AS n FROM blobs')).toBe(ITEMS - 1 + SNAPSHOTS / 2);
      expect(health.maxMs).toBeLessThan(1500);
    },
  );
});
