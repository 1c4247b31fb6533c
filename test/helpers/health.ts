/** What DoS tests measure of the in-process test server while an attack runs: `/api/health` answer times and RSS. */

export interface HealthFigures {
  /** The slowest answer, in ms. */
  maxMs: number;
  /** How many answers there were. */
  count: number;
}

/** Asks `GET /api/health` one request after another while `running()` holds (checked before each ask). */
export async function healthWhile(httpUrl: string, running: () => boolean): Promise<HealthFigures> {
  let maxMs = 0;
  let count = 0;
  while (running()) {
    const t0 = performance.now();
    const res = await fetch(`${httpUrl}/api/health`);
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`health answered ${res.status}`);
    maxMs = Math.max(maxMs, performance.now() - t0);
    count++;
  }
  return { maxMs, count };
}

/** Asks `/api/health` until `stop()`, which resolves with the figures. */
export function healthProbe(httpUrl: string): { stop(): Promise<HealthFigures> } {
  let running = true;
  const figures = healthWhile(httpUrl, () => running);
  return {
    stop() {
      running = false;
      return figures;
    },
  };
}

/** Resident memory of this process (the test server runs in it), in MB. */
export const rssMb = (): number => process.memoryUsage().rss / 1e6;

/** Tracks the highest RSS seen until `stop()` (sampled every 20 ms; a sample, not a wait). */
export function rssPeak(): { stop(): number } {
  let peak = rssMb();
  const timer = setInterval(() => (peak = Math.max(peak, rssMb())), 20);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, rssMb());
    },
  };
}
