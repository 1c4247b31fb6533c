// The sync benchmark: `npm run bench` (BENCH_SECONDS shortens the timed workloads; BENCH_ONLY=S1,S9
// picks workloads; BENCH_SERVERS=stagecoach,hocuspocus picks servers).
// Each server runs in its own process on loopback (ours: the bundled dist/server.js, as npm start
// runs it); the load clients run here. One table per workload with every server and our ratio to
// each peer; the sections are merged into bench/RESULTS.md.
import { fanout, type FanoutResult } from './fanout.ts';
import { SERVERS, startServer, type RunningServer, type ServerName } from './servers.ts';
import {
  idleDocuments,
  joinOnce,
  manyDocuments,
  presenceLoad,
  seedBig,
  thunderingHerd,
} from './workloads.ts';
import { Report, fmt as f } from '../results.ts';
import { WARMUP_SECONDS } from './stats.ts';
import { STAGES, type Pause, type WritePathReport } from '../../server/collab/write-path-timing.ts';

const seconds = Number(process.env.BENCH_SECONDS ?? 60);
const only = (process.env.BENCH_ONLY ?? 'S1,S2,S3,S4,S7,S8,S9,S10').split(',');
const servers = SERVERS.filter(
  (s) => !process.env.BENCH_SERVERS || process.env.BENCH_SERVERS.split(',').includes(s),
);
const report = new Report('Sync benchmark');
report.say(
  `Servers: stagecoach (this repo; update log appended in SQLite before broadcast, auth, read-only checks), @y/websocket-server 0.1.1 (memory; and with its leveldb persistence), @hocuspocus/server 4.7.0 (memory; and with @hocuspocus/extension-database storing into SQLite), and in S1–S4 the floor: bench/sync/peers/relay.ts, no Yjs and no storage, each frame passed as it is to the room's other clients (what any server does above it is its overhead). Latency = time from the writer's send to an observer's receipt. S1–S4 send ${WARMUP_SECONDS} s of load before they time anything (BENCH_WARMUP).`,
);

/** Runs `measure` against every server, each in a fresh process; prints one row each, then our ratios. */
async function table<R extends object>(
  id: string,
  title: string,
  columns: string[],
  measure: (s: RunningServer) => Promise<R>,
  row: (r: R) => string[],
  ratio?: (ours: R, peer: R) => string,
  // The floor (bench/sync/peers/relay.ts) only relays updates: it takes part in S1–S4.
  floor = false,
) {
  report.say();
  report.say(`## ${id} — ${title}`);
  report.say();
  report.say(`| server | ${columns.join(' | ')} |`);
  report.say(`|---|${columns.map(() => '---').join('|')}|`);
  const results = new Map<ServerName, R>();
  for (const name of servers.filter((s) => floor || s !== 'floor')) {
    const server = await startServer(name);
    let current = server;
    try {
      const r = await measure(server);
      if ('server' in r && r.server instanceof Object) current = r.server as RunningServer;
      results.set(name, r);
      report.say(`| ${name} | ${row(r).join(' | ')} |`);
    } catch (err) {
      report.say(`| ${name} | failed: ${(err as Error).message} |`);
    } finally {
      await current.stop();
    }
  }
  const ours = results.get('stagecoach');
  if (ours && ratio) {
    report.say();
    for (const [name, r] of results)
      if (name !== 'stagecoach') report.say(`- ours / ${name}: ${ratio(ours, r)}`);
  }
  // Written after every workload: a run stopped halfway keeps what it measured.
  report.write();
  return results;
}

