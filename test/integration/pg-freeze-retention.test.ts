import { describe, expect, it } from 'vitest';
import { TransactionConflict, type Postgres } from '#server/store/pg/db.ts';
import { createPgRetentionStore } from '#server/store/pg/retention.ts';
import { createPgSnapshotStore } from '#server/store/pg/snapshots.ts';
import type { SnapshotRow } from '#server/store/snapshots.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { lockWaiters, opened, postgresPerFile } from '../helpers/pg-per-file.ts';
import { pgStores, seedProject, T0 } from '../helpers/dialects.ts';

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
  id: string,
  holdOpen: Promise<void> = Promise.resolve(),
): Promise<{ committed: Promise<void> }> {
  const deleted = opened<void>();
  const committed = other.atomically(async () => {
    await createPgRetentionStore(other).deleteBlob(id);
    deleted.open();
    await holdOpen;
  });
  await Promise.race([deleted.promise, committed]);
  return { committed };
}

describe('PG-16: a retention commit between a freeze looking at blobs and writing them leaves no snapshot naming a missing blob', () => {
  it('a freeze in a transaction runs again and writes the deleted blob anew', async () => {
    const { pgx, other } = await setUp();
    const snapshots = createPgSnapshotStore(pgx);
    const blob = { id: 'b-old', json: '{"old":true}' };
    let runs = 0;
    // What the domain's freeze does: ask which blobs exist, write the snapshot and the others.
    await pgx.atomically(async () => {
      runs++;
      const known = await snapshots.knownBlobIds([blob.id]);
      // The retention commit lands between the look and the write (the first time).
      if (runs === 1) await (await retentionDeletes(other, blob.id)).committed;
      await snapshots.putSnapshot(snapshotNaming(blob.id), known.has(blob.id) ? [] : [blob]);
    });
    expect(runs).toBe(2);
    expect(await snapshots.getSnapshot('p1', 'snap-old-content')).toBeDefined();
    expect([...(await snapshots.getBlobs([blob.id]))]).toEqual([[blob.id, blob.json]]);
  });

  it('the snapshot write waits for a retention commit under way, then refuses to name the blob it deleted', async () => {
    const { pgx, other } = await setUp();
    const snapshots = createPgSnapshotStore(pgx);
    expect([...(await snapshots.knownBlobIds(['b-old']))]).toEqual(['b-old']);
    const commit = opened<void>();
    const retention = await retentionDeletes(other, 'b-old', commit.promise);
    let settled = false;
    const write = snapshots
      .putSnapshot(snapshotNaming('b-old'), [])
      .finally(() => (settled = true));
    await expect.poll(() => lockWaiters(pgx), { timeout: 10_000 }).toBe(1);
    expect(settled).toBe(false);
    commit.open();
    await retention.committed;
    await expect(write).rejects.toBeInstanceOf(TransactionConflict);
    expect(await snapshots.getSnapshot('p1', 'snap-old-content')).toBeUndefined();
  });
});
