import { AsyncLocalStorage } from 'node:async_hooks';
import type Database from 'better-sqlite3';
import type { Async, Transactor } from './port.ts';

/**
 * The SQLite side of the store port (PG-10, PG-13): one connection, so one transaction at a time.
 *
 * `atomically` opens BEGIN IMMEDIATE … COMMIT (ROLLBACK when `fn` throws) around `await fn()`;
 * the stores' own better-sqlite3 transactions inside it become savepoints. AsyncLocalStorage
 * marks its scope, so a nested `atomically` joins it as a savepoint (as better-sqlite3 nests): a
 * nested function that throws undoes only its own writes, and the caller may catch and go on.
 * Nested calls run one after another (never two at once in one transaction). While it is open, a store call from outside
 * the scope waits for it to end (an async mutex, no busy loop), so nothing that did not ask to be
 * part of the transaction is committed or rolled back with it, even if `fn` awaited real I/O.
 */
export interface SqliteTransactions extends Transactor {
  /** The store's methods made async, each waiting while someone else's transaction is open. */
  port<S extends object>(store: S): Async<S>;
  /** True while a transaction is open that the caller is not part of (the draft log refuses then). */
  heldByOther(): boolean;
}

export function createSqliteTransactions(sqlite: Database.Database): SqliteTransactions {
  const scope = new AsyncLocalStorage<symbol>();
  /** The open transaction (its scope's token), or null. */
  let owner: symbol | null = null;
  /** Who waits for the open transaction to end. */
  let waiters: (() => void)[] = [];

  const inScope = (): boolean => owner !== null && scope.getStore() === owner;
  const ended = (): Promise<void> => new Promise<void>((resolve) => waiters.push(resolve));

  function release(): void {
    owner = null;
    const woken = waiters;
    waiters = [];
    for (const wake of woken) wake();
  }

  async function atomically<T>(fn: () => Promise<T>): Promise<T> {
    if (inScope()) {
      sqlite.prepare('SAVEPOINT nested').run();
      try {
        const result = await fn();
        sqlite.prepare('RELEASE nested').run();
        return result;
      } catch (err) {
        if (sqlite.inTransaction) {
          sqlite.prepare('ROLLBACK TO nested').run();
          sqlite.prepare('RELEASE nested').run();
        }
        throw err;
      }
    }
    // The check and the claim run in one turn: no other caller can slip in between.
    while (owner !== null) await ended();
    const token = Symbol('transaction');
    owner = token;
    try {
      sqlite.prepare('BEGIN IMMEDIATE').run();
    } catch (err) {
      release();
      throw err;
    }
    try {
      const result = await scope.run(token, fn);
      sqlite.prepare('COMMIT').run();
      return result;
    } catch (err) {
      if (sqlite.inTransaction) sqlite.prepare('ROLLBACK').run();
      throw err;
    } finally {
      release();
    }
  }

  function port<S extends object>(store: S): Async<S> {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(store)) {
      if (typeof value !== 'function') {
        out[key] = value;
        continue;
      }
      const method = value as (...args: unknown[]) => unknown;
      out[key] = async (...args: unknown[]) => {
        if (owner !== null && !inScope()) while (owner !== null) await ended();
        return method.apply(store, args);
      };
    }
    return out as Async<S>;
  }

  return {
    atomically,
    port,
    heldByOther: () => sqlite.inTransaction && !inScope(),
  };
}
