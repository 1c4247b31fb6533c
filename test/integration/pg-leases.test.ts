import { spawn } from 'node:child_process';
import readline from 'node:readline';
import { describe, expect, it } from 'vitest';
import { eq, sql } from 'drizzle-orm';
import * as pgTables from '#schema/db/pg-tables.ts';
import * as liteTables from '#schema/db/tables.ts';
import * as Y from 'yjs';
import { Leases, type AcquireResult } from '../../server/cluster/leases.ts';
import { ownedDraftLog } from '../../server/cluster/owned-drafts.ts';
import { AppendBatcher } from '../../server/cluster/append-batcher.ts';
import type { DraftLog } from '../../server/collab/draft-log.ts';
import { Rooms } from '../../server/collab/rooms.ts';
import { openDatabase } from '../../server/store/db.ts';
import { createDraftStore } from '../../server/store/drafts.ts';
import type { Postgres } from '../../server/store/pg/db.ts';
import { createPgDraftStore, FencedError } from '../../server/store/pg/drafts.ts';
import { createLeaseStore, pgNowMs } from '../../server/store/pg/leases.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { migratedPostgres } from '../helpers/pg-db.ts';
import { exited } from '../helpers/process.ts';
import { prng } from '../helpers/prng.ts';
import { tempDataDir } from '../helpers/server.ts';

const cleanup = cleanupAfterEach();

const project = { id: 'p', name: 'P', preset: 'five-stage', createdBy: 'u', createdAt: 1 };
const environment = {
  id: 'e',
  projectId: 'p',
  name: 'DEV',
  kind: 'dev',
  position: 0,
  color: '#000',
};
const draft = (id: string) => ({
  id,
  projectId: 'p',
  environmentId: 'e',
  kind: 'workspace',
  createdAt: 1,
});

/** A migrated PostgreSQL holding drafts `ids` (leases and log rows need their draft). */
async function postgresWithDrafts(ids: string[]) {
  const m = await migratedPostgres(cleanup);
  const db = m.pgx.db();
  await db.insert(pgTables.projects).values(project);
  await db.insert(pgTables.environments).values(environment);
  await db.insert(pgTables.drafts).values(ids.map(draft));
  return m;
}

function leasesOf(
  pgx: Postgres,
  nodeId: string,
  opts: { ttlMs?: number; renewEveryMs?: number } = {},
) {
  const lost: string[] = [];
  const waiters: (() => void)[] = [];
  const leases = new Leases({
    store: createLeaseStore(pgx),
    nodeId,
    url: `http://${nodeId}.internal:4000`,
    ...opts,
    onLost: (id) => {
      lost.push(id);
      for (const w of waiters.splice(0)) w();
    },
    log: () => {},
  });
  cleanup.push(() => leases.close());
  /** Resolves when `id` was reported lost. */
  const lostOf = (id: string) =>
    new Promise<void>((resolve) => {
      const check = () => (lost.includes(id) ? resolve() : waiters.push(check));
      check();
    });
  return { leases, lost, lostOf };
}