/** BENCH_BREAKDOWN=1: where an update's time went in our server during workload `id`, per update. */
function writePathTable(
  id: string,
  { stages, loop, gc, stalls }: WritePathReport,
  updates: number,
) {
  const all = Object.values(stages).reduce((a, t) => a + t.ms, 0);
  report.say();
  report.say(
    `Our write path in ${id}, per update (${updates} updates; WRITE_PATH_TIMING, server/collab/write-path-timing.ts; the event loop's other work — websocket reads and parsing, timers — is not in it):`,
  );
  report.say();
  report.say('| stage | what | µs per update | share | times |');
  report.say('|---|---|---|---|---|');
  for (const [stage, what] of Object.entries(STAGES)) {
    const t = stages[stage as keyof typeof STAGES] ?? { ms: 0, count: 0 };
    report.say(
      `| ${stage} | ${what} | ${f((t.ms * 1000) / updates, 1)} | ${f((100 * t.ms) / all, 0)} % | ${t.count} |`,
    );
  }
  report.say(`| all | | ${f((all * 1000) / updates, 1)} | 100 % | |`);
  report.say();
  report.say(
    `Meanwhile the event loop was busy ${f(100 * loop.busy, 1)} % of the time, its timers fired late by p50 ${f(loop.delayMs.p50)} / p99 ${f(loop.delayMs.p99)} / max ${f(loop.delayMs.max)} ms, and GC paused it ${gc.count} times for ${f(gc.ms, 0)} ms in all (longest ${f(gc.maxMs, 1)} ms).`,
  );
  const at = (p: Pause) =>
    `${f(p.ms, 1)} ms${p.kind ? ` ${p.kind}` : ''} at ${f(p.atMs / 1000, 1)} s`;
  report.say(
    `Longest stalls (a 5 ms timer late by more than 10 ms): ${stalls.map(at).join(', ') || 'none'}. Longest GC pauses: ${gc.longest.map(at).join(', ') || 'none'}. Longest single stage: ${Object.entries(
      stages,
    )
      .map(([stage, t]) => `${stage} ${f(t.maxMs, 1)} ms`)
      .join(', ')}.`,
  );
}

const FANOUT = [
  {
    id: 'S1',
    title: '1 writer at 20 updates/s, 49 observers',
    observers: 49,
    writers: 1,
    rate: 20,
    target: 'p50 ≤ 3 ms, p99 ≤ 12 ms, p99 no worse than either peer',
  },
  {
    id: 'S2',
    title: '1 writer at 20 updates/s, 500 observers',
    observers: 500,
    writers: 1,
    rate: 20,
    target: 'p99 ≤ 40 ms',
  },
  {
    id: 'S3',
    title: '20 writers × 50 updates/s into one document, 5 observers',
    observers: 5,
    writers: 20,
    rate: 50,
    target: '≥ 1,000 updates/s sustained at ≤ 40 % of one core, p99 ≤ 40 ms',
  },
];
for (const w of FANOUT.filter((x) => only.includes(x.id))) {
  const results = await table<FanoutResult>(
    w.id,
    `${w.title}, ${seconds} s (target: ${w.target})`,
    [
      'updates/s',
      'samples',
      'p50 ms',
      'p95 ms',
      'p99 ms',
      'max ms',
      'server CPU % of a core',
      'peak RSS MB',
      'replicas converged',
    ],
    (s) => fanout(s, { observers: w.observers, writers: w.writers, rate: w.rate, seconds }),
    (r) => [
      f(r.throughput, 0),
      String(r.samples),
      f(r.p50),
      f(r.p95),
      f(r.p99),
      f(r.max),
      f(r.cpuPct, 1),
      f(r.peakRssMb, 0),
      r.converged ? 'yes' : `NO — failed run ${r.note}`,
    ],
    (o, p) => `p99 ${f(o.p99 / p.p99)} · p50 ${f(o.p50 / p.p50)} · CPU ${f(o.cpuPct / p.cpuPct)}`,
    true,
  );
  const ours = results.get('stagecoach');
  if (ours?.writePath) writePathTable(w.id, ours.writePath, ours.updates);
}

