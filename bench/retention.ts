// R1: the approval snapshot retention sweep on a big instance, `node bench/retention.ts`
// (SNAPSHOTS=500 ITEMS=2000 by default: ~85 MB of trees, half of them abandoned requests').
// Prints how long the sweep took and the longest the event loop was blocked meanwhile.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { openDatabase } from '#server/store/db.ts';
import { createRetentionStore } from '#server/store/retention.ts';
import { createRetention } from '#server/domain/retention.ts';
import { seedAbandonedSnapshots } from '../test/helpers/retention.ts';
import { tempDataDir } from '../test/helpers/server.ts';

const SNAPSHOTS = Number(process.env.SNAPSHOTS ?? 500);
const ITEMS = Number(process.env.ITEMS ?? 2000);

const { db, sqlite, close, transactions } = openDatabase(tempDataDir(), 'normal', () => {});
const now = Date.now();
seedAbandonedSnapshots(sqlite, SNAPSHOTS, ITEMS, now);

const loop = monitorEventLoopDelay({ resolution: 1 });
loop.enable();
const started = performance.now();
const result = await createRetention({
  store: transactions.port(createRetentionStore(db)),
  retentionDays: 30,
  expired: async () => {},
  atomically: transactions.atomically,
}).sweep(now);
const ms = performance.now() - started;
loop.disable();
console.log(
  JSON.stringify({
    snapshots: SNAPSHOTS,
    itemsPerTree: ITEMS,
    result,
    sweepMs: Math.round(ms),
    maxEventLoopBlockMs: Math.round(loop.max / 1e6),
    p99EventLoopBlockMs: Math.round(loop.percentile(99) / 1e6),
    rssMB: Math.round(process.memoryUsage().rss / 1e6),
  }),
);
// The checkpoint worker is unref'd: a ref'd timer keeps this script alive while it stops.
await Promise.race([close(), new Promise((resolve) => setTimeout(resolve, 2000))]);