/** Polls `leases.acquire(id)` until it takes the lease (the holder's lapses): no fixed sleep. */
async function acquireWhenFree(leases: Leases, id: string, deadlineMs = 20_000): Promise<number> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const r = await leases.acquire(id);
    if ('epoch' in r) return r.epoch;
    if (Date.now() > until) throw new Error(`still held by ${r.owner.node}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const bytes = (s: string) => new Uint8Array(Buffer.from(s));
const text = (u: Uint8Array) => Buffer.from(u).toString();

describe("PG-70: draft_leases rows, on PostgreSQL's clock", () => {
  it("a lease runs ttl from PostgreSQL's now; a release keeps the row (the epoch keeps growing); removing the draft removes it", async () => {
    const { pgx } = await postgresWithDrafts(['d']);
    const { leases } = leasesOf(pgx, 'a', { ttlMs: 4_000 });
    const pgNow = async () =>
      Number((await pgx.db().execute<{ ms: string }>(sql`SELECT ${pgNowMs} AS ms`)).rows[0]!.ms);
    const row = async () =>
      (
        await pgx
          .db()
          .select()
          .from(pgTables.draftLeases)
          .where(eq(pgTables.draftLeases.draftId, 'd'))
      )[0];
    const before = await pgNow();
    expect(await leases.acquire('d')).toEqual({ epoch: 1 });
    const after = await pgNow();
    const taken = (await row())!;
    expect(taken).toMatchObject({ ownerNode: 'a', ownerUrl: 'http://a.internal:4000', epoch: 1 });
    expect(taken.updatedAt).toBeGreaterThanOrEqual(before);
    expect(taken.updatedAt).toBeLessThanOrEqual(after);
    expect(taken.expiresAt - taken.updatedAt).toBe(4_000);

    await leases.release('d');
    const released = (await row())!;
    expect(released.epoch).toBe(1);
    expect(released.expiresAt).toBe(released.updatedAt);
    expect(await leases.owner('d')).toBeNull();
    expect(await leases.acquire('d')).toEqual({ epoch: 2 });

    await leases.release('d');
    await pgx.db().delete(pgTables.drafts).where(eq(pgTables.drafts.id, 'd'));
    expect(await row()).toBeUndefined();
  });
});

describe('PG-71: one owner per draft', () => {
  it('two nodes racing to acquire a draft, 50 times: exactly one owner each time, the other told who', async () => {
    const ids = Array.from({ length: 50 }, (_, i) => `d${i}`);
    const { pgx } = await postgresWithDrafts(ids);
    const a = leasesOf(pgx, 'a');
    const b = leasesOf(pgx, 'b');
    const oneOwner = (results: AcquireResult[], epoch: number) => {
      const won = results.flatMap((r, i) => ('epoch' in r ? [{ i, epoch: r.epoch }] : []));
      expect(won).toHaveLength(1);
      expect(won[0]!.epoch).toBe(epoch);
      const winner = won[0]!.i === 0 ? 'a' : 'b';
      expect(results[1 - won[0]!.i]).toEqual({
        owner: { node: winner, url: `http://${winner}.internal:4000` },
      });
      return winner === 'a' ? a.leases : b.leases;
    };
    for (const id of ids) {
      // A free draft (the insert path), then, released, a taken-over one (the update path).
      const first = oneOwner(await Promise.all([a.leases.acquire(id), b.leases.acquire(id)]), 1);
      await first.release(id);
      oneOwner(await Promise.all([a.leases.acquire(id), b.leases.acquire(id)]), 2);
    }
    expect([...a.lost, ...b.lost]).toEqual([]);
  });

  it('expiry: another node takes over with the next epoch; the former owner is told it lost the lease', async () => {
    const { pgx } = await postgresWithDrafts(['d']);
    // a renews too rarely to keep its lease: it lapses after the TTL.
    const a = leasesOf(pgx, 'a', { ttlMs: 300, renewEveryMs: 60_000 });
    const b = leasesOf(pgx, 'b', { ttlMs: 300 });
    expect(await a.leases.acquire('d')).toEqual({ epoch: 1 });
    expect(await b.leases.acquire('d')).toEqual({
      owner: { node: 'a', url: 'http://a.internal:4000' },
    });
    await a.lostOf('d');
    expect(await acquireWhenFree(b.leases, 'd')).toBe(2);
    expect(await b.leases.owner('d')).toEqual({
      node: 'b',
      url: 'http://b.internal:4000',
      epoch: 2,
    });
    expect(a.leases.epoch('d')).toBeUndefined();
  });

  it('a renewal that finds its lease superseded reports it lost at once; renewals extend held leases', async () => {
    const { pgx } = await postgresWithDrafts(['d', 'e']);
    const old = leasesOf(pgx, 'a', { renewEveryMs: 60_000 });
    // The same node id again: a restarted process takes its drafts back without waiting the TTL.
    const restarted = leasesOf(pgx, 'a', { renewEveryMs: 60_000 });
    expect(await old.leases.acquire('d')).toEqual({ epoch: 1 });
    expect(await old.leases.acquire('e')).toEqual({ epoch: 1 });
    const expiry = async () =>
      (
        await pgx
          .db()
          .select()
          .from(pgTables.draftLeases)
          .where(eq(pgTables.draftLeases.draftId, 'e'))
      )[0]!.expiresAt;
    const before = await expiry();
    expect(await restarted.leases.acquire('d')).toEqual({ epoch: 2 });
    await old.leases.renew();
    expect(old.lost).toEqual(['d']);
    expect(await expiry()).toBeGreaterThan(before);
    expect(old.leases.epoch('e')).toBe(1);
  });
});

