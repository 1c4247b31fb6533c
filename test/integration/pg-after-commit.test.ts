import { describe, expect, it } from 'vitest';
import { openDatabase } from '#server/store/db.ts';
import { withAfterCommit } from '#server/store/after-commit.ts';
import type { Transactor } from '#server/store/port.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { tempDataDir } from '../helpers/server.ts';

const cleanup = cleanupAfterEach();

/** One data folder, two connections to it (as two processes); a `probe` table to write. */
function twoConnections() {
  const dir = tempDataDir();
  const mine = openDatabase(dir, 'normal', () => {});
  const other = openDatabase(dir, 'normal', () => {});
  cleanup.push(
    () => mine.close(),
    () => other.close(),
  );
  mine.sqlite.exec('CREATE TABLE probe (x INTEGER)');
  const seenByOther = () =>
    (other.sqlite.prepare('SELECT count(*) AS n FROM probe').get() as { n: number }).n;
  const insert = () => void mine.sqlite.prepare('INSERT INTO probe VALUES (1)').run();
  return { mine, seenByOther, insert };
}

describe('PG-111: what other processes are told waits for the commit', () => {
  it('PG-111: inside a transaction (nested too) it runs once per key after the commit, when another connection sees the change; never after a rollback, nor after a savepoint that rolled back; outside one at once', async () => {
    const { mine, seenByOther, insert } = twoConnections();
    const { atomically, afterCommit } = withAfterCommit(mine.transactions);
    const ran: string[] = [];
    const seen: number[] = [];
    const tell = (key: string) => afterCommit(key, () => (ran.push(key), seen.push(seenByOther())));

    await atomically(async () => {
      insert();
      tell('a');
      await atomically(async () => {
        insert();
        tell('b');
        tell('a');
      });
      await Promise.resolve();
      expect(ran).toEqual([]);
    });
    expect(ran).toEqual(['a', 'b']);
    expect(seen).toEqual([2, 2]);

    await expect(
      atomically(async () => {
        insert();
        tell('c');
        throw new Error('refused');
      }),
    ).rejects.toThrow('refused');
    expect(ran).toEqual(['a', 'b']);
    expect(seenByOther()).toBe(2);

    tell('d');
    expect(ran).toEqual(['a', 'b', 'd']);

    // A savepoint that rolls back, its error caught: the outer change commits without what the
    // savepoint asked for (red team #11), and keeps what was asked before it, also under its key.
    await atomically(async () => {
      insert();
      tell('e');
      await atomically(async () => {
        tell('f');
        tell('e');
        throw new Error('refused');
      }).catch(() => {});
    });
    expect(ran).toEqual(['a', 'b', 'd', 'e']);
  });

  it('PG-111: a transaction run again after a retryable failure (PG-15) tells only what its last run asked for', async () => {
    // A transactor that runs the function twice, as PostgreSQL's atomically does after a deadlock.
    const retrying: Transactor = {
      async atomically<T>(fn: () => Promise<T>): Promise<T> {
        await fn().catch(() => undefined);
        return await fn();
      },
    };
    const { atomically, afterCommit } = withAfterCommit(retrying);
    const ran: string[] = [];
    let attempt = 0;
    await atomically(async () => {
      attempt++;
      afterCommit(`attempt ${attempt}`, () => ran.push(`attempt ${attempt}`));
      if (attempt === 1) throw new Error('deadlock detected');
    });
    expect(ran).toEqual(['attempt 2']);
  });
});
