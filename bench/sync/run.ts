// The sync benchmark: `npm run bench` (BENCH_SECONDS shortens a run; BENCH_ONLY=S1,S2 picks workloads;
// BENCH_SERVERS=stagecoach,hocuspocus picks servers).
// Each server runs in its own process on loopback; the load client runs here. Prints one table
// per workload with every server and ours/peer ratios, and writes bench/RESULTS.md.
import fs from 'node:fs';
import os from 'node:os';
import { fanout, type FanoutResult } from './fanout.ts';
import { SERVERS, startServer } from './servers.ts';

const seconds = Number(process.env.BENCH_SECONDS ?? 60);
const only = (process.env.BENCH_ONLY ?? 'S1,S2,S3').split(',');
const servers = SERVERS.filter((s) => !process.env.BENCH_SERVERS || process.env.BENCH_SERVERS.split(',').includes(s));

const WORKLOADS = [
  { id: 'S1', title: '1 writer at 20 updates/s, 49 observers', observers: 49, rate: 20, target: 'p50 ≤ 3 ms, p99 ≤ 12 ms, p99 no worse than either peer' },
  { id: 'S2', title: '1 writer at 20 updates/s, 500 observers', observers: 500, rate: 20, target: 'p99 ≤ 40 ms' },
  { id: 'S3', title: '20 writers × 50 updates/s into one document, 5 observers', observers: 5, writers: 20, rate: 50, target: '≥ 1,000 updates/s sustained at ≤ 40 % of one core, p99 ≤ 40 ms' },
].filter((w) => only.includes(w.id));

const f = (n: number, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');
const lines: string[] = [];
const say = (s = '') => {
  console.log(s);
  lines.push(s);
};

say(`# Sync benchmark results`);
say();
say(`${new Date().toISOString()} · ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'} · ${Math.round(os.totalmem() / 2 ** 30)} GiB · Node ${process.version}`);
say(`Servers: stagecoach (this repo; update log appended in SQLite before broadcast, auth, read-only checks), @y/websocket-server 0.1.1 (memory; and with its leveldb persistence), @hocuspocus/server 4.7.0 (memory; and with @hocuspocus/extension-database storing into SQLite). Latency = time from the writer's send to an observer's receipt, all observers pooled.`);

for (const w of WORKLOADS) {
  say();
  say(`## ${w.id} — ${w.title}, ${seconds} s (target: ${w.target})`);
  say();
  say('| server | updates/s | samples | p50 ms | p95 ms | p99 ms | max ms | server CPU % of a core | peak RSS MB | replicas converged |');
  say('|---|---|---|---|---|---|---|---|---|---|');
  const results: FanoutResult[] = [];
  for (const name of servers) {
    const server = await startServer(name);
    try {
      const r = await fanout(server, { observers: w.observers, writers: 'writers' in w ? w.writers : 1, rate: w.rate, seconds });
      results.push(r);
      say(`| ${r.server} | ${f(r.throughput, 0)} | ${r.samples} | ${f(r.p50)} | ${f(r.p95)} | ${f(r.p99)} | ${f(r.max)} | ${f(r.cpuPct, 1)} | ${f(r.peakRssMb, 0)} | ${r.converged ? 'yes' : `NO — failed run ${r.note}`} |`);
    } finally {
      await server.stop();
    }
  }
  const ours = results.find((r) => r.server === 'stagecoach');
  if (ours) {
    say();
    for (const peer of results.filter((r) => r !== ours)) say(`- p99 ours / ${peer.server}: ${f(ours.p99 / peer.p99)} · p50 ratio ${f(ours.p50 / peer.p50)} · CPU ratio ${f(ours.cpuPct / peer.cpuPct)}`);
  }
}

// Keep the sections of workloads this run did not cover (a run may be narrowed with BENCH_ONLY).
const sections = (text: string) => new Map(text.split(/^(?=## )/m).slice(1).map((sec) => [sec.slice(3, sec.indexOf(' ', 3)), sec.trimEnd()]));
const previous = fs.existsSync('bench/RESULTS.md') ? sections(fs.readFileSync('bench/RESULTS.md', 'utf8')) : new Map<string, string>();
const current = sections(lines.join('\n'));
const header = lines.join('\n').split(/^## /m)[0]!.trimEnd();
const merged = [...new Set([...previous.keys(), ...current.keys()])].sort().map((id) => current.get(id) ?? previous.get(id)!);
fs.writeFileSync('bench/RESULTS.md', `${[header, ...merged].join('\n\n')}\n`);
console.log('\nwritten to bench/RESULTS.md');
