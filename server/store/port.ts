/**
 * The store port (PG-10): what the domain sees of a store, whatever database holds the data.
 *
 * Each store is written once per dialect: server/store/<name>.ts over SQLite (synchronous
 * better-sqlite3 transactions inside each method, never an `await` inside one) and
 * server/store/pg/<name>.ts over PostgreSQL (async). The port of a store is its SQLite
 * shape made async, so the two cannot drift: a PostgreSQL store `satisfies` it.
 */

/** Every method of `S` answering a promise of what it answered. */
export type Async<S> = {
  [K in keyof S]: S[K] extends (...args: infer A) => infer R
    ? (...args: A) => Promise<Awaited<R>>
    : S[K];
};

/** Several store calls as one transaction (PG-11): all of them or none. */
export interface Transactor {
  /**
   * Runs `fn` in one transaction; a call inside another `atomically` joins it. `fn` awaits only
   * store calls (no network, no timers): the SQLite adapter holds its one connection meanwhile.
   * On PostgreSQL `fn` may run again, whole, after a deadlock or serialization failure (PG-15):
   * it must be retry-safe, with no side effect outside the database before it returns.
   */
  atomically<T>(fn: () => Promise<T>): Promise<T>;
}

/**
 * SQLSTATEs after which the whole transaction may simply run again (PG-15): PostgreSQL rolled
 * it back whole, and another run, later, usually succeeds.
 */
const RETRYABLE = new Set([
  '40P01', // deadlock_detected: PostgreSQL ended one of the transactions waiting for each other
  '40001', // serialization_failure
]);

/**
 * Whether `err` (or an error it wraps: drizzle wraps the driver's) carries a retryable SQLSTATE:
 * `atomically` runs the whole transaction again, so code that catches errors inside one must let
 * these through (PG-15, PG-177).
 */
export function retryable(err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++)
    if (RETRYABLE.has((e as { code?: unknown }).code as string)) return true;
  return false;
}
