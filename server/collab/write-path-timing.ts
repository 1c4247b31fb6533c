import fs from 'node:fs';
import path from 'node:path';

/**
 * Where an update's time goes on its way through the server (issue 18). With
 * WRITE_PATH_TIMING=1 each stage's time is added up; SIGUSR1 writes the totals since the last
 * signal to `<DATA_DIR>/write-path-timing.json` and starts again. Off (the default) a stage costs
 * one boolean check. `BENCH_BREAKDOWN=1 npm run bench` prints the breakdown under S4.
 */
export const STAGES = {
  decode: 'the frame decoded (y-websocket message)',
  checks: 'structure checks: struct count, a decode, delete order, the size budget',
  shadow: 'applied to the shadow replica, every item and section checked',
  apply: 'applied to the document (its update event queues the append)',
  append: 'appended to the SQLite log, one transaction per group commit',
  broadcast: 'framed and written to every other peer',
} as const;
export type Stage = keyof typeof STAGES;

export interface StageTotal {
  ms: number;
  count: number;
}

let on = false;
let totals = fresh();

function fresh(): Record<Stage, StageTotal> {
  const out = {} as Record<Stage, StageTotal>;
  for (const s of Object.keys(STAGES) as Stage[]) out[s] = { ms: 0, count: 0 };
  return out;
}

/** Turns timing on and answers SIGUSR1 with the totals in `dataDir`. */
export function enableWritePathTiming(dataDir: string): void {
  on = true;
  process.on('SIGUSR1', () => {
    const file = path.join(dataDir, 'write-path-timing.json');
    fs.writeFileSync(`${file}.tmp`, JSON.stringify(totals));
    fs.renameSync(`${file}.tmp`, file);
    totals = fresh();
  });
}

/** Now, when timing is on (0 otherwise): the start of a stage. */
export const clock = (): number => (on ? performance.now() : 0);

/** Adds the time since `since` to `stage`; returns now, the start of the next stage. */
export function lap(stage: Stage, since: number): number {
  if (!on) return 0;
  const now = performance.now();
  totals[stage].ms += now - since;
  totals[stage].count++;
  return now;
}
