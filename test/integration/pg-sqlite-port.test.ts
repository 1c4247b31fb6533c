import { afterEach, describe, expect, it } from 'vitest';
import { addItem } from '#schema/content/ydoc.ts';
import { openDatabase, type OpenDatabase } from '#server/store/db.ts';
import { createAccountStore } from '#server/store/accounts.ts';
import { createDraftStore } from '#server/store/drafts.ts';
import { createProjectStore } from '#server/store/projects.ts';
import { createProjects } from '#server/domain/projects.ts';
import { Room } from '#server/collab/room.ts';
import { tempDataDir } from '../helpers/server.ts';

/**
 * PG-13: the SQLite Transactor is correct by construction even when a transaction function
 * awaits real I/O: a store call from outside waits for it, and the draft log never joins it.
 */
const open: OpenDatabase[] = [];
afterEach(async () => {
  for (const db of open.splice(0)) await db.close();
});

function setup() {
  const database = openDatabase(tempDataDir(), 'normal', () => {});
  open.push(database);
  const accounts = database.transactions.port(createAccountStore(database.db));
  return { database, accounts };
}

const user = (id: string) => ({
  id,
  email: `${id}@example.com`,
  name: id,
  passwordHash: 'x',
  isInstanceAdmin: false,
  createdAt: Date.now(),
});

/** A promise and its resolve, so a test decides when a transaction goes on. */
function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** Real I/O in the middle of a transaction: a timer of the event loop. */
const timer = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls until `fn` is true (nothing else announces a Room's retry); fails after `ms`. */
async function until(fn: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await timer(20);
  }
}

describe('PG-13: SQLite transactions that await real I/O', () => {
  it('PG-13 an outside store write waits while a transaction is open and lands after its COMMIT', async () => {
    const { database, accounts } = setup();
    const order: string[] = [];
    const opened = deferred();
    const goOn = deferred();
    const tx = database.transactions.atomically(async () => {
      await accounts.insertUser(user('in'));
      opened.resolve();
      // Real I/O in the middle of the transaction, while another task writes.
      await goOn.promise;
      await timer(30);
      // It has not run: it would have joined (and could be rolled back with) this transaction.
      expect(await accounts.findUserById('out')).toBeUndefined();
      order.push('committing');
    });
    await opened.promise;
    // Outside the transaction's scope (this test's own task).
    const outside = accounts.insertUser(user('out')).then(() => void order.push('outside landed'));
    goOn.resolve();
    await tx;
    order.push('committed');
    await outside;
    expect(order).toEqual(['committing', 'committed', 'outside landed']);
    expect((await accounts.listUsers()).map((u) => u.id).sort()).toEqual(['in', 'out']);
  });

  it('PG-13 a rollback loses only the transaction’s own writes', async () => {
    const { database, accounts } = setup();
    const opened = deferred();
    const goOn = deferred();
    const tx = database.transactions.atomically(async () => {
      await accounts.insertUser(user('in'));
      opened.resolve();
      await goOn.promise;
      await timer(30);
      throw new Error('refused');
    });
    await opened.promise;
    const outside = accounts.insertUser(user('out'));
    goOn.resolve();
    await expect(tx).rejects.toThrow('refused');
    await outside;
    expect((await accounts.listUsers()).map((u) => u.id)).toEqual(['out']);
    // The connection is free again: a new transaction commits.
    await database.transactions.atomically(() => accounts.insertUser(user('next')));
    expect(await accounts.countUsers()).toBe(2);
  });

  it('PG-13 a nested atomically that throws undoes only its own writes; the outer one commits', async () => {
    const { database, accounts } = setup();
    await database.transactions.atomically(async () => {
      await accounts.insertUser(user('outer'));
      await expect(
        database.transactions.atomically(async () => {
          await accounts.insertUser(user('inner'));
          throw new Error('inner failed');
        }),
      ).rejects.toThrow('inner failed');
    });
    expect((await accounts.listUsers()).map((u) => u.id)).toEqual(['outer']);
  });

  it('PG-13 a draft append meanwhile is refused as busy, retried, and lands even when the transaction rolls back', async () => {
    const { database, accounts } = setup();
    const projects = createProjects(database.transactions.port(createProjectStore(database.db)));
    const project = await projects.create(
      {
        user: { id: 'usr_1', email: 'a@b.c', name: 'A' },
        isInstanceAdmin: true,
        via: 'token',
        credential: { kind: 'token', id: 'tok_1', expiresAt: null },
      },
      { name: 'P', preset: 'five-stage', sample: false },
    );
    const draftId = project.environments[0]!.draftId!;
    const drafts = createDraftStore(database.sqlite, database.transactions.heldByOther);
    const logged: unknown[] = [];
    const room = new Room(draftId, drafts, {
      compactAfterUpdates: 1000,
      log: (_m: string, err?: unknown) => void logged.push(err),
      presence: { maxStateBytes: 8192, perSecond: 30, idsPerUser: 16 },
    });
    const before = drafts.load(draftId).lastSeq;
    const opened = deferred();
    const goOn = deferred();
    const tx = database.transactions.atomically(async () => {
      await accounts.insertUser(user('in'));
      opened.resolve();
      await goOn.promise;
      await timer(30);
      throw new Error('refused');
    });
    await opened.promise;
    // An editor types meanwhile (outside the transaction): the draft log refuses to join it and
    // the room keeps the update.
    room.edit({ kind: 'server', reason: 'test' }, (doc) =>
      addItem(doc, 'knowledge', { title: 'Typed meanwhile', body: 'kept' }),
    );
    expect(room.flush()).toBe(false);
    expect(room.storageFailingNow).toBe(true);
    goOn.resolve();
    await expect(tx).rejects.toThrow('refused');
    expect(logged.some((e) => (e as { code?: string }).code === 'SQLITE_BUSY')).toBe(true);
    // Retried after the transaction ended: the update is in the log, the transaction's write is not.
    await until(() => drafts.load(draftId).lastSeq > before);
    expect(room.storageFailingNow).toBe(false);
    expect(await accounts.findUserById('in')).toBeUndefined();
    room.unload();
  });
});
