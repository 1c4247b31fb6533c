// Summarizes a CPU profile written by BENCH_PROFILE (`node bench/sync/profile-summary.ts FILE
// [--from SECONDS] [--to SECONDS] [--top N]`): where the busy time went, by function (self), by
// package or file (self), and by function including what it called. `--from` and `--to` bound the
// seconds read (after start-up and set-up, before shutdown), so the summary reads the measured
// window. Our server runs as one bundle (dist/server.js holds Yjs, ws and drizzle too): compare it
// with a peer by function, not by package.
import fs from 'node:fs';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    from: { type: 'string', default: '0' },
    to: { type: 'string', default: 'Infinity' },
    top: { type: 'string', default: '30' },
  },
});
if (positionals.length !== 1) {
  console.error(
    'usage: node bench/sync/profile-summary.ts FILE [--from SECONDS] [--to SECONDS] [--top N]',
  );
  process.exit(2);
}
const profile = JSON.parse(fs.readFileSync(positionals[0]!, 'utf8')) as Profile;
const fromUs = Number(values.from) * 1e6;
const toUs = Number(values.to) * 1e6;
const top = Number(values.top);

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parentOf = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id);

/** A function as `name file:line`, the file shortened to its last two path parts. */
const fn = ({ callFrame: f }: ProfileNode) =>
  `${f.functionName || '(anonymous)'} ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber}`;
/** The package a frame belongs to (scoped ones whole), else its file, else its name (native). */
function place({ callFrame: f }: ProfileNode): string {
  const inModules = f.url.split('node_modules/').at(-1)!;
  if (inModules !== f.url) {
    const parts = inModules.split('/');
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
  }
  return f.url ? f.url.split('/').slice(-2).join('/') : f.functionName;
}

const self = new Map<string, number>();
const places = new Map<string, number>();
const inclusive = new Map<string, number>();
const add = (m: Map<string, number>, k: string, us: number) => m.set(k, (m.get(k) ?? 0) + us);
let at = 0;
let total = 0;
let idle = 0;
for (const [i, id] of profile.samples.entries()) {
  const us = profile.timeDeltas[i] ?? 0;
  at += us;
  if (at < fromUs || at > toUs) continue;
  const node = byId.get(id)!;
  total += us;
  if (node.callFrame.functionName === '(idle)') {
    idle += us;
    continue;
  }
  add(self, fn(node), us);
  add(places, place(node), us);
  const counted = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parentOf.get(cur)) {
    const key = fn(byId.get(cur)!);
    if (!counted.has(key)) add(inclusive, key, us);
    counted.add(key);
  }
}

const busy = total - idle;
const ms = (us: number) => (us / 1000).toFixed(0).padStart(7);
console.log(
  `${positionals[0]}: ${ms(total)} ms sampled from ${values.from} s to ${values.to} s, busy ${ms(busy)} ms (${((100 * busy) / total).toFixed(1)} %)`,
);
for (const [title, m] of [
  ['self, by function', self],
  ['self, by package or file', places],
  ['inclusive, by function', inclusive],
] as const) {
  console.log(`\n${title} (share of busy time)`);
  for (const [k, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top))
    console.log(`${((100 * us) / busy).toFixed(1).padStart(5)} % ${ms(us)} ms  ${k}`);
}
