import type { Atomically } from './events.ts';
import { SECTIONS } from '#schema/content/spec.ts';
import type { Tree } from '#schema/content/diff.ts';
import type { AbandonedRequest, RetentionStore } from '../store/retention.ts';
import { DAY } from '../lib/time.ts';

/**
 * Snapshot trees read per step of the blob scan; the event loop runs between steps. Small:
 * a 2,000-item tree is ~170 KB of JSON (500 such snapshots, 100 a page, blocked 300 ms).
 */
const SCAN_PAGE = 10;

export interface SweepResult {
  requests: number;
  snapshots: number;
  blobs: number;
}

const blobIdsOf = (treeJson: string): string[] => {
  const tree = JSON.parse(treeJson) as Partial<Tree>;
  return SECTIONS.flatMap((s) => Object.values(tree[s] ?? {}));
};

/**
 * The retention rule for approval requests: every approval request from the authoring stage
 * freezes a snapshot, so requests given up on — voided or rejected more than `retentionDays`
 * ago, or left open that long — are deleted with the snapshots only they held and the blobs
 * only those snapshots named. A snapshot that anything else holds (a pointer, a release record,
 * a hotfix, a pinned share link, a request that is done or within retention) stays.
 *
 * Plan, then commit: the scan of every other snapshot's tree (which blobs stay) runs in
 * pages, yielding to the event loop; the deletes run in one synchronous transaction that
 * re-checks what the scan could have missed (a request or a freeze made meanwhile).
 */
export function createRetention(deps: {
  store: RetentionStore;
  retentionDays: number;
  /** Audit of a request deleted while still open (voided and rejected ones already have their event). */
  expired: (r: AbandonedRequest, now: number) => Promise<unknown>;
  pause?: () => Promise<void>;
  /** Several store calls as one transaction (PG-11). */
  atomically: Atomically;
}) {
  const { store } = deps;
  const pause = deps.pause ?? (() => new Promise<void>((resolve) => setImmediate(resolve)));
  let stopped = false;

  async function sweep(now = Date.now()): Promise<SweepResult> {
    const cutoff = now - deps.retentionDays * DAY;
    const abandoned = await store.abandonedRequests(cutoff);
    if (abandoned.length === 0) return { requests: 0, snapshots: 0, blobs: 0 };

    const key = (projectId: string, id: string) => `${projectId}\0${id}`;
    const unreferenced = async (): Promise<Map<string, { projectId: string; id: string }>> => {
      const out = new Map<string, { projectId: string; id: string }>();
      for (const projectId of new Set(abandoned.map((r) => r.projectId))) {
        const held = await store.referencedSnapshotIds(projectId, cutoff);
        for (const r of abandoned)
          if (r.projectId === projectId && !held.has(r.snapshotId))
            out.set(key(projectId, r.snapshotId), { projectId, id: r.snapshotId });
      }
      return out;
    };

    // Plan: the candidate snapshots, and the blobs no other snapshot names.
    const candidates = await unreferenced();
    const blobs = new Set<string>();
    let read = 0;
    for (const s of candidates.values()) {
      for (const b of blobIdsOf((await store.tree(s.projectId, s.id)) ?? '{}')) blobs.add(b);
      if (++read % SCAN_PAGE === 0) await pause();
      if (stopped) return { requests: 0, snapshots: 0, blobs: 0 };
    }
    const mark = await store.lastSnapshotRow();
    for (let after = 0; after < mark && blobs.size > 0;) {
      const page = await store.treesAfter(after, mark, SCAN_PAGE);
      if (page.length === 0) break;
      for (const row of page)
        if (!candidates.has(key(row.projectId, row.id)))
          for (const b of blobIdsOf(row.tree)) blobs.delete(b);
      after = page[page.length - 1]!.row;
      await pause();
      if (stopped) return { requests: 0, snapshots: 0, blobs: 0 };
    }

    // Commit, re-checked: what is held now stays, with its blobs; so do blobs of snapshots frozen during the scan.
    const result = await deps.atomically(async (): Promise<SweepResult> => {
      const doomed = await unreferenced();
      for (const [k, s] of candidates) {
        if (!doomed.has(k))
          for (const b of blobIdsOf((await store.tree(s.projectId, s.id)) ?? '{}')) blobs.delete(b);
      }
      for (const row of await store.treesAfter(
        mark,
        Number.MAX_SAFE_INTEGER,
        Number.MAX_SAFE_INTEGER,
      ))
        for (const b of blobIdsOf(row.tree)) blobs.delete(b);
      for (const b of await store.blobsNamedByReplication([...blobs])) blobs.delete(b);
      let deletedSnapshots = 0;
      for (const [k, s] of doomed) {
        if (!candidates.has(k)) continue; // became unreferenced during the scan: its blobs were not checked; the next sweep takes it
        await store.deleteSnapshot(s.projectId, s.id);
        deletedSnapshots++;
      }
      for (const r of abandoned) await store.deleteRequest(r.id);
      for (const b of blobs) await store.deleteBlob(b);
      return { requests: abandoned.length, snapshots: deletedSnapshots, blobs: blobs.size };
    });
    for (const r of abandoned) if (r.state === 'open') await deps.expired(r, now);
    return result;
  }

  return {
    sweep,
    /** Stops a sweep in progress at its next page (nothing is deleted by a stopped sweep). */
    stop(): void {
      stopped = true;
    },
  };
}
