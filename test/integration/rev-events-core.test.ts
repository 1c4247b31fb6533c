import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type OpenDatabase } from '#server/store/db.ts';
import { createEventStore } from '#server/store/events.ts';
import { createProjectEvents, EVENT_RETENTION_MS } from '#server/domain/events.ts';
import { tempDataDir } from '../helpers/server.ts';

const open: OpenDatabase[] = [];
afterEach(async () => {
  for (const db of open.splice(0)) await db.close();
});

function setup(now = () => Date.now()) {
  const database = openDatabase(tempDataDir(), 'normal');
  open.push(database);
  return {
    database,
    events: createProjectEvents(database.transactions.port(createEventStore(database.db)), now),
  };
}

const sync = { projectId: 'p1', environmentId: 'e1', kind: 'sync', actorId: 'u1' } as const;

describe('[REV-5] the project event log', () => {
  it('REV-5 keeps events in order per project, and one whose change rolled back is never read', async () => {
    const { database, events } = setup();
    const first = await events.emit(sync);
    await events.emit({ ...sync, projectId: 'p2' });
    await expect(
      database.transactions.atomically(async () => {
        await events.emit({ ...sync, kind: 'publish' });
        throw new Error('the change failed');
      }),
    ).rejects.toThrow('the change failed');
    const third = await events.emit({ ...sync, kind: 'rollback' });
    expect((await events.after('p1', 0, 10)).map((e) => e.kind)).toEqual(['sync', 'rollback']);
    expect((await events.after('p1', first.seq, 10)).map((e) => e.seq)).toEqual([third.seq]);
    expect(await events.lastSeq()).toBe(third.seq);
  });

  it('REV-5 runs reactors inside the emitting transaction: what they write rolls back with it', async () => {
    const { database, events } = setup();
    events.onEmit(async (e) => {
      if (e.kind !== 'notification')
        await events.emit({
          ...sync,
          kind: 'notification',
          recipientId: 'u2',
          subject: { of: e.seq },
        });
    });
    await expect(
      database.transactions.atomically(async () => {
        await events.emit(sync);
        throw new Error('no');
      }),
    ).rejects.toThrow('no');
    expect(await events.after('p1', 0, 10)).toEqual([]);
    await events.emit(sync);
    expect((await events.after('p1', 0, 10)).map((e) => [e.kind, e.recipientId])).toEqual([
      ['sync', null],
      ['notification', 'u2'],
    ]);
  });

  it('REV-5 wakes subscribers of the project once per burst, after the change', async () => {
    const { events } = setup();
    let woken = 0;
    const woke = new Promise<void>((resolve) =>
      events.subscribe('p1', () => {
        woken++;
        resolve();
      }),
    );
    events.subscribe('p2', () => expect.unreachable('p2 had no event'));
    await events.emit(sync);
    await events.emit(sync);
    await woke;
    expect(woken).toBe(1);
  });

  it('REV-5 prunes events older than the retention', async () => {
    let t = 1_000_000_000_000;
    const { events } = setup(() => t);
    await events.emit(sync);
    t += EVENT_RETENTION_MS + 1;
    const recent = await events.emit(sync);
    expect(await events.prune()).toBe(1);
    expect((await events.after('p1', 0, 10)).map((e) => e.seq)).toEqual([recent.seq]);
  });
});
