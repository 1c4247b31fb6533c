import { AsyncLocalStorage } from 'node:async_hooks';
import type { Transactor } from './port.ts';

/**
 * What must happen only once a change is committed (PG-111): messages to other processes. Wraps a
 * transactor's `atomically` (either dialect): `afterCommit(key, fn)` inside it runs `fn` after the
 * outermost transaction committed (once per key, in order), never when it rolled back — nor
 * when the nested transaction (savepoint) that asked for it rolled back and the outer one went on;
 * outside any transaction it runs `fn` at once. On PostgreSQL the function may run again (PG-15): what an
 * attempt that failed asked for is forgotten when the next attempt starts.
 */
export function withAfterCommit(transactor: Transactor) {
  // `open` turns false when the transaction ends: a timer started inside it sees a closed entry.
  const scope = new AsyncLocalStorage<{ open: boolean; pending: Map<string, () => void> }>();
  const current = () => {
    const entry = scope.getStore();
    return entry?.open ? entry : undefined;
  };
  return {
    async atomically<T>(fn: () => Promise<T>): Promise<T> {
      const outer = current();
      if (outer) {
        // A savepoint: what it asked for goes if it rolls back (a caller that catches the error
        // lets the outer transaction commit without it), as its writes do.
        const before = new Map(outer.pending);
        try {
          return await transactor.atomically(fn);
        } catch (err) {
          outer.pending.clear();
          for (const [key, run] of before) outer.pending.set(key, run);
          throw err;
        }
      }
      const entry = { open: true, pending: new Map<string, () => void>() };
      let result: T;
      try {
        result = await transactor.atomically(async () => {
          entry.pending.clear();
          return await scope.run(entry, fn);
        });
      } finally {
        entry.open = false;
      }
      for (const run of entry.pending.values()) run();
      return result;
    },
    /** Runs `fn` after the surrounding transaction commits (at once outside one); one per key. */
    afterCommit(key: string, fn: () => void): void {
      const entry = current();
      if (entry) entry.pending.set(key, fn);
      else fn();
    },
  };
}
