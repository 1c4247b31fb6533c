/** An instance name a runtime reports in `Stagecoach-Runtime`: 1–64 letters, digits, `.`, `_`, `:` or `-`. */
export const RUNTIME_NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;

/** Announcements of changed runtime reports, per environment, at most this often. */
export const RUNTIMES_CHANGED_MS = 500;

/**
 * Announcements per environment beyond RUNTIMES_CHANGED_MS: a burst of this many, then one per
 * RUNTIMES_REFILL_MS. A key holder cycling instance names otherwise made every open board of
 * production refetch twice a second, and wrote 170,000 events a day into the log (SEC-25).
 */
export const RUNTIMES_BURST = 5;
export const RUNTIMES_REFILL_MS = 10_000;

/** A runtime counts on the board while it has a stream open or was heard from this recently. */
export const RUNTIME_FRESH_MS = 2 * 60 * 1000;

interface Instance {
  /** What it was last given or confirmed it has (null: not known yet). */
  snapshotId: string | null;
  /** When it first reported `snapshotId` (its pickup; RTC-8). */
  since: number;
  seenAt: number;
  /** Its open delivery event streams. */
  open: number;
}

/**
 * What the runtimes of each environment serve, as they report it (`Stagecoach-Runtime` on delivery
 * requests): in memory, per process, bounded per environment (the least recently heard from goes
 * first). Only requests with a valid runtime key of the environment reach it.
 */
export function createRuntimeReports(opts: {
  maxPerEnvironment: number;
  now?: () => number;
  /**
   * Told when an instance appears or reports another snapshot; at most once per environment per
   * RUNTIMES_CHANGED_MS (the board refetches on it).
   */
  changed?: (envId: string) => Promise<void>;
}) {
  const now = opts.now ?? Date.now;
  const byEnv = new Map<string, Map<string, Instance>>();
  const fresh = (i: Instance, at: number) => i.open > 0 || at - i.seenAt <= RUNTIME_FRESH_MS;
  const pending = new Set<string>();
  /** Announcements each environment may still make at once (a token bucket, RUNTIMES_BURST). */
  const budget = new Map<string, { tokens: number; at: number }>();
  /** Coalesced: a burst of pickups after a Publish is one announcement; many bursts are slowed. */
  function announce(envId: string): void {
    if (!opts.changed || pending.has(envId)) return;
    pending.add(envId);
    const at = now();
    const b = budget.get(envId) ?? { tokens: RUNTIMES_BURST, at };
    b.tokens = Math.min(RUNTIMES_BURST, b.tokens + (at - b.at) / RUNTIMES_REFILL_MS) - 1;
    b.at = at;
    budget.set(envId, b);
    const delay = Math.max(RUNTIMES_CHANGED_MS, Math.ceil(-b.tokens * RUNTIMES_REFILL_MS));
    setTimeout(() => {
      pending.delete(envId);
      void opts.changed!(envId);
    }, delay).unref();
  }

  function instance(envId: string, name: string): Instance {
    let env = byEnv.get(envId);
    if (!env) byEnv.set(envId, (env = new Map()));
    let i = env.get(name);
    if (i) {
      // Most recently heard from last: the first entry is the one to drop.
      env.delete(name);
    } else {
      i = { snapshotId: null, since: 0, seenAt: 0, open: 0 };
      announce(envId);
      while (env.size >= opts.maxPerEnvironment) {
        const idle = [...env].find(([, o]) => o.open === 0);
        env.delete((idle ?? [...env][0]!)[0]);
      }
    }
    env.set(name, i);
    i.seenAt = now();
    return i;
  }

  /**
   * Fresh runtimes of the environment (heard from in the last RUNTIME_FRESH_MS or holding a stream
   * open), by name; at most `maxPerEnvironment`. Forgets the others.
   */
  function list(envId: string): {
    instance: string;
    snapshotId: string | null;
    lastSeenAt: number;
    /** When it first reported `snapshotId`. */
    pickedUpAt: number;
    streaming: boolean;
  }[] {
    const env = byEnv.get(envId);
    if (!env) return [];
    const at = now();
    const out = [];
    for (const [name, i] of env) {
      if (!fresh(i, at)) {
        env.delete(name);
        continue;
      }
      out.push({
        instance: name,
        snapshotId: i.snapshotId,
        lastSeenAt: i.open > 0 ? at : i.seenAt,
        pickedUpAt: i.since,
        streaming: i.open > 0,
      });
    }
    if (env.size === 0) byEnv.delete(envId);
    return out.sort((a, b) => (a.instance < b.instance ? -1 : a.instance > b.instance ? 1 : 0));
  }

  return {
    /** A delivery request of `name`; `snapshotId`: what it now has (null: unchanged). */
    report(envId: string, name: string, snapshotId: string | null): void {
      const i = instance(envId, name);
      if (snapshotId === null || i.snapshotId === snapshotId) return;
      if (i.snapshotId !== null) announce(envId);
      i.snapshotId = snapshotId;
      i.since = i.seenAt;
    },
    /** A delivery event stream of `name` opened; returns what closes it (once). */
    connect(envId: string, name: string): () => void {
      instance(envId, name).open++;
      let closed = false;
      return () => {
        if (closed) return;
        closed = true;
        const i = byEnv.get(envId)?.get(name);
        if (!i) return;
        i.open = Math.max(0, i.open - 1);
        i.seenAt = now();
      };
    },
    /**
     * Fresh runtimes of the environment, how many of them have `snapshotId`, and the slowest pickup
     * among those: how long after `publishedAt` (epoch ms; null: unknown) the last of them first
     * reported it (0 for one that already had it; null when none is on it or the time is unknown).
     */
    summary(
      envId: string,
      snapshotId: string | null,
      publishedAt: number | null = null,
    ): { total: number; onIt: number; oldestPickupMs: number | null } {
      let total = 0;
      let onIt = 0;
      let oldestPickupMs: number | null = null;
      for (const i of list(envId)) {
        total++;
        if (snapshotId === null || i.snapshotId !== snapshotId) continue;
        onIt++;
        if (publishedAt !== null)
          oldestPickupMs = Math.max(oldestPickupMs ?? 0, i.pickedUpAt - publishedAt);
      }
      return { total, onIt, oldestPickupMs };
    },
    list,
  };
}

export type RuntimeReports = ReturnType<typeof createRuntimeReports>;
