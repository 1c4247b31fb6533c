import type Database from 'better-sqlite3';

/**
 * The draft update log and its compacted state. Raw prepared statements: this is the hot
 * path of every keystroke, and each call is one synchronous SQLite transaction.
 */
export interface StoredDraft {
  state: Uint8Array | null;
  /** Logged updates after the state row, oldest first. */
  updates: Uint8Array[];
  /** Highest sequence number covered by state + updates (0 if none). */
  lastSeq: number;
}

/**
 * The draft log never joins a domain transaction it is not part of (PG-13): rolled back with it,
 * updates peers had seen would be lost. It refuses as a busy database would; Room.flush keeps
 * the updates and retries.
 */
function refuseWhileHeld(heldByOther: () => boolean): void {
  if (heldByOther())
    throw Object.assign(new Error('database is busy with another transaction'), {
      code: 'SQLITE_BUSY',
    });
}

/** `heldByOther`: a transaction is open that this call is not part of (default: any open one). */
export function createDraftStore(
  sqlite: Database.Database,
  heldByOther: () => boolean = () => sqlite.inTransaction,
) {
  const insertUpdate = sqlite.prepare(
    'INSERT INTO draft_updates (draft_id, "update", created_at) VALUES (?, ?, ?)',
  );
  const selectState = sqlite.prepare<[string], { state: Buffer; upto_seq: number }>(
    'SELECT state, upto_seq FROM draft_states WHERE draft_id = ?',
  );
  const selectUpdates = sqlite.prepare<[string, number], { seq: number; update: Buffer }>(
    'SELECT seq, "update" FROM draft_updates WHERE draft_id = ? AND seq > ? ORDER BY seq',
  );
  const upsertState = sqlite.prepare(
    `INSERT INTO draft_states (draft_id, state, upto_seq, updated_at) VALUES (?, ?, ?, ?)
     ON CONFLICT(draft_id) DO UPDATE SET state = excluded.state, upto_seq = excluded.upto_seq,
       updated_at = excluded.updated_at WHERE excluded.upto_seq >= draft_states.upto_seq`,
  );
  const deleteUpdates = sqlite.prepare('DELETE FROM draft_updates WHERE draft_id = ? AND seq <= ?');

  const append = sqlite.transaction(
    (draftId: string, updates: readonly Uint8Array[], now: number): number => {
      let last = 0;
      for (const u of updates) last = Number(insertUpdate.run(draftId, u, now).lastInsertRowid);
      return last;
    },
  );

  const appendMany = sqlite.transaction(
    (
      batches: readonly { draftId: string; updates: readonly Uint8Array[] }[],
      now: number,
    ): number[] =>
      batches.map((b) => {
        let last = 0;
        for (const u of b.updates)
          last = Number(insertUpdate.run(b.draftId, u, now).lastInsertRowid);
        return last;
      }),
  );

  const compact = sqlite.transaction(
    (draftId: string, state: Uint8Array, uptoSeq: number, now: number) => {
      upsertState.run(draftId, state, uptoSeq, now);
      deleteUpdates.run(draftId, uptoSeq);
    },
  );

  return {
    /** Appends updates in one transaction; returns the last sequence number written. */
    append(draftId: string, updates: readonly Uint8Array[]): number {
      refuseWhileHeld(heldByOther);
      return append(draftId, updates, Date.now());
    },
    /** Appends several drafts' updates in ONE transaction (group commit); returns each draft's last sequence number. */
    appendMany(batches: readonly { draftId: string; updates: readonly Uint8Array[] }[]): number[] {
      refuseWhileHeld(heldByOther);
      return appendMany(batches, Date.now());
    },
    load(draftId: string): StoredDraft {
      const state = selectState.get(draftId);
      const from = state?.upto_seq ?? 0;
      const rows = selectUpdates.all(draftId, from);
      return {
        state: state ? new Uint8Array(state.state) : null,
        updates: rows.map((r) => new Uint8Array(r.update)),
        lastSeq: rows.length > 0 ? rows[rows.length - 1]!.seq : from,
      };
    },
    /** Replaces the state row with `state` (covering every update up to `uptoSeq`) and drops those updates. */
    compact(draftId: string, state: Uint8Array, uptoSeq: number): void {
      compact(draftId, state, uptoSeq, Date.now());
    },
  };
}

export type DraftStore = ReturnType<typeof createDraftStore>;
