import fs from 'node:fs';
import path from 'node:path';
import {
  constants,
  monitorEventLoopDelay,
  performance,
  PerformanceObserver,
  type ELDHistogram,
} from 'node:perf_hooks';

/**
 * Where an update's time goes on its way through the server (issue 18). With
 * WRITE_PATH_TIMING=1 each stage's time is added up; SIGUSR1 writes the totals since the last
 * signal to `<DATA_DIR>/write-path-timing.json` (with the event loop's busy share and delay, and
 * GC pauses, over the same time) and starts again. Off (the default) a stage costs
 * one boolean check. `BENCH_BREAKDOWN=1 npm run bench` prints the breakdown under S4.
 */
export const STAGES = {
  decode: 'the frame decoded (y-websocket message)',
  checks: 'structure read by hand (readShape: structs, delete order, well-formed), the size budget',
  shadow: 'applied to the shadow replica, every item and section checked',
  apply: 'the document takes the accepted updates it lags by (WP-1), one transaction per catch-up',
  append: 'appended to the SQLite log, one transaction per group commit',
  broadcast: 'framed and written to every other peer',
} as const;
export type Stage = keyof typeof STAGES;

export interface StageTotal {
  ms: number;
  count: number;
  /** The longest single time in this stage. */
  maxMs: number;
}

/** Something that held the event loop: when (ms since the window began) and for how long. */
export interface Pause {
  atMs: number;
  ms: number;
  /** For GC: minor, major, incremental or weak callbacks. */
  kind?: string;
}

/** What SIGUSR1 writes: the stages' totals, and the event loop and GC over the same time. */
export interface WritePathReport {
  stages: Record<Stage, StageTotal>;
  /** Share of the time the event loop ran (0–1), and how late its timers fired (ms). */
  loop: { busy: number; delayMs: { p50: number; p99: number; max: number } };
  /** Garbage collection: pauses of the main thread, the longest few of them. */
  gc: { count: number; ms: number; maxMs: number; longest: Pause[] };
  /** The longest few times a 5 ms timer fired more than 10 ms late (the loop was held). */
  stalls: Pause[];
}

/** How many of the longest pauses a report keeps. */
const KEEP = 5;
const GC_KINDS: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak callbacks',
};

/** Keeps the KEEP longest of `list` and `pause`. */
function keep(list: Pause[], pause: Pause): void {
  list.push(pause);
  list.sort((a, b) => b.ms - a.ms);
  list.length = Math.min(list.length, KEEP);
}

let on = false;
let totals = fresh();
let delay: ELDHistogram | null = null;
let busySince = performance.eventLoopUtilization();
let gc = freshGc();
let stalls: Pause[] = [];
let since = performance.now();

function freshGc(): WritePathReport['gc'] {
  return { count: 0, ms: 0, maxMs: 0, longest: [] };
}

function fresh(): Record<Stage, StageTotal> {
  const out = {} as Record<Stage, StageTotal>;
  for (const s of Object.keys(STAGES) as Stage[]) out[s] = { ms: 0, count: 0, maxMs: 0 };
  return out;
}

function report(): WritePathReport {
  const ms = (ns: number) => ns / 1e6;
  return {
    stages: totals,
    loop: {
      busy: performance.eventLoopUtilization(busySince).utilization,
      delayMs: {
        p50: ms(delay!.percentile(50)),
        p99: ms(delay!.percentile(99)),
        max: ms(delay!.max),
      },
    },
    gc,
    stalls,
  };
}

/** Turns timing on and answers SIGUSR1 with the totals in `dataDir`. */
export function enableWritePathTiming(dataDir: string): void {
  on = true;
  delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  busySince = performance.eventLoopUtilization();
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gc.count++;
      gc.ms += e.duration;
      gc.maxMs = Math.max(gc.maxMs, e.duration);
      const kind = (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind;
      keep(gc.longest, {
        atMs: e.startTime - since,
        ms: e.duration,
        kind: GC_KINDS[kind ?? -1] ?? String(kind),
      });
    }
  }).observe({ entryTypes: ['gc'] });
  let last = performance.now();
  setInterval(() => {
    const now = performance.now();
    const late = now - last - 5;
    last = now;
    if (late > 10) keep(stalls, { atMs: now - late - since, ms: late });
  }, 5).unref();
  process.on('SIGUSR1', () => {
    const file = path.join(dataDir, 'write-path-timing.json');
    fs.writeFileSync(`${file}.tmp`, JSON.stringify(report()));
    fs.renameSync(`${file}.tmp`, file);
    totals = fresh();
    delay!.reset();
    busySince = performance.eventLoopUtilization();
    gc = freshGc();
    stalls = [];
    since = performance.now();
  });
}

/** Now, when timing is on (0 otherwise): the start of a stage. */
export const clock = (): number => (on ? performance.now() : 0);

/** Adds the time since `since` to `stage`; returns now, the start of the next stage. */
export function lap(stage: Stage, since: number): number {
  if (!on) return 0;
  const now = performance.now();
  const total = totals[stage];
  total.ms += now - since;
  total.count++;
  total.maxMs = Math.max(total.maxMs, now - since);
  return now;
}
