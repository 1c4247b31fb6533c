import fs from 'node:fs';

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

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
}): { name: string; pid: number }[] {
  return server.processes?.() ?? [{ name: server.name, pid: server.pid }];
}

/**
 * Starts measuring the CPU of `procs`; the function it returns gives each one's CPU since then, in
 * % of one core. A process gone meanwhile (a database backend that ended) counts what it used
 * until the last reading that saw it.
 */
export function cpuMeter(procs: { name: string; pid: number }[]): () => CpuShare[] {
  const read = (pid: number, fallback: number) => {
    try {
      return cpuSeconds(pid);
    } catch {
      return fallback;
    }
  };
  const t0 = performance.now();
  const start = procs.map((p) => read(p.pid, 0));
  return () => {
    const wall = (performance.now() - t0) / 1000;
    return procs.map((p, i) => ({
      name: p.name,
      pct: ((read(p.pid, start[i]!) - start[i]!) / wall) * 100,
    }));
  };
}

export interface CpuShare {
  name: string;
  /** % of one core. */
  pct: number;
}