describe('PG-72: a node that cannot reach PostgreSQL for longer than the TTL gives its leases up', () => {
  it('PostgreSQL paused past the TTL: the owner reports the lease lost; after resume, acquire works again', async () => {
    const { server, pgx } = await postgresWithDrafts(['d']);
    const a = leasesOf(pgx, 'a', { ttlMs: 1_000 });
    expect(await a.leases.acquire('d')).toEqual({ epoch: 1 });
    const t0 = performance.now();
    server.pause();
    try {
      await a.lostOf('d');
      // Not before the TTL from the last renewal it sent (at most ttl/3 before the pause).
      expect(performance.now() - t0).toBeGreaterThanOrEqual(1_000 - 334 - 5);
    } finally {
      server.resume();
    }
    expect(await a.leases.acquire('d')).toEqual({ epoch: 2 });
  });
});

describe('PG-73: writes to a draft are fenced by its lease', () => {
  it("after a takeover the former owner's append, group append and compaction write nothing (FencedError)", async () => {
    const { pgx } = await postgresWithDrafts(['d', 'other']);
    const a = leasesOf(pgx, 'a', { ttlMs: 300, renewEveryMs: 60_000 });
    // Node a's lease of another draft, alive and renewed, for the group append below.
    const aLive = leasesOf(pgx, 'a', { ttlMs: 10_000 });
    const b = leasesOf(pgx, 'b', { ttlMs: 10_000 });
    const logA = createPgDraftStore(pgx, 'a');
    const logB = createPgDraftStore(pgx, 'b');
    const { epoch: old } = (await a.leases.acquire('d')) as { epoch: number };
    const { epoch: other } = (await aLive.leases.acquire('other')) as { epoch: number };
    await logA.append('d', [bytes('a1')], old);
    await a.lostOf('d');
    // a gives up a little before PostgreSQL's expiry (its deadline counts from when it asked).
    await expect.poll(() => b.leases.owner('d'), { timeout: 10_000, interval: 20 }).toBeNull();
    // Lapsed, even before anyone takes it over: a's writes no longer count.
    await expect(logA.append('d', [bytes('a-late')], old)).rejects.toThrow(FencedError);
    const epoch = await acquireWhenFree(b.leases, 'd');
    expect(epoch).toBe(old + 1);
    await logB.append('d', [bytes('b1')], epoch);

    await expect(logA.append('d', [bytes('a2')], old)).rejects.toThrow(FencedError);
    // One fenced draft refuses the whole group: 'other', still a's, gets nothing either.
    const refused = await logA
      .appendMany([
        { draftId: 'other', updates: [bytes('o1')], epoch: other },
        { draftId: 'd', updates: [bytes('a3')], epoch: old },
      ])
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(FencedError);
    expect((refused as FencedError).draftIds).toEqual(['d']);
    await expect(logA.compact('d', bytes('state'), 10, old)).rejects.toThrow(FencedError);
    // An epoch b never held, or b's epoch used by another node, is fenced too.
    await expect(logB.append('d', [bytes('b?')], epoch + 1)).rejects.toThrow(FencedError);
    await expect(logA.append('d', [bytes('a?')], epoch)).rejects.toThrow(FencedError);

    const stored = await logB.load('d');
    expect(stored.state).toBeNull();
    expect(stored.updates.map(text)).toEqual(['a1', 'b1']);
    expect((await logA.load('other')).updates).toEqual([]);
    const count = await pgx.pool.query('SELECT count(*)::int AS n FROM draft_updates');
    expect(count.rows[0].n).toBe(2);
  });

  it('a takeover waits for an append in flight, so the new owner loads what it wrote', async () => {
    const { pgx } = await postgresWithDrafts(['d']);
    const a = leasesOf(pgx, 'a', { ttlMs: 300, renewEveryMs: 60_000 });
    const b = leasesOf(pgx, 'b');
    const logA = createPgDraftStore(pgx, 'a');
    const { epoch } = (await a.leases.acquire('d')) as { epoch: number };
    // An append whose transaction stays open past the lease: the lease row stays read FOR SHARE.
    let commit!: () => void;
    let appended!: () => void;
    const inFlight = new Promise<void>((r) => (appended = r));
    const tx = pgx.atomically(async () => {
      await logA.append('d', [bytes('a1')], epoch);
      appended();
      await new Promise<void>((r) => (commit = r));
    });
    await inFlight;
    // Expired by PostgreSQL's clock (a read does not wait for the lock).
    await expect.poll(() => b.leases.owner('d'), { timeout: 10_000, interval: 20 }).toBeNull();
    const taking = b.leases.acquire('d');
    const waitingOnLock = async () =>
      (
        await pgx.pool.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock'",
        )
      ).rows[0]!.n;
    await expect.poll(waitingOnLock, { timeout: 10_000, interval: 20 }).toBe(1);
    commit();
    await tx;
    expect(await taking).toEqual({ epoch: epoch + 1 });
    expect((await createPgDraftStore(pgx, 'b').load('d')).updates.map(text)).toEqual(['a1']);
  });
});

