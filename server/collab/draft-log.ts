import type { StoredDraft } from '../store/drafts.ts';

/** A value now (SQLite) or later (PostgreSQL). */
export type Maybe<T> = T | Promise<T>;

/**
 * The draft log as a Room sees it (PG-101), satisfied by both dialects: the SQLite store
 * (server/store/drafts.ts) answers synchronously and is used as it is, so the keystroke path
 * over SQLite is unchanged; the PostgreSQL log (server/cluster/owned-drafts.ts) answers
 * promises, fenced by this process's lease on each draft. A Room tells the two apart by the
 * answer: a number is stored now, a promise is stored when it settles.
 */
export interface DraftLog {
  append(draftId: string, updates: readonly Uint8Array[]): Maybe<number>;
  appendMany(
    batches: readonly { draftId: string; updates: readonly Uint8Array[] }[],
  ): Maybe<number[]>;
  load(draftId: string): Maybe<StoredDraft>;
  compact(draftId: string, state: Uint8Array, uptoSeq: number): Maybe<void>;
  /**
   * Several processes (PG-100): makes this process the draft's owner before it is loaded, or
   * answers the live owner elsewhere. Absent: one process owns every draft.
   */
  claim?(draftId: string): Promise<{ node: string; url: string } | null>;
  /** Gives up ownership once the room unloaded (another process need not wait for it to lapse). */
  release?(draftId: string): Promise<void>;
  /** True when this log answers promises (the Room then keeps one append in flight). */
  readonly async?: boolean;
}

/** A draft another live process owns: the socket is refused for now (CLOSE.owner_moved, PG-102). */
export class OwnedElsewhere extends Error {
  readonly owner: { node: string; url: string };
  constructor(draftId: string, owner: { node: string; url: string }) {
    super(`draft ${draftId} is served by ${owner.node}`);
    this.name = 'OwnedElsewhere';
    this.owner = owner;
  }
}
