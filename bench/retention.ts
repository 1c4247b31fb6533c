// R1: the approval snapshot retention sweep on a big instance, `node bench/retention.ts`
// (SNAPSHOTS=500 ITEMS=2000 by default: ~85 MB of trees, half of them abandoned requests').
// Prints how long the sweep took and the longest the event loop was blocked meanwhile.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createHash } from 'node:crypto';
import { openDatabase } from '#server/store/db.ts';
import { createRetentionStore } from '#server/store/retention.ts';
import { createRetention } from '#server/domain/retention.ts';
import { tempDataDir } from '../test/helpers/server.ts';

const SNAPSHOTS = Number(process.env.SNAPSHOTS ?? 500);
const ITEMS = Number(process.env.ITEMS ?? 2000);
const DAY = 86_400_000;
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

const { db, sqlite, close } = openDatabase(tempDataDir(), 'normal', () => {});
const now = Date.now();
sqlite.prepare("INSERT INTO users (id, email, name, password_hash, created_at) VALUES ('u', 'u@example.com', 'u', 'x', 0)").run();
sqlite.prepare("INSERT INTO projects (id, name, preset, created_by, created_at) VALUES ('p', 'p', 'five-stage', 'u', 0)").run();
const snapshot = sqlite.prepare("INSERT INTO snapshots (project_id, id, tree, kind, created_by, created_at) VALUES ('p', ?, ?, 'freeze', 'u', 0)");
const blob = sqlite.prepare('INSERT OR IGNORE INTO blobs (id, json) VALUES (?, ?)');
const request = sqlite.prepare("INSERT INTO promotion_requests (id, project_id, kind, source_environment_id, target_environment_id, snapshot_id, requested_by, created_at, state, closed_at) VALUES (?, 'p', 'sync', 'e1', 'e2', ?, 'u', 0, 'voided', ?)");
sqlite.transaction(() => {
  for (let s = 0; s < SNAPSHOTS; s++) {
    // Every snapshot shares all items but one with the others (like successive freezes of a draft).
    const knowledge: Record<string, string> = {};
    for (let i = 0; i < ITEMS; i++) {
      const id = sha(`item ${i} v${i === 0 ? s : 0}`);
      knowledge[`kb_${i}`] = id;
      blob.run(id, '{}');
    }
    const tree = JSON.stringify({ agents: {}, workflows: {}, knowledge, integrations: {}, channels: {}, variables: {} });
    snapshot.run(sha(tree), tree);
    if (s % 2 === 0) request.run(`req_${s}`, sha(tree), now - 40 * DAY);
  }
})();

const loop = monitorEventLoopDelay({ resolution: 1 });
loop.enable();
const started = performance.now();
const result = await createRetention({ store: createRetentionStore(db), retentionDays: 30, expired: () => {} }).sweep(now);
const ms = performance.now() - started;
loop.disable();
console.log(JSON.stringify({ snapshots: SNAPSHOTS, itemsPerTree: ITEMS, result, sweepMs: Math.round(ms), maxEventLoopBlockMs: Math.round(loop.max / 1e6), p99EventLoopBlockMs: Math.round(loop.percentile(99) / 1e6), rssMB: Math.round(process.memoryUsage().rss / 1e6) }));
// The checkpoint worker is unref'd: a ref'd timer keeps this script alive while it stops.
await Promise.race([close(), new Promise((resolve) => setTimeout(resolve, 2000))]);