describe('PG-76: renewals and appends do not wait for each other', () => {
  it('PG-76 a renewal completes while an append of the same draft is in flight (its transaction open), and the append then commits', async () => {
    const { pgx } = await postgresWithDrafts(['d']);
    const a = leasesOf(pgx, 'a', { renewEveryMs: 60_000 });
    const logA = createPgDraftStore(pgx, 'a');
    const { epoch } = (await a.leases.acquire('d')) as { epoch: number };
    let commit!: () => void;
    let appended!: () => void;
    const inFlight = new Promise<void>((r) => (appended = r));
    const tx = pgx.atomically(async () => {
      await logA.append('d', [bytes('a1')], epoch);
      appended();
      await new Promise<void>((r) => (commit = r));
    });
    await inFlight;
    // The append holds the lease row: the renewal must not queue behind it.
    const renewed = await createLeaseStore(pgx).renew('a', [{ draftId: 'd', epoch }], 5_000);
    expect([...renewed]).toEqual(['d']);
    commit();
    await tx;
    expect((await logA.load('d')).updates.map(text)).toEqual(['a1']);
  });
});

describe('PG-155: group commit of many drafts on PostgreSQL', () => {
  it('PG-155 appends of 100 drafts made at once go out in a few statements, each answered with its own seq; a draft fenced in a group is refused alone and the others are written', async () => {
    const ids = Array.from({ length: 100 }, (_, i) => `d${String(i).padStart(3, '0')}`);
    const { pgx } = await postgresWithDrafts(ids);
    const a = leasesOf(pgx, 'a', { renewEveryMs: 60_000 });
    for (const id of ids) await a.leases.acquire(id);
    const store = createPgDraftStore(pgx, 'a');
    let statements = 0;
    const epochOf = (id: string) => a.leases.epoch(id)!;
    const batcher = new AppendBatcher(async (batches) => {
      statements++;
      return await store.appendMany(batches);
    }, epochOf);
    const seqs = await Promise.all(ids.map((id) => batcher.append(id, [bytes(`${id}-1`)])));
    // The first two go alone (nothing was in flight); the 98 that came meanwhile travel together.
    expect(statements).toBeLessThanOrEqual(4);
    expect(new Set(seqs).size).toBe(100);
    for (const [i, id] of ids.entries()) {
      const stored = await store.load(id);
      expect(stored.updates.map(text)).toEqual([`${id}-1`]);
      expect(stored.lastSeq).toBe(seqs[i]);
    }

    // d000 taken over by b (its lease expired by PostgreSQL's clock): fenced in the database.
    await pgx.pool.query(
      `UPDATE draft_leases SET owner_node = 'b', epoch = epoch + 1 WHERE draft_id = 'd000'`,
    );
    const again = await Promise.allSettled(ids.map((id) => batcher.append(id, [bytes(`${id}-2`)])));
    expect(again[0]!.status).toBe('rejected');
    expect((again[0] as PromiseRejectedResult).reason).toBeInstanceOf(FencedError);
    expect(again.slice(1).every((r) => r.status === 'fulfilled')).toBe(true);
    expect((await store.load('d000')).updates.map(text)).toEqual(['d000-1']);
    expect((await store.load('d099')).updates.map(text)).toEqual(['d099-1', 'd099-2']);
  });
});

