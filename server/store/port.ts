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
