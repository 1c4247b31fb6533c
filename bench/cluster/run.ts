// The several-process benchmark: `npm run bench:cluster` (-- --spread direct: clients round-robin
// straight to the processes instead of through the balancer). BENCH_SECONDS (default 20) per
// workload, BENCH_ONLY=S1,S4 picks workloads, BENCH_S4_RATE (default 10) the updates/s of each of
// S4's 200 writers (raise it to find where one process saturates).
// Workloads S1, S3 and S4 of `npm run bench` (bench/sync), each against: today's single process on
// SQLite (as `npm run bench` runs it), 1 process on PostgreSQL, 3 processes on PostgreSQL behind
// the test balancer, and the peers of BENCH_PEERS (default: y-websocket-server in memory and with
// leveldb; `none` for none), with our set-ups' ratios to the best of them. Every setup is fresh per workload. Tables merge into bench/RESULTS.md as
// S1-cluster, S3-cluster, S4-cluster.
import os from 'node:os';
import path from 'node:path';
import { postgresBinDir } from '../../test/helpers/postgres.ts';
import { fanout } from '../sync/fanout.ts';
import type { CpuShare } from '../sync/stats.ts';
import { manyDocuments } from '../sync/workloads.ts';
import { Report, fmt as f } from '../results.ts';
import { SERVERS, type ServerName } from '../sync/servers.ts';
import { oneProcess, postgresSetup, sqliteSetup, type Setup, type Spread } from './setups.ts';

// Stopped from outside (Ctrl-C, `timeout`): exit, so that the helpers' exit handlers kill the
// processes and PostgreSQL they started and delete their data.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(1));

const seconds = Number(process.env.BENCH_SECONDS ?? 20);
const only = (process.env.BENCH_ONLY ?? 'S1,S3,S4').split(',');
const s4Rate = Number(process.env.BENCH_S4_RATE ?? 10);
const flag = process.argv.indexOf('--spread');
const spread = (flag > 0 ? process.argv[flag + 1] : 'balancer') as Spread;
if (spread !== 'balancer' && spread !== 'direct') {
  console.error(`--spread must be balancer or direct, not ${String(spread)}`);
  process.exit(2);
}

/**
 * The peers each workload also runs against (BENCH_PEERS, comma-separated; `none` for none): the
 * targets of issue 18 are relative to them, and they are one process each.
 */
const PEERS = (process.env.BENCH_PEERS ?? 'y-websocket-server,y-websocket-server+leveldb')
  .split(',')
  .filter((p) => p !== 'none' && p !== '') as ServerName[];
for (const peer of PEERS)
  if (!(SERVERS as readonly string[]).includes(peer) || peer === 'stagecoach') {
    console.error(`BENCH_PEERS: ${peer} is not one of ${SERVERS.slice(1).join(', ')}`);
    process.exit(2);
  }

const SETUPS: { label: string; start: () => Promise<Setup> }[] = [
  { label: 'SQLite, 1 process', start: sqliteSetup },
  { label: 'PostgreSQL, 1 process', start: () => postgresSetup(1, spread) },
  { label: `PostgreSQL, 3 processes (${spread})`, start: () => postgresSetup(3, spread) },
  ...PEERS.map((peer) => ({ label: `${peer} (peer)`, start: () => oneProcess(peer) })),
];

/** What every workload reports, in the shape of the table's columns. */
interface Figures {
  /** Updates/s the writers sent (S1, S3) or the observers received (S4). */
  perSecond: number;
  p50: number;
  p99: number;
  max: number;
  cpu: CpuShare[];
  /** Whether every update arrived (and, S1/S3, the stock replicas converged). */
  complete: string;
}

interface Workload {
  id: string;
  title: string;
  perSecondColumn: string;
  measure: (s: Setup) => Promise<Figures>;
}

const fanoutWorkload = (
  id: string,
  title: string,
  opts: { observers: number; writers: number; rate: number },
): Workload => ({
  id,
  title,
  perSecondColumn: 'updates/s sent',
  measure: async (s) => {
    const r = await fanout(s.server, { ...opts, seconds });
    return { ...r, perSecond: r.throughput, complete: r.converged ? 'yes' : `NO ${r.note}` };
  },
});

const s4Seconds = Math.min(seconds, 30);
const WORKLOADS: Workload[] = [
  fanoutWorkload('S1', '1 writer at 20 updates/s, 49 observers, one document', {
    observers: 49,
    writers: 1,
    rate: 20,
  }),
  fanoutWorkload('S3', '20 writers × 50 updates/s into one document, 5 observers', {
    observers: 5,
    writers: 20,
    rate: 50,
  }),
  {
    id: 'S4',
    title: `200 documents × 1 writer × ${s4Rate} updates/s, one observer each (latency includes the durable append)`,
    perSecondColumn: 'updates/s delivered',
    measure: async (s) => {
      const r = await manyDocuments(s.server, { docs: 200, rate: s4Rate, seconds: s4Seconds });
      return { ...r, complete: `${r.received} of ${r.total}` };
    },
  },
];

