import type { DraftLog } from '../collab/draft-log.ts';
import type { Postgres } from '../store/pg/db.ts';
import { createPgDraftStore, FencedError } from '../store/pg/drafts.ts';
import type { Leases } from './leases.ts';
import { AppendBatcher } from './append-batcher.ts';

/**
 * The PostgreSQL draft log as a Room sees it (PG-101): every write carries the epoch of this
 * process's lease on the draft (PG-73); a draft whose lease is not held (lost, lapsed) is refused
 * with FencedError before any statement. The log never joins a domain transaction (PG-13): it
 * runs on the owner pool (`openOwnerPool`, PG-184) even when called from inside `atomically`,
 * since rolled back with it, updates peers had seen would be lost, and so that domain transactions
 * waiting for connections or locks cannot hold up a live draft's appends.
 */
export function ownedDraftLog(owner: Postgres, leases: Leases): DraftLog {
  const store = createPgDraftStore(owner, leases.nodeId);
  const epoch = (draftId: string): number => {
    const e = leases.epoch(draftId);
    if (e === undefined) throw new FencedError([draftId]);
    return e;
  };
  // A room's appends go out with other rooms' in one statement when they meet (PG-155).
  const batcher = new AppendBatcher((batches) => store.appendMany(batches), epoch);
  return {
    async: true,
    async claim(draftId) {
      const r = await leases.acquire(draftId);
      return 'owner' in r ? r.owner : null;
    },
    release: async (draftId) => await leases.release(draftId),
    load: async (draftId) => await store.load(draftId),
    append: async (draftId, updates) => await batcher.append(draftId, updates),
    appendMany: async (batches) =>
      await store.appendMany(batches.map((b) => ({ ...b, epoch: epoch(b.draftId) }))),
    compact: async (draftId, state, uptoSeq) =>
      await store.compact(draftId, state, uptoSeq, epoch(draftId)),
  };
}