describe('PG-74: a paused owner that resumes writes nothing', () => {
  it('a paused owner process (SIGSTOP past the TTL) that resumes is fenced: nothing forked', async () => {
    const { server, pgx } = await postgresWithDrafts(['d']);
    const child = spawn(
      process.execPath,
      ['test/helpers/lease-holder.ts', server.url, 'd', 'a', '1500'],
      { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    cleanup.push(async () => {
      child.kill('SIGKILL');
      await exited(child);
    });
    const lines: Record<string, unknown>[] = [];
    const waiters: (() => void)[] = [];
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      lines.push(JSON.parse(line) as Record<string, unknown>);
      for (const w of waiters.splice(0)) w();
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const until = (pred: () => boolean) =>
      new Promise<void>((resolve, reject) => {
        const check = () => (pred() ? resolve() : waiters.push(check));
        child.once('exit', () => reject(new Error(`lease holder exited: ${stderr}`)));
        check();
      });
    const appendedByA = () => lines.filter((l) => 'appended' in l).map((l) => l.appended as string);

    await until(() => appendedByA().length >= 5);
    child.kill('SIGSTOP');
    const seen = lines.length;

    const b = leasesOf(pgx, 'b');
    const logB = createPgDraftStore(pgx, 'b');
    const epoch = await acquireWhenFree(b.leases, 'd');
    expect(epoch).toBe(2);
    const seqsOfB: number[] = [];
    for (let n = 0; n < 3; n++) seqsOfB.push(await logB.append('d', [bytes(`b:${n}`)], epoch));

    child.kill('SIGCONT');
    await until(
      () => lines.slice(seen).some((l) => 'fenced' in l) && lines.some((l) => 'lost' in l),
    );
    expect(lines.slice(seen).filter((l) => 'failed' in l)).toEqual([]);
    // Fenced: every append a reports — also those reported only after it resumed (it stopped
    // between a commit and its line, or lines were still in the pipe) — was stored before b's first.
    const acks = lines.filter((l) => 'appended' in l);
    for (const l of acks) expect(l.seq as number).toBeLessThan(seqsOfB[0]!);

    const log = (await logB.load('d')).updates.map(text);
    const fromA = log.filter((u) => u.startsWith('a:'));
    // Everything a acknowledged is there, then b's updates; of a, at most the one append that
    // was in flight when it stopped (stored before the takeover, never acknowledged).
    expect(fromA.slice(0, acks.length)).toEqual(appendedByA());
    expect(fromA.length - acks.length).toBeLessThanOrEqual(1);
    expect(log).toEqual([...fromA, 'b:0', 'b:1', 'b:2']);
  });
});

describe('PG-75: the PostgreSQL draft log answers as the SQLite one', () => {
  it('the same appends, group appends, loads and compactions give the same answers on both', async () => {
    const { pgx } = await postgresWithDrafts(['d1', 'd2', 'd3']);
    const dir = tempDataDir();
    const sqlite = openDatabase(dir, 'normal', () => {});
    cleanup.push(() => sqlite.close());
    sqlite.db.insert(liteTables.projects).values(project).run();
    sqlite.db.insert(liteTables.environments).values(environment).run();
    sqlite.db.insert(liteTables.drafts).values(['d1', 'd2', 'd3'].map(draft)).run();
    const lite = createDraftStore(sqlite.sqlite);
    const pg = createPgDraftStore(pgx, 'n');
    const leases = leasesOf(pgx, 'n').leases;
    const epochs = new Map<string, number>();
    for (const id of ['d1', 'd2', 'd3'])
      epochs.set(id, ((await leases.acquire(id)) as { epoch: number }).epoch);

    const random = prng(17);
    const blob = () =>
      new Uint8Array(
        Array.from({ length: 1 + Math.floor(random() * 40) }, () => Math.floor(random() * 256)),
      );
    const calls: { name: string; lite: () => unknown; pg: () => Promise<unknown> }[] = [];
    const append = (id: string, n: number) => {
      const updates = Array.from({ length: n }, blob);
      calls.push({
        name: `append ${id} ×${n}`,
        lite: () => lite.append(id, updates),
        pg: () => pg.append(id, updates, epochs.get(id)!),
      });
    };
    const appendMany = (parts: [string, number][]) => {
      const batches = parts.map(([draftId, n]) => ({
        draftId,
        updates: Array.from({ length: n }, blob),
      }));
      calls.push({
        name: `appendMany ${parts.map((p) => p.join('×')).join(' ')}`,
        lite: () => lite.appendMany(batches),
        pg: () => pg.appendMany(batches.map((b) => ({ ...b, epoch: epochs.get(b.draftId)! }))),
      });
    };
    const load = (id: string) =>
      calls.push({ name: `load ${id}`, lite: () => lite.load(id), pg: () => pg.load(id) });
    const compact = (id: string, uptoSeq: number) => {
      const state = blob();
      calls.push({
        name: `compact ${id} ≤${uptoSeq}`,
        lite: () => lite.compact(id, state, uptoSeq),
        pg: () => pg.compact(id, state, uptoSeq, epochs.get(id)!),
      });
    };

    load('d1');
    append('d1', 3);
    append('d2', 1);
    append('d1', 0);
    appendMany([
      ['d1', 2],
      ['d2', 0],
      ['d3', 4],
    ]);
    load('d1');
    load('d3');
    compact('d1', 4);
    load('d1');
    append('d1', 2);
    compact('d3', 100); // past the log's end: every update of d3 goes
    load('d3');
    compact('d1', 2); // older than the stored state: the state stays, nothing newer goes
    load('d1');
    appendMany([
      ['d2', 1],
      ['d1', 1],
      ['d2', 2], // one draft twice in a group: each part answers its own last seq
    ]);
    load('d1');
    load('d2');
    load('d3');

    for (const call of calls) {
      const expected = call.lite();
      expect({ call: call.name, answer: await call.pg() }).toEqual({
        call: call.name,
        answer: expected,
      });
    }
  });
});

describe('PG-185: a stopped room cannot give up the lease of the room after it', () => {
  it("PG-185 a room's compaction fenced late, after its lease was lost and a new room took the draft at the next epoch, leaves the new room's lease held and its appends stored", async () => {
    const { pgx } = await postgresWithDrafts(['d']);
    const wired: { rooms?: Rooms } = {};
    const leases = new Leases({
      store: createLeaseStore(pgx),
      nodeId: 'a',
      url: 'http://a.internal:4000',
      onLost: (id) => wired.rooms?.lost(id),
      log: () => {},
    });
    cleanup.push(() => leases.close());
    const real = ownedDraftLog(pgx, leases);
    // One update in the log, so the first room has something to compact.
    await leases.acquire('d');
    await real.append('d', [Y.encodeStateAsUpdate(new Y.Doc())]);
    await leases.release('d');

    // The first room's compaction is held in flight, then fails fenced, as a write sent before a
    // pause would once the lease moved on.
    let letCompactionFail!: () => void;
    const held = new Promise<void>((resolve) => (letCompactionFail = resolve));
    let compactions = 0;
    const log: DraftLog = {
      ...real,
      compact: async (draftId, state, uptoSeq) => {
        if (++compactions > 1) return await real.compact(draftId, state, uptoSeq);
        await held;
        throw new FencedError([draftId]);
      },
    };
    const stops: string[] = [];
    const rooms = new Rooms(log, {
      compactAfterUpdates: 1000,
      presence: { maxStateBytes: 10_000, perSecond: 100, idsPerUser: 10 },
      log: (msg) => void (msg.includes('no longer owned here') && stops.push(msg)),
    });
    const peer = () => ({
      userId: 'usr_1',
      userName: 'Ann',
      readOnly: false,
      send: () => {},
      close: () => {},
    });
    wired.rooms = rooms;
    const first = await rooms.connect('d', peer());
    expect(leases.epoch('d')).toBe(2);
    expect(first.compact()).toBe(true);

    // The lease is lost (its local deadline passed); the editors reconnect and a new room takes
    // the draft at the next epoch.
    rooms.lost('d');
    expect(stops).toHaveLength(1);
    const second = await rooms.connect('d', peer());
    expect(second).not.toBe(first);
    expect(leases.epoch('d')).toBe(3);

    const fenced = first.settled; // once the failed compaction was handled
    letCompactionFail();
    await fenced;
    expect(compactions).toBe(1);
    expect(leases.epoch('d')).toBe(3);
    const row = await pgx
      .db()
      .select()
      .from(pgTables.draftLeases)
      .where(eq(pgTables.draftLeases.draftId, 'd'));
    expect(row[0]).toMatchObject({ ownerNode: 'a', epoch: 3 });
    expect(row[0]!.expiresAt).toBeGreaterThan(row[0]!.updatedAt);
    // The new room still writes.
    expect(await log.append('d', [Y.encodeStateAsUpdate(new Y.Doc())])).toBeGreaterThan(0);
  });
});