const report = new Report('Several processes');
report.say(
  `Each workload against today's single process on SQLite (dist/server.js, as \`npm run bench\`), 1 process on PostgreSQL ${path.basename(path.dirname(postgresBinDir()))} and 3 processes on it, all with Redis, then ${PEERS.length > 0 ? PEERS.join(' and ') : 'no peer'} (one process each, as \`npm run bench\` starts them); the processes run dist/server.js on this machine, PostgreSQL durable (on disk, fsync on). Clients: ${spread === 'balancer' ? "through the test balancer (a draft's sockets hashed to one process; HTTP round-robin)" : 'round-robin straight to the processes (--spread direct)'}. CPU in % of one core per process (n1, n2, n3), then PostgreSQL's backends together and the balancer (a process of its own, in front of both PostgreSQL set-ups). The load clients run in this process on the same cores. Load average at the start: ${os.loadavg()[0]!.toFixed(1)} (other work on this machine skews every figure).`,
);

/** Runs `w` once on a fresh `setup`; null with the reason when it could not. */
async function once(w: Workload, setup: Setup): Promise<Figures | string> {
  const refused = await setup.refused(setup.server.room);
  if (refused) return `clients refused (no relay?): ${refused}`;
  // A workload that cannot finish (clients refused mid-run) is reported, not waited on forever.
  const limit = (seconds + 120) * 1000;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<string>(
    (resolve) =>
      (timer = setTimeout(() => resolve(`did not finish within ${limit / 1000} s`), limit)),
  );
  const lost = setup.leasesLost();
  try {
    const r = await Promise.race([w.measure(setup), late]);
    const lostNow = setup.leasesLost() - lost;
    if (typeof r === 'string' || lostNow === 0) return r;
    return {
      ...r,
      complete: `${r.complete}; ${lostNow} drafts' leases lost (4502 to their clients)`,
    };
  } finally {
    clearTimeout(timer);
  }
}

/** Our processes: everything but the database and the balancer. */
const HELPERS = ['postgres', 'balancer'];
const ours = (cpu: CpuShare[]) => cpu.filter((c) => !HELPERS.includes(c.name));
const cpuCell = (cpu: CpuShare[]) =>
  ours(cpu)
    .map((c) => f(c.pct, 1))
    .join(' · ');
/** The CPU of the processes called `name` together ('—' when there are none). */
const helperCpu = (cpu: CpuShare[], name: string) => {
  const of = cpu.filter((c) => c.name === name);
  return of.length
    ? f(
        of.reduce((sum, c) => sum + c.pct, 0),
        1,
      )
    : '—';
};
const busiest = (cpu: CpuShare[]) => Math.max(...ours(cpu).map((c) => c.pct));

for (const w of WORKLOADS.filter((x) => only.includes(x.id))) {
  const duration = w.id === 'S4' ? s4Seconds : seconds;
  report.say();
  report.say(`## ${w.id}-cluster — ${w.title}, ${duration} s`);
  report.say();
  const columns = [
    w.perSecondColumn,
    'p50 ms',
    'p99 ms',
    'max ms',
    'CPU % per process',
    'PostgreSQL CPU %',
    'balancer CPU %',
    'complete',
  ];
  report.say(`| setup | ${columns.join(' | ')} |`);
  report.say(`|---|${columns.map(() => '---').join('|')}|`);
  const results = new Map<string, Figures>();
  for (const s of SETUPS) {
    let setup: Setup | undefined;
    try {
      setup = await s.start();
      const r = await once(w, setup);
      if (typeof r === 'string') {
        report.say(`| ${s.label} | ${r} |`);
        continue;
      }
      results.set(s.label, r);
      report.say(
        `| ${s.label} | ${[f(r.perSecond, 0), f(r.p50), f(r.p99), f(r.max), cpuCell(r.cpu), helperCpu(r.cpu, 'postgres'), helperCpu(r.cpu, 'balancer'), r.complete].join(' | ')} |`,
      );
    } catch (err) {
      report.say(`| ${s.label} | failed: ${(err as Error).message.split('\n')[0]} |`);
    } finally {
      await setup?.server.stop();
    }
  }
  const notes: string[] = [];
  const one = results.get(SETUPS[1]!.label);
  const three = results.get(SETUPS[2]!.label);
  if (one && three) {
    // Updates/s per core of the busiest process: the rate at which that process would be full, if
    // its cost per update stays the same (an extrapolation, on a machine with 2 cores in all).
    const capacity = (r: Figures) => (r.perSecond / busiest(r.cpu)) * 100;
    notes.push(
      `1 → 3 processes: ${w.perSecondColumn} ×${f(three.perSecond / one.perSecond)}; busiest process ${f(busiest(one.cpu), 1)} % → ${f(busiest(three.cpu), 1)} % of a core; updates/s until the busiest process is full (extrapolated) ${f(capacity(one), 0)} → ${f(capacity(three), 0)} (×${f(capacity(three) / capacity(one))})`,
    );
  }
  // Issue 18's targets are ratios to the best peer (by p99): each of our set-ups against it.
  const total = (r: Figures) => ours(r.cpu).reduce((n, c) => n + c.pct, 0);
  const best = [...results]
    .filter(([label]) => label.endsWith('(peer)'))
    .sort(([, a], [, b]) => a.p99 - b.p99)[0];
  if (best)
    for (const [label, r] of results)
      if (!label.endsWith('(peer)'))
        notes.push(
          `${label} / ${best[0]}: p50 ×${f(r.p50 / best[1].p50)} · p99 ×${f(r.p99 / best[1].p99)} · CPU of our processes ×${f(total(r) / total(best[1]))}`,
        );
  if (notes.length > 0) report.say();
  for (const note of notes) report.say(`- ${note}`);
  // Written after every workload: a run stopped halfway keeps what it measured.
  report.write();
}

report.write();
// Stock clients and timers of finished workloads may linger: the run is over.
process.exit(0);
