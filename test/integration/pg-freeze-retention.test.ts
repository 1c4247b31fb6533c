import { describe, expect, it } from 'vitest';
import { sampleContent } from '#schema/content/sample.ts';
import { createSnapshots } from '#server/domain/snapshots.ts';
import type { Postgres } from '#server/store/pg/db.ts';
import { createPgRetentionStore } from '#server/store/pg/retention.ts';
import { createPgSnapshotStore } from '#server/store/pg/snapshots.ts';
import type { SnapshotRow } from '#server/store/snapshots.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { lockWaiters, opened, postgresPerFile } from '../helpers/pg-per-file.ts';
import { pgStores, sameOnBoth, seedProject, sqliteStores, T0 } from '../helpers/dialects.ts';

const cleanup = cleanupAfterEach();
const pg = postgresPerFile(cleanup);

/** A snapshot of p1 whose tree names one blob. */
const snapshotNaming = (blobId: string): SnapshotRow => ({
  projectId: 'p1',
  id: 'snap-old-content',
  tree: JSON.stringify({ prompts: { item: blobId } }),
  kind: 'sync',
  parentId: null,
  sourceDraftId: null,
  message: null,
  createdBy: 'u1',
  createdAt: T0,
});

/** One database with project p1 and a blob no snapshot names (what retention deletes). */
async function setUp(): Promise<{ pgx: Postgres; other: Postgres }> {
  const pgx = pg.pgx;
  await seedProject(pgStores(pgx), 'p1');
  await createPgSnapshotStore(pgx).putBlobs([{ id: 'b-old', json: '{"old":true}' }]);
  // The retention sweep runs in another process.
  const other = await pg.otherProcess();
  return { pgx, other };
}

/**
 * What retention's commit does with an unnamed blob: deletes it, in its own transaction, which
 * it holds open until `holdOpen` settles. Answers once the delete ran, and the commit.
 */
async function retentionDeletes(
  other: Postgres,
  ids: string | readonly string[],
  holdOpen: Promise<void> = Promise.resolve(),
): Promise<{ committed: Promise<void> }> {
  const deleted = opened<void>();
  const committed = other.atomically(async () => {
    for (const id of typeof ids === 'string' ? [ids] : ids)
      await createPgRetentionStore(other).deleteBlob(id);
    deleted.open();
    await holdOpen;
  });
  await Promise.race([deleted.promise, committed]);
  return { committed };
}

describe('PG-16: a retention commit between a freeze looking at blobs and writing them leaves no snapshot naming a missing blob', () => {
  it('a freeze in a transaction writes the deleted blob anew, without running again', async () => {
    const { pgx, other } = await setUp();
    const snapshots = createPgSnapshotStore(pgx);
    const blob = { id: 'b-old', json: '{"old":true}' };
    let runs = 0;
    await pgx.atomically(async () => {
      runs++;
      // A look at which blobs exist (what the freeze did before PG-19), then the retention
      // commit, then the snapshot write given every blob its tree names.
      expect([...(await snapshots.knownBlobIds([blob.id]))]).toEqual([blob.id]);
      await (
        await retentionDeletes(other, blob.id)
      ).committed;
      await snapshots.putSnapshot(snapshotNaming(blob.id), [blob]);
    });
    expect(runs).toBe(1);
    expect(await snapshots.getSnapshot('p1', 'snap-old-content')).toBeDefined();
    expect([...(await snapshots.getBlobs([blob.id]))]).toEqual([[blob.id, blob.json]]);
  });

  it('the snapshot write waits for a retention commit under way, then writes the blob it deleted anew', async () => {
    const { pgx, other } = await setUp();
    const snapshots = createPgSnapshotStore(pgx);
    const blob = { id: 'b-old', json: '{"old":true}' };
    expect([...(await snapshots.knownBlobIds(['b-old']))]).toEqual(['b-old']);
    const commit = opened<void>();
    const retention = await retentionDeletes(other, 'b-old', commit.promise);
    let settled = false;
    const write = snapshots
      .putSnapshot(snapshotNaming('b-old'), [blob])
      .finally(() => (settled = true));
    await expect.poll(() => lockWaiters(pgx), { timeout: 10_000 }).toBe(1);
    expect(settled).toBe(false);
    commit.open();
    await retention.committed;
    await write;
    expect(await snapshots.getSnapshot('p1', 'snap-old-content')).toBeDefined();
    expect([...(await snapshots.getBlobs([blob.id]))]).toEqual([[blob.id, blob.json]]);
  });
});