if (only.includes('S4')) {
  const s4 = Math.min(seconds, 30);
  const s4Results = await table(
    'S4',
    `200 documents × 1 writer × 10 updates/s, one observer each, ${s4} s (target: ≥ 2,000 durable updates/s, append p99 ≤ 5 ms; latency includes the append)`,
    ['delivered updates/s', 'of', 'p50 ms', 'p99 ms', 'max ms', 'server CPU %', 'peak RSS MB'],
    (s) => manyDocuments(s, { docs: 200, rate: 10, seconds: s4 }),
    (r) => [
      f(r.perSecond, 0),
      String(r.total),
      f(r.p50),
      f(r.p99),
      f(r.max),
      f(r.cpuPct, 1),
      f(r.peakRssMb, 0),
    ],
    (o, p) => `p99 ${f(o.p99 / p.p99)} · CPU ${f(o.cpuPct / p.cpuPct)}`,
    true,
  );
  const writePath = s4Results.get('stagecoach')?.writePath;
  if (writePath) writePathTable('S4', writePath, s4Results.get('stagecoach')!.total);
}

if (only.includes('S7')) {
  await table(
    'S7',
    '1,000 small documents with one connection each, then all disconnect (target: ≤ 15 KB per document+connection; ≤ 1 MB left after unload). Live heap = JS heap + external after a full GC in the server (a preloaded probe, same for every server); RSS as the OS sees it (V8 keeps freed pages).',
    [
      'live heap KB per document+connection',
      'live heap MB left after all disconnect',
      'RSS before MB',
      'RSS open MB',
      'RSS KB per document+connection',
      'RSS MB left',
    ],
    (s) => idleDocuments(s, 1000),
    (r) => [
      f(r.heapPerDocKb, 1),
      f(r.heapLeftMb, 2),
      f(r.beforeMb, 0),
      f(r.openMb, 0),
      f(r.perDocKb, 1),
      f(r.leftMb, 1),
    ],
    (o, p) => `live KB per document ${f(o.heapPerDocKb / p.heapPerDocKb)}`,
  );
}

if (only.includes('S8')) {
  await table(
    'S8',
    'a fresh client joins a 5 MB workspace document (2,000 articles), 10 joins one after another (target: synced ≤ 200 ms)',
    ['document bytes', 'median ms', 'max ms'],
    async (s) => {
      const bytes = await seedBig(s, s.room);
      const ms: number[] = [];
      for (let i = 0; i < 10; i++) ms.push((await joinOnce(s, s.room, bytes * 0.9)).ms);
      ms.sort((a, b) => a - b);
      return { bytes, median: ms[5]!, max: ms[9]! };
    },
    (r) => [r.bytes.toLocaleString('en'), f(r.median, 1), f(r.max, 1)],
    (o, p) => `median ${f(o.median / p.median)}`,
  );
}

if (only.includes('S9')) {
  await table(
    'S9',
    '200 clients join a 5 MB document within 1 s, right after a restart (memory-only servers: no restart possible, document already loaded) (target: all synced p99 ≤ 3 s, peak RSS ≤ 600 MB)',
    ['restarted', 'p50 ms', 'p99 ms', 'max ms', 'peak RSS MB'],
    async (s) => {
      const bytes = await seedBig(s, s.room);
      const server = s.restart ? await s.restart() : s;
      const r = await thunderingHerd(server, server.room, 200, 1000, bytes * 0.9);
      return { ...r, restarted: s.restart !== null, server };
    },
    (r) => [r.restarted ? 'yes' : 'no', f(r.p50, 0), f(r.p99, 0), f(r.max, 0), f(r.peakRssMb, 0)],
    (o, p) => `p99 ${f(o.p99 / p.p99)} · peak RSS ${f(o.peakRssMb / p.peakRssMb)}`,
  );
}

if (only.includes('S10')) {
  const s10 = Math.min(seconds, 30);
  await table(
    'S10',
    `100 clients each sending presence at 1 Hz, 1 writer at 20 updates/s, ${s10} s (target: ≤ 10 % of one core)`,
    ['server CPU % of a core', 'frames/s received by all clients'],
    (s) => presenceLoad(s, 100, s10),
    (r) => [f(r.cpuPct, 1), f(r.framesPerSecond, 0)],
    (o, p) => `CPU ${f(o.cpuPct / p.cpuPct)}`,
  );
}

report.write();
// Stock clients and timers of finished workloads may linger: the run is over.
process.exit(0);
