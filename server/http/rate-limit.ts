import { windowRetryAfter } from '../lib/rates.ts';

/**
 * Sign-in attempts counted per key in a sliding window. In memory: one process serves one
 * instance; a restart forgets (documented in the README).
 */
export function createAttemptCounter(opts: { max: number; windowMs: number }) {
  const attempts = new Map<string, number[]>();
  const recent = (key: string, now: number) =>
    (attempts.get(key) ?? []).filter((t) => now - t < opts.windowMs);
  return {
    /** Seconds to wait before trying again, or 0 when one more attempt is allowed. */
    retryAfter(key: string, now: number): number {
      const list = recent(key, now);
      if (list.length === 0) attempts.delete(key);
      else attempts.set(key, list);
      return windowRetryAfter(list, opts.max, opts.windowMs, now);
    },
    add(key: string, now: number): void {
      const list = recent(key, now);
      list.push(now);
      attempts.set(key, list);
      // Bounded memory under a flood of distinct keys: the oldest keys go first.
      if (attempts.size > 50_000)
        for (const k of [...attempts.keys()].slice(0, 10_000)) attempts.delete(k);
    },
    /** Takes back one attempt made at `at` (it turned out to be the right password). */
    remove(key: string, at: number): void {
      const list = attempts.get(key);
      const i = list?.indexOf(at) ?? -1;
      if (i >= 0) list!.splice(i, 1);
    },
    reset(key: string): void {
      attempts.delete(key);
    },
    /** The keys that must wait now, among those `match` accepts (one pass over the keys). */
    waiting(match: (key: string) => boolean, now: number): string[] {
      return [...attempts.keys()].filter((k) => match(k) && this.retryAfter(k, now) > 0);
    },
    /** Forgets every key `match` accepts (unlocking an account). */
    resetWhere(match: (key: string) => boolean): void {
      for (const k of [...attempts.keys()]) if (match(k)) attempts.delete(k);
    },
  };
}

/**
 * The sign-in limits (SEC-19):
 * - 5 attempts per (account, client address) in 15 minutes: a guesser at one address;
 * - 30 per client address in 15 minutes: one address trying many accounts;
 * - 100 per account in an hour from addresses that have not signed in to it before: many
 *   addresses guessing one account. An address the account signed in from (in the last 30 days,
 *   in memory) is not held by this ceiling, so guessing from elsewhere cannot lock the owner
 *   out of their own address; an instance admin can unlock the account, or send a reset link.
 * An attempt is counted BEFORE the (async, ~50 ms) password check, synchronously, so parallel
 * guesses cannot all pass the check before the first failure is counted; a right password
 * takes its attempt back.
 */
export const SIGN_IN_LIMITS = {
  perAccountAddress: { max: 5, windowMs: 15 * 60_000 },
  perAddress: { max: 30, windowMs: 15 * 60_000 },
  perAccount: { max: 100, windowMs: 60 * 60_000 },
  knownAddressMs: 30 * 24 * 3600_000,
} as const;

type Awaitable<T> = T | Promise<T>;

export interface Attempt {
  /** The password was right: the attempt is taken back and the address remembered for the account. */
  succeeded(): Awaitable<void>;
}

export type SignInBegun = { wait: number } | { attempt: Attempt };

/**
 * Where the sign-in limits count (PG-63): in this process (`createSignInLimiter`, the default), or
 * shared by every process through Redis (server/cluster/redis-sign-ins.ts). Callers await each
 * answer; the in-process counter answers synchronously.
 */
export interface SignInLimiter {
  /** Counts one attempt, or answers how many seconds to wait; check and count are one step. */
  begin(email: string, addr: string, now?: number): Awaitable<SignInBegun>;
  /** Which of `emails` are locked now (see `createSignInLimiter`). */
  locked(emails: readonly string[], now?: number): Awaitable<Set<string>>;
  /** An instance admin lifts an account's lock. */
  unlock(email: string): Awaitable<void>;
}

/** The limits counted in this process's memory. */
export function createSignInLimiter(limits = SIGN_IN_LIMITS) {
  const pair = createAttemptCounter(limits.perAccountAddress);
  const address = createAttemptCounter(limits.perAddress);
  const account = createAttemptCounter(limits.perAccount);
  /** `account \0 address` → when the account last signed in from there. */
  const known = new Map<string, number>();
  const pairKey = (email: string, addr: string) => `${email}\0${addr}`;
  const isKnown = (key: string, now: number) => {
    const at = known.get(key);
    return at !== undefined && now - at < limits.knownAddressMs;
  };

  return {
    /**
     * Counts one attempt, or answers how many seconds to wait. Synchronous from check to count:
     * nothing can interleave, whatever runs in parallel.
     */
    begin(
      email: string,
      addr: string,
      now = Date.now(),
    ): { wait: number } | { attempt: { succeeded(): void } } {
      const key = pairKey(email, addr);
      const wait = Math.max(
        pair.retryAfter(key, now),
        address.retryAfter(addr, now),
        isKnown(key, now) ? 0 : account.retryAfter(email, now),
      );
      if (wait > 0) return { wait };
      pair.add(key, now);
      address.add(addr, now);
      account.add(email, now);
      return {
        attempt: {
          succeeded() {
            pair.reset(key);
            address.remove(addr, now);
            account.remove(email, now);
            known.delete(key);
            known.set(key, Date.now());
            if (known.size > 100_000)
              for (const k of [...known.keys()].slice(0, 20_000)) known.delete(k);
          },
        },
      };
    },
    /**
     * Which of `emails` are locked now: held by the per-account ceiling, or from at least one
     * address (what an instance admin's unlock lifts). One pass over the keys, not one per email.
     */
    locked(emails: readonly string[], now = Date.now()): Set<string> {
      const wanted = new Set(emails);
      const out = new Set(emails.filter((e) => account.retryAfter(e, now) > 0));
      for (const k of pair.waiting((key) => wanted.has(key.slice(0, key.indexOf('\0'))), now))
        out.add(k.slice(0, k.indexOf('\0')));
      return out;
    },
    /** An instance admin unlocks an account: its per-account counts and those of every address for it. */
    unlock(email: string): void {
      account.reset(email);
      pair.resetWhere((k) => k.startsWith(`${email}\0`));
    },
  } satisfies SignInLimiter;
}

export type MemorySignInLimiter = ReturnType<typeof createSignInLimiter>;