describe('PG-19: a freeze outside any transaction writes the blobs a retention commit deleted since it looked (red team #15)', () => {
  it('the approval request freeze case: no rerun, no 503, and the snapshot reads back whole', async () => {
    const { pgx, other } = await setUp();
    const store = createPgSnapshotStore(pgx);
    // Every blob of the content is stored and no snapshot names it (what retention deletes):
    // frozen once, then that snapshot deleted.
    const first = createSnapshots(store);
    const id = await first.freeze('p1', sampleContent(), {
      kind: 'freeze',
      parentId: null,
      sourceDraftId: null,
      message: null,
      createdBy: 'u1',
    });
    const whole = await first.content('p1', id);
    const blobIds = Object.values(await first.tree('p1', id)).flatMap((s) => Object.values(s));
    expect(blobIds.length).toBeGreaterThan(5);
    await pgx.atomically(() => createPgRetentionStore(pgx).deleteSnapshot('p1', id));
    expect((await store.knownBlobIds(blobIds)).size).toBe(blobIds.length);
    // The freeze again, called outside any `atomically` (as an approval request's is): a
    // retention commit in another process deletes every blob after the freeze looked at which
    // exist and before its snapshot write.
    let writes = 0;
    const racing = createSnapshots({
      ...store,
      async putSnapshot(row, blobs) {
        writes++;
        await (
          await retentionDeletes(other, blobIds)
        ).committed;
        expect((await store.knownBlobIds(blobIds)).size).toBe(0);
        return store.putSnapshot(row, blobs);
      },
    });
    expect(pgx.inTransaction()).toBe(false);
    const again = await racing.freeze('p1', sampleContent(), {
      kind: 'freeze',
      parentId: null,
      sourceDraftId: null,
      message: 'again',
      createdBy: 'u1',
    });
    expect(again).toBe(id);
    expect(writes).toBe(1);
    expect((await store.knownBlobIds(blobIds)).size).toBe(blobIds.length);
    expect(await racing.content('p1', id)).toEqual(whole);
  });

  it('both stores take every blob the tree names and write the ones not there; a tree naming a blob neither there nor given is refused', async () => {
    const out = await sameOnBoth(
      () => sqliteStores(cleanup),
      () => pgStores(pg.pgx),
      async (s) => {
        await seedProject(s, 'p1');
        const blob = (id: string) => ({ id, json: `{"${id}":true}` });
        await s.snapshots.putBlobs([blob('b-a')]);
        const row = (id: string, tree: object) => ({
          ...snapshotNaming('b-a'),
          id,
          tree: JSON.stringify(tree),
        });
        // b-a is there, b-b is not; b-c is named by no tree (written too, as before).
        await s.snapshots.putSnapshot(row('s1', { prompts: { x: 'b-a', y: 'b-b' } }), [
          blob('b-a'),
          blob('b-b'),
          blob('b-c'),
          blob('b-b'),
        ]);
        const refused = await s.snapshots
          .putSnapshot(row('s2', { prompts: { x: 'b-a', z: 'b-none' } }), [blob('b-d')])
          .then(
            () => 'written',
            (e: unknown) => (e as Error).message,
          );
        return {
          blobs: [...(await s.snapshots.getBlobs(['b-a', 'b-b', 'b-c', 'b-d', 'b-none']))].sort(),
          s1: (await s.snapshots.getSnapshot('p1', 's1'))?.tree,
          refused,
          s2: await s.snapshots.getSnapshot('p1', 's2'),
        };
      },
    );
    expect(out).toEqual({
      blobs: [
        ['b-a', '{"b-a":true}'],
        ['b-b', '{"b-b":true}'],
        ['b-c', '{"b-c":true}'],
      ],
      s1: '{"prompts":{"x":"b-a","y":"b-b"}}',
      refused: 'snapshot s2 names 1 blob(s) that are neither stored nor given',
      s2: undefined,
    });
  });
});
