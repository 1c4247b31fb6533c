/**
 * Failed sign-ins counted per key (an account, an address) in a sliding window. In memory:
 * one process serves one instance; a restart forgets (documented in the README).
 */
export function createFailureLimiter(opts: { max: number; windowMs: number }) {
  const failures = new Map<string, number[]>();
  const recent = (key: string, now: number) => (failures.get(key) ?? []).filter((t) => now - t < opts.windowMs);
  return {
    /** Seconds to wait before trying again, or 0 when allowed. */
    retryAfter(key: string, now = Date.now()): number {
      const list = recent(key, now);
      failures.set(key, list);
      if (list.length < opts.max) return 0;
      return Math.ceil((list[0]! + opts.windowMs - now) / 1000);
    },
    fail(key: string, now = Date.now()): void {
      const list = recent(key, now);
      list.push(now);
      failures.set(key, list);
      if (failures.size > 50_000) for (const k of [...failures.keys()].slice(0, 10_000)) failures.delete(k);
    },
    reset(key: string): void {
      failures.delete(key);
    },
  };
}
