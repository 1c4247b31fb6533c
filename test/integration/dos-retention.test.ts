import { afterEach, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { openDatabase } from '#server/store/db.ts';
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
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

/** A data folder with SNAPSHOTS snapshots of ITEMS items each; every other one held only by a request voided 40 days ago. */
async function bigInstance(): Promise<string> {
  const dir = tempDataDir();
  const { sqlite, close: done } = openDatabase(dir, 'normal', () => {});
  sqlite.prepare("INSERT INTO users (id, email, name, password_hash, created_at) VALUES ('usr_old', 'old@example.com', 'Old', 'x', 0)").run();
  sqlite.prepare("INSERT INTO projects (id, name, preset, created_by, created_at) VALUES ('prj_old', 'Old', 'five-stage', 'usr_old', 0)").run();
  const snapshot = sqlite.prepare("INSERT INTO snapshots (project_id, id, tree, kind, created_by, created_at) VALUES ('prj_old', ?, ?, 'freeze', 'usr_old', 0)");
  const blob = sqlite.prepare('INSERT OR IGNORE INTO blobs (id, json) VALUES (?, ?)');
  const request = sqlite.prepare("INSERT INTO promotion_requests (id, project_id, kind, source_environment_id, target_environment_id, snapshot_id, requested_by, created_at, state, closed_at) VALUES (?, 'prj_old', 'sync', 'env_a', 'env_b', ?, 'usr_old', 0, 'voided', ?)");
  sqlite.transaction(() => {
    for (let s = 0; s < SNAPSHOTS; s++) {
      // Successive freezes of one draft: all items shared but one.
      const knowledge: Record<string, string> = {};
      for (let i = 0; i < ITEMS; i++) {
        const id = sha(`item ${i} v${i === 0 ? s : 0}`);
        knowledge[`kb_${i}`] = id;
        blob.run(id, '{}');
      }
      const tree = JSON.stringify({ agents: {}, workflows: {}, knowledge, integrations: {}, channels: {}, variables: {} });
      snapshot.run(sha(tree), tree);
      if (s % 2 === 0) request.run(`req_${s}`, sha(tree), Date.now() - 40 * 86_400_000);
    }
  })();
  await done();
  return dir;
}

describe('SEC-8 retention sweep on a big instance', () => {
  it('SEC-8 /api/health keeps answering while the start-up sweep deletes abandoned requests\' snapshots', { timeout: 120_000 }, async () => {
    const dir = await bigInstance();
    const server = await startTestServer(dir);
    close = () => server.close();
    const count = (sql: string) => (server.sqlite.prepare(sql).get() as { n: number }).n;
    let slowest = 0;
    let probes = 0;
    while (count('SELECT count(*) AS n FROM promotion_requests') > 0) {
      const started = performance.now();
      const res = await fetch(`${server.url}/api/health`);
      expect(res.status).toBe(200);
      slowest = Math.max(slowest, performance.now() - started);
      probes++;
    }
    console.log(`SEC-8 retention sweep of ${SNAPSHOTS / 2} of ${SNAPSHOTS} snapshots (${ITEMS} items each): slowest /api/health ${slowest.toFixed(0)} ms over ${probes} probes, RSS ${(process.memoryUsage().rss / 1e6).toFixed(0)} MB`);
    expect(probes).toBeGreaterThan(0); // the sweep spans many event-loop turns: health was asked during it
    expect(count('SELECT count(*) AS n FROM snapshots')).toBe(SNAPSHOTS / 2);
    expect(count('SELECT count(*) AS n FROM blobs')).toBe(ITEMS - 1 + SNAPSHOTS / 2);
    expect(slowest).toBeLessThan(1500);
  });
});
