import fs from 'node:fs';

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/**
 * Seconds of load a timed workload (S1–S4) sends before it measures anything (BENCH_WARMUP,
 * default 3), the same for every server: the first seconds measured the server's JIT warming up
 * and the collection of what setting the workload up left behind (200 projects made over HTTP: a
 * 42 ms mark-sweep), and swung S4's p99 between 6 and 86 ms from run to run.
 */
export const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP ?? 3);

/** CPU time (user + system, in seconds) of a process, from /proc. */
export function cpuSeconds(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks / 100;
}

/** Resident and peak resident memory (MB) of a process, from /proc. */
export function memoryMb(pid: number): { rss: number; peak: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

/** The processes whose CPU a workload reports: a cluster's nodes and database, or the one server. */
export function processesOf(server: {
  name: string;
  pid: number;
  processes?: () => { name: string; pid: number }[];
}): () => { name: string; pid: number }[] {
  return () => server.processes?.() ?? [{ name: server.name, pid: server.pid }];
}

/**
 * Starts measuring the CPU of the processes `list` names; the function it returns gives each one's
 * CPU since then, in % of one core. `list` is read again at the end: a process started meanwhile (a
 * database backend the pool opened) counts all its CPU; one gone meanwhile counts nothing.
 */
export function cpuMeter(list: () => { name: string; pid: number }[]): () => CpuShare[] {
  const read = (pid: number) => {
    try {
      return cpuSeconds(pid);
    } catch {
      return null;
    }
  };
  const t0 = performance.now();
  const start = new Map(list().map((p) => [p.pid, read(p.pid) ?? 0]));
  return () => {
    const wall = (performance.now() - t0) / 1000;
    return list().map((p) => {
      const now = read(p.pid);
      const used = now === null ? 0 : now - (start.get(p.pid) ?? 0);
      return { name: p.name, pct: (used / wall) * 100 };
    });
  };
}

export interface CpuShare {
  name: string;
  /** % of one core. */
  pct: number;
}

/**
 * Waits until `due` (performance.now() time). A sender behind its schedule yields to the event
 * loop every `every` sends (`k`) instead of sending its whole backlog in one go: otherwise, on a
 * busy machine, the receipts it times wait behind the burst and latency measures the load
 * generator's stall.
 */
export async function until(due: number, k: number, every = 20): Promise<void> {
  const wait = due - performance.now();
  if (wait > 1) await new Promise((r) => setTimeout(r, wait));
  else if (k % every === 0) await new Promise((r) => setImmediate(r));
}
