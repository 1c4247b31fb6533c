import * as Y from 'yjs';
import type { StoredDraft } from '../store/drafts.ts';

/** Updates applied per transaction when a log is replayed (never Y.mergeUpdates a long log: quadratic). */
const LOAD_BATCH = 500;

/**
 * Replays what a draft's log holds into `doc`: its state, then its updates in bounded batches.
 * Pending structs or deletes (updates accepted before updates were checked, depending on ones the
 * server never had) would apply later, inside someone else's change, and delete what they type:
 * they are dropped, and the answer says so.
 */
export function replayLog(
  doc: Y.Doc,
  stored: StoredDraft,
  origin: unknown,
): { droppedPending: boolean } {
  if (stored.state) Y.applyUpdate(doc, stored.state, origin);
  for (let i = 0; i < stored.updates.length; i += LOAD_BATCH) {
    const batch = stored.updates.slice(i, i + LOAD_BATCH);
    doc.transact(() => {
      for (const u of batch) Y.applyUpdate(doc, u, origin);
    }, origin);
  }
  const droppedPending = Boolean(doc.store.pendingStructs || doc.store.pendingDs);
  doc.store.pendingStructs = null;
  doc.store.pendingDs = null;
  return { droppedPending };
}
