import * as Y from 'yjs';
import * as awarenessProtocol from 'y-protocols/awareness';
import * as decoding from 'lib0/decoding';
import type { CloseReason } from '#schema/errors.ts';
import { LiveContent } from '#schema/content/live.ts';
import { replayLog } from './stored-doc.ts';
import type { WorkspaceContent } from '#schema/content/ydoc.ts';
import type { StoredDraft } from '../store/drafts.ts';
import { FencedError } from '../store/pg/drafts.ts';
import type { DraftLog } from './draft-log.ts';
import { DraftBudget } from './draft-size.ts';
import {
  decodeMessage,
  encodeAwareness,
  encodeSyncStep1,
  encodeSyncStep2,
  encodeUpdate,
} from './protocol.ts';
import { PresenceGate, type PresenceLimits } from './presence.ts';
import { SyncReplies } from './sync-replies.ts';
import { clock, lap } from './write-path-timing.ts';
import type { ReplyBudget } from './reply-budget.ts';
import {
  addedDeleted,
  changedAnything,
  checkTransaction,
  newAsSent,
  MAX_STRUCTS_PER_UPDATE,
  readOnlyWouldChange,
  readShape,
  type DeleteSet,
  type Refusal,
} from './update-guard.ts';
import { dismantleTooDeep } from './dismantle.ts';

/** One connected client, as the room sees it (the websocket stays outside). */
export interface Peer {
  readonly userId: string;
  /** The authenticated user's name: the name this peer's presence shows, whatever it sends. */
  readonly userName: string;
  /** Decided at connect time; a read-only peer's changes are refused whole. */
  readonly readOnly: boolean;
  /** `drained` runs once the frame left the process (backs "one full-state reply in flight"). */
  send(frame: Uint8Array, drained?: () => void): void;
  close(reason: CloseReason, detail?: string): void;
}

/** Typed transaction origins, so persistence and audit know who did what. */
export type Origin =
  { kind: 'connection'; peer: Peer } | { kind: 'load' } | { kind: 'server'; reason: string };

/** What flow rules decide about a live draft (domain/flow-rules.ts createDraftPolicy implements it). */
export interface DraftPolicy {
  /**
   * Top-level types (sections) a peer may not change in this draft (`down` sections below their
   * source); asked when the room loads.
   */
  readOnlySections(draftId: string): Promise<ReadonlySet<string>>;
  /** Called after changes to the draft are in the log (replication follows); never waited for. */
  onDurable(draftId: string): void;
}

export interface RoomOptions {
  compactAfterUpdates: number;
  /** Bounds on each connection's presence (awareness) states. */
  presence: PresenceLimits;
  /** Bytes of fresh full-state replies per user and second, shared by every room (none: unbounded). */
  replyBudget?: ReplyBudget;
  /**
   * Bytes of shadow rebuilds each user's refused updates may cost per second (none: unbounded).
   * A refused update drops the shadow, and the next write copies the whole draft into a new one:
   * a 13-byte refused update costs O(document). Its user is charged the draft's size; while in
   * debt, their updates are refused 4420 before they can cost another copy.
   */
  refusalBudget?: ReplyBudget;
  /** What the domain's flow rules decide about each draft (none: every section writable, nothing follows). */
  policy?: DraftPolicy;
  /** Appends the updates of every room changed in a tick in one transaction (rooms flush alone without it). */
  groupCommit?: { enqueue(room: Room): void };
  log: (msg: string, err?: unknown) => void;
  /**
   * This process may no longer write the draft (FencedError, PG-103): the registry stops serving
   * it (Rooms.lost). Absent: the room stops itself.
   */
  onFenced?: (room: Room) => void;
  /**
   * Largest a draft may grow (bytes of its encoded state); a peer update past it is refused whole
   * (draft_too_large).
   */
  maxDraftBytes?: number;
}

/** Sync step 2 answers kept per document version (by the asking state vector). */
const MAX_CACHED_REPLIES = 8;
/** Presence (awareness) changes are gathered for this long and sent to everyone as one frame. */
export const PRESENCE_BATCH_MS = 50;
/**
 * Clients a sync step 1 may name beyond the draft's own (its sender's edits not sent yet: honest
 * clients have one or a few).
 */
const MAX_UNKNOWN_CLIENTS = 1024;

/** How many clients a state vector names, read from its first number alone (Infinity if it has none). */
function clientsNamed(stateVector: Uint8Array): number {
  try {
    return decoding.readVarUint(decoding.createDecoder(stateVector));
  } catch {
    return Infinity;
  }
}

/** Accepted peer updates (or bytes of them) the document may lag the shadow by (Room.lag). */
const LAG_MAX = 64;
const LAG_MAX_BYTES = 256 * 1024;

/** How long a failed append waits before it is tried again. */
const RETRY_MS = 1000;
/**
 * An append to an async log (PostgreSQL) still unanswered after this long: peers are told the
 * server cannot save (PG-104), as after a failed one — a stopped database hangs, it does not fail.
 */
const SLOW_APPEND_MS = 1000;

/**
 * One loaded draft: the Y.Doc, its awareness, its peers, and durable persistence.
 * Every change is appended to the update log BEFORE it is sent to anyone (batched per tick).
 */
export class Room {
  readonly draftId: string;
  /**
   * The document, which may lag the shadow by the peer updates in `lag` (read it through `doc`,
   * which catches it up first).
   */
  private readonly ydoc: Y.Doc;
  readonly awareness: awarenessProtocol.Awareness;
  readonly peers = new Set<Peer>();
  /** Every presence message passes it: sizes, owned client ids, rate, the authenticated name. */
  private readonly presenceGate: PresenceGate;
  /**
   * A replica every peer update and server edit is applied to first. Yjs can throw halfway
   * through integrating a crafted update (after decoding it fine) or through a change, and
   * would then emit the half it applied; trying it on the shadow keeps the real document from
   * ever seeing part of one, and lets update-guard.ts inspect the transaction before it counts.
   * Made on the first write (a draft only read needs none).
   */
  private shadow: Y.Doc | null = null;
  /**
   * Peer updates the shadow accepted that the document has not taken yet, oldest first. A peer
   * update is integrated once on the hot path (on the shadow, which is then current); the
   * document takes the accepted ones in one transaction when it is next read, or once LAG_MAX
   * of them (or LAG_MAX_BYTES) have queued: one transaction per keystroke cost 25 µs a keystroke.
   */
  private lag: Uint8Array[] = [];
  private lagBytes = 0;
  /** Set while the document catches up with `lag` (already pending or stored, already on the shadow). */
  private catchingUp = false;
  /** Set while a server edit made on the shadow is applied to the document (the shadow has it already). */
  private fromShadow = false;
  /** Set while a change already in the log is applied (editStored): it is sent, not queued. */
  private alreadyStored = false;
  private readonly store: DraftLog;
  private readonly opts: RoomOptions;
  /** An append to an async log is unanswered (PG-101: one in flight; later updates wait in `pending`). */
  private inFlight: Promise<boolean> | null = null;
  /** A compaction of an async log is unanswered (one at a time). */
  private compacting: Promise<void> | null = null;
  private pending: { update: Uint8Array; origin: Origin | null }[] = [];
  private flushScheduled = false;
  private retryTimer: NodeJS.Timeout | null = null;
  /** Sync step 1 requests: one reply in flight per peer, answered only once the log holds everything before them. */
  private readonly syncReplies: SyncReplies<Peer>;
  private readonly replies = new Map<string, Uint8Array>();
  /** Presence changes not yet sent (client ids), and the timer that sends them. */
  private presence = new Set<number>();
  private presenceTimer: NodeJS.Timeout | null = null;
  /** Everyone's presence as one frame (the answer to query-awareness), until presence next changes. */
  private everyone: Uint8Array | null = null;
  /** Set while the log cannot be written; peers see it as the server's presence state. */
  private storageFailingSince: string | null = null;
  private lastSeq: number;
  private loggedSinceCompaction: number;
  private destroyed = false;
  private readonly readOnlySections: ReadonlySet<string>;
  /** Made on the first read, then kept up to date while the room is loaded (freezing reuses unchanged items). */
  private live: LiveContent | null = null;
  private readonly budget: DraftBudget;
  /**
   * The document's delete set, for read-only peers' updates (update-guard.ts wouldChange); made on
   * demand, dropped on every change.
   */
  private deleted: DeleteSet | null = null;
  /** False once a walk found no value nested deeper than the layout (`changeOnShadow`, SEC-7). */
  private mayHoldTooDeep = true;

  /**
   * `readOnlySections`: what `opts.policy` answered for this draft (Rooms asks before loading).
   * `loaded`: what an async log answered (Rooms loads it first); absent, a synchronous log is read here.
   */
  constructor(
    draftId: string,
    store: DraftLog,
    opts: RoomOptions,
    readOnlySections: ReadonlySet<string> = new Set(),
    loaded?: StoredDraft,
  ) {
    this.draftId = draftId;
    this.store = store;
    this.opts = opts;
    this.readOnlySections = readOnlySections;
    this.ydoc = new Y.Doc({ gc: true });
    const stored = loaded ?? store.load(draftId);
    if (stored instanceof Promise) throw new Error('an async draft log is loaded before the room');
    if (replayLog(this.ydoc, stored, { kind: 'load' } satisfies Origin).droppedPending)
      opts.log(
        `draft ${draftId}: dropped pending changes that depend on updates the server never had`,
      );
    this.lastSeq = stored.lastSeq;
    this.loggedSinceCompaction = stored.updates.length;
    this.budget = new DraftBudget(
      opts.maxDraftBytes ?? Infinity,
      (stored.state?.byteLength ?? 0) + stored.updates.reduce((n, u) => n + u.byteLength, 0),
    );

    this.ydoc.on('update', this.onDocUpdate);
    this.awareness = new awarenessProtocol.Awareness(this.ydoc);
    this.awareness.setLocalState(null);
    this.awareness.on('update', this.onAwarenessUpdate);
    this.presenceGate = new PresenceGate(this.awareness, opts.presence);
    // What we send must already be durable (a client takes the answer as "saved"): if the log
    // cannot be written now, the answer waits for the retry that succeeds.
    this.syncReplies = new SyncReplies<Peer>(
      () => this.flush(),
      (peer, stateVector, drained) => this.answerSyncStep1(peer, stateVector, drained),
    );
    if (this.loggedSinceCompaction >= opts.compactAfterUpdates) this.compact();
  }

  get size(): number {
    return this.peers.size;
  }

  /** The document with every accepted change (it takes what `lag` holds first). */
  get doc(): Y.Doc {
    if (this.lag.length > 0) this.catchUp();
    return this.ydoc;
  }

  /** The document takes the peer updates the shadow accepted since it was last read, in one transaction. */
  private catchUp(): void {
    const lag = this.lag;
    this.lag = [];
    this.lagBytes = 0;
    const t = clock();
    this.catchingUp = true;
    try {
      this.ydoc.transact(() => {
        for (const update of lag) Y.applyUpdate(this.ydoc, update);
      });
    } finally {
      this.catchingUp = false;
    }
    lap('apply', t);
  }

  /** The draft as JSON; unchanged items are the same frozen objects as in the previous read. */
  content(): WorkspaceContent {
    const doc = this.doc;
    this.live ??= new LiveContent(doc);
    return this.live.read();
  }

  /** True when every change made so far is in the log. */
  get durable(): boolean {
    return this.pending.length === 0;
  }

  join(peer: Peer): void {
    this.peers.add(peer);
    this.presenceGate.join(peer);
    // Ask for what the client has that we lack (offline edits), and tell it who is here.
    peer.send(encodeSyncStep1(Y.encodeStateVector(this.doc)));
    const states = [...this.awareness.getStates().keys()];
    if (states.length > 0)
      peer.send(encodeAwareness(awarenessProtocol.encodeAwarenessUpdate(this.awareness, states)));
  }

  leave(peer: Peer): void {
    if (!this.peers.delete(peer)) return;
    this.syncReplies.forget(peer);
    this.presenceGate.leave(peer);
  }

  /** Handles one websocket frame from `peer`. Refusals close the peer; nothing of a refused frame is applied. */
  receive(peer: Peer, frame: Uint8Array): void {
    // A frame that was on its way when the room stopped serving the draft (PG-103).
    if (this.destroyed) return;
    let msg;
    const t = clock();
    try {
      msg = decodeMessage(frame);
    } catch (err) {
      peer.close('malformed_message', (err as Error).message);
      return;
    }
    switch (msg.type) {
      case 'sync-step1':
        // A state vector names the clients its sender knows: this draft's and a few of its own
        // not sent yet. Yjs decodes it into a Map before encoding the (maybe tiny) reply, so its
        // cost follows its length, not the reply's: 2.5 million made-up clients (12 MB) cost a
        // second each time. Counted before anything is decoded.
        if (clientsNamed(msg.stateVector) > this.doc.store.clients.size + MAX_UNKNOWN_CLIENTS) {
          peer.close(
            'malformed_message',
            'the state vector names more clients than this draft has',
          );
          return;
        }
        this.syncReplies.request(peer, msg.stateVector);
        return;
      case 'update':
        this.applyFrom(peer, msg.update, lap('decode', t));
        return;
      case 'awareness':
        this.presenceGate.receive(peer, msg.update);
        return;
      case 'query-awareness': {
        if (!this.presenceGate.mayQuery(peer)) return;
        // Everyone's presence may be megabytes (4 states of 8 KiB per connection): a 1-byte
        // question must not buy that without bound, so answers draw on the user's budget of
        // full-state bytes like sync step 2 replies do (over it, the question is ignored).
        if ((this.opts.replyBudget?.wait(peer.userId) ?? 0) > 0) return;
        this.everyone ??= encodeAwareness(
          awarenessProtocol.encodeAwarenessUpdate(this.awareness, [
            ...this.awareness.getStates().keys(),
          ]),
        );
        this.opts.replyBudget?.charge(peer.userId, this.everyone.length);
        peer.send(this.everyone);
        return;
      }
    }
  }

  /**
   * Sync step 2 for a state vector. Answers are cached per state vector until the document
   * next changes: 200 new clients (empty state vector) of a 5 MB draft cost one encoding.
   */
  private answerSyncStep1(peer: Peer, stateVector: Uint8Array, drained: () => void): number {
    if (!this.peers.has(peer)) return 0;
    const key = Buffer.from(
      stateVector.buffer,
      stateVector.byteOffset,
      stateVector.byteLength,
    ).toString('latin1');
    let frame = this.replies.get(key);
    if (!frame) {
      const waitMs = this.opts.replyBudget?.wait(peer.userId) ?? 0;
      if (waitMs > 0) return waitMs;
      try {
        frame = encodeSyncStep2(Y.encodeStateAsUpdate(this.doc, stateVector));
      } catch {
        peer.close('malformed_message', 'invalid state vector');
        return 0;
      }
      this.opts.replyBudget?.charge(peer.userId, frame.length);
      if (this.replies.size >= MAX_CACHED_REPLIES) this.replies.clear();
      this.replies.set(key, frame);
    }
    peer.send(frame, drained);
    return 0;
  }

  /** `t`: when the checks start (write-path-timing.ts). */
  private applyFrom(peer: Peer, update: Uint8Array, t: number): void {
    if (peer.readOnly) {
      // A read-only client still answers sync step 1; that is fine as long as it changes nothing.
      // Checked without decoding the update (a decoded struct is an object; a frame holds millions).
      let changes;
      try {
        changes = readOnlyWouldChange(
          this.doc,
          update,
          () => (this.deleted ??= Y.createDeleteSetFromStructStore(this.doc.store)),
        );
      } catch {
        peer.close('malformed_message', 'invalid Yjs update');
        return;
      }
      if (changes) peer.close('read_only', 'this connection may not change the draft');
      return;
    }
    let shape;
    try {
      // Read by hand first: proves the update well-formed before it touches the document, and
      // turns most malformed frames away in O(update) instead of an O(document) shadow rebuild.
      shape = readShape(update);
    } catch {
      peer.close('malformed_message', 'invalid Yjs update');
      return;
    }
    if (shape.tooMany) {
      peer.close('malformed_message', `an update holds at most ${MAX_STRUCTS_PER_UPDATE} structs`);
      return;
    }
    if (shape.disorderedDeletes) {
      peer.close('malformed_message', 'delete ranges out of order or overlapping');
      return;
    }
    if (shape.unknownRoot !== null) {
      peer.close('invalid_shape', `unknown top-level type "${shape.unknownRoot}"`);
      return;
    }
    if ((this.opts.refusalBudget?.wait(peer.userId) ?? 0) > 0) {
      peer.close('too_many_messages', 'too many refused updates: wait a moment, then reconnect');
      return;
    }
    if (!this.budget.admits(update.byteLength, () => Y.encodeStateAsUpdate(this.doc).byteLength)) {
      peer.close('draft_too_large', `this draft may not grow past ${this.budget.max} bytes`);
      return;
    }
    t = lap('checks', t);
    this.shadow ??= this.replica();
    const shadow = this.shadow;
    let refusal: Refusal | null = null;
    let changed = false;
    // What the update changed: the update itself when it holds only what is new (`newAsSent`)
    // and hid nothing from the checks (`addedDeleted`), else as Yjs encodes the transaction
    // (nothing when it held only known changes). Yjs emits the update after afterTransaction.
    let asSent = newAsSent(shape, shadow);
    const encoded: Uint8Array[] = [];
    const collect = (u: Uint8Array) => void encoded.push(u);
    const onTransaction = (tr: Y.Transaction) => {
      refusal ??= checkTransaction(shadow, tr, this.readOnlySections);
      changed ||= changedAnything(tr);
      if (asSent && addedDeleted(shadow, tr)) {
        asSent = false;
        shadow.on('update', collect);
      }
    };
    shadow.on('afterTransaction', onTransaction);
    if (!asSent) shadow.on('update', collect);
    try {
      Y.applyUpdate(shadow, update);
    } catch {
      refusal = { reason: 'malformed_message', detail: 'the update could not be applied' };
    } finally {
      shadow.off('afterTransaction', onTransaction);
      shadow.off('update', collect);
    }
    lap('shadow', t);
    if (refusal) {
      // Refused whole: the shadow took it (or part of it), so drop the shadow; the next write
      // rebuilds it from the document, which never saw the update.
      this.dropShadow();
      this.opts.refusalBudget?.charge(peer.userId, this.budget.size);
      const { reason, detail } = refusal as Refusal;
      peer.close(reason, detail);
      return;
    }
    const origin: Origin = { kind: 'connection', peer };
    // A copy: the update is a view into the frame, and the frame into a socket read of many.
    const changes = asSent ? (changed ? [update.slice()] : []) : encoded;
    for (const change of changes) {
      this.lag.push(change);
      this.lagBytes += change.byteLength;
      this.accepted(change, origin);
    }
    if (this.lag.length >= LAG_MAX || this.lagBytes >= LAG_MAX_BYTES) this.catchUp();
  }

  /**
   * Changes the draft from the server side (import, replication, pulls) as one change or not
   * at all: the change runs on the shadow first, and only if it completes does its update reach
   * the document (Yjs commits whatever a throwing transaction did before it threw).
   * `durable` (changes that answer a caller: import, pull, hotfix port): the change is also in
   * the log before the document or anyone sees it, and false means the log could not be written
   * and nothing changed; otherwise a failed append keeps the change in memory and retries.
   */
  edit(origin: Origin, change: (doc: Y.Doc) => void, durable = false): boolean {
    if (durable && !this.flush()) return false;
    const { updates, dismantled } = this.changeOnShadow(change);
    if (updates.length === 0) return true;
    let lastSeq = 0;
    if (durable) {
      try {
        const seq = this.store.append(this.draftId, updates);
        if (typeof seq !== 'number') throw new Error('an async draft log edits through editStored');
        lastSeq = seq;
      } catch (err) {
        this.opts.log(
          `draft ${this.draftId}: could not append a server change; refused, nothing changed`,
          err,
        );
        // The shadow took the change the document never will: rebuild it on the next write.
        this.dropShadow();
        return false;
      }
    }
    this.fromShadow = true;
    try {
      // One by one: merged, the dismantling steps would be one (recursing) transaction again.
      for (const update of updates) Y.applyUpdate(this.doc, update, origin);
    } catch (err) {
      this.dropShadow();
      throw err;
    } finally {
      this.fromShadow = false;
    }
    // The flush above emptied `pending`: all it holds now is this change, already in the log.
    if (durable) this.appended(this.pending.length, lastSeq);
    // Replayed from the log in one load batch, the dismantling would recurse again: fold it into the state now.
    if (dismantled > 0) this.compact();
    return true;
  }

  /**
   * `edit` over an async log (PostgreSQL, PG-101). Not durable: the change is made now and the
   * answer says whether it reached the log. Durable: it waits for everything pending, then holds
   * the room's one append slot for this change alone; the document and the peers see it only
   * once it is stored, and false means nothing changed.
   */
  async editStored(
    origin: Origin,
    change: (doc: Y.Doc) => void,
    durable = false,
  ): Promise<boolean> {
    if (!durable) return this.edit(origin, change) && (await this.settle());
    while (this.inFlight || this.pending.length > 0) if (!(await this.settle())) return false;
    if (this.destroyed) return false;
    const { updates, dismantled } = this.changeOnShadow(change);
    if (updates.length === 0) return true;
    let free!: (stored: boolean) => void;
    this.inFlight = new Promise<boolean>((resolve) => (free = resolve));
    let lastSeq: number;
    try {
      lastSeq = await this.store.append(this.draftId, updates);
    } catch (err) {
      this.inFlight = null;
      free(false);
      this.dropShadow();
      if (err instanceof FencedError) this.fenced();
      else
        this.opts.log(
          `draft ${this.draftId}: could not append a server change; refused, nothing changed`,
          err,
        );
      return false;
    }
    this.inFlight = null;
    // Stored: whoever loads the draft next sees it, even if this room stopped meanwhile.
    if (!this.destroyed) {
      // Stored already: straight to the peers, not into `pending` (which holds peers' updates
      // that arrived meanwhile and are not stored yet).
      this.fromShadow = true;
      this.alreadyStored = true;
      try {
        for (const update of updates) Y.applyUpdate(this.doc, update, origin);
      } catch (err) {
        this.dropShadow();
        throw err;
      } finally {
        this.fromShadow = false;
        this.alreadyStored = false;
      }
      this.lastSeq = Math.max(this.lastSeq, lastSeq);
      this.loggedSinceCompaction += updates.length;
      this.opts.policy?.onDurable(this.draftId);
      if (dismantled > 0) this.compact();
    }
    free(true);
    if (this.pending.length > 0) this.flush();
    return true;
  }

  /** Runs a server change on the shadow: its updates (none if it changed nothing), and the dismantling it took. */
  private changeOnShadow(change: (doc: Y.Doc) => void): {
    updates: Uint8Array[];
    dismantled: number;
  } {
    let updates: Uint8Array[];
    let dismantled = 0;
    try {
      updates = this.onShadow((shadow) => shadow.transact(() => change(shadow)));
    } catch (err) {
      // A value nested too deep (from before updates were checked) overflows Yjs's recursive
      // delete or garbage collection: take it apart bottom-up first, then try the change once
      // more on a new shadow. Any error: where the stack runs out decides what is thrown (a
      // RangeError, or whatever Yjs's clean-up of the half-done transaction then throws).
      // Once a walk found none, the draft cannot get one (update-guard.ts refuses them, and
      // server changes write checked content): later failures are the change's own, thrown as
      // they are without walking the document again.
      if (!this.mayHoldTooDeep) throw err;
      updates = this.onShadow((shadow) => {
        dismantled = dismantleTooDeep(shadow);
        if (dismantled === 0) {
          this.mayHoldTooDeep = false;
          throw err;
        }
        shadow.transact(() => change(shadow));
      });
    }
    return { updates, dismantled };
  }

  /**
   * Runs `work` on the shadow and returns the updates it made; if it throws, the shadow is dropped
   * (the document saw none of it).
   */
  private onShadow(work: (shadow: Y.Doc) => void): Uint8Array[] {
    this.shadow ??= this.replica();
    const shadow = this.shadow;
    const updates: Uint8Array[] = [];
    const collect = (u: Uint8Array) => void updates.push(u);
    shadow.on('update', collect);
    try {
      work(shadow);
    } catch (err) {
      this.dropShadow();
      throw err;
    } finally {
      shadow.off('update', collect);
    }
    return updates;
  }

  /** The shadow took what the document never will: dropped, and rebuilt from the document on the next write. */
  private dropShadow(): void {
    this.shadow?.destroy();
    this.shadow = null;
  }

  private replica(): Y.Doc {
    const doc = new Y.Doc({ gc: true });
    Y.applyUpdate(doc, Y.encodeStateAsUpdate(this.doc));
    return doc;
  }

  private readonly onDocUpdate = (update: Uint8Array, origin: unknown): void => {
    // Peer updates the shadow accepted: already counted, queued or stored.
    if (this.catchingUp) return;
    const o = (origin as Origin | null) ?? null;
    // Server edits reached the shadow first; anything else joins it here.
    if (!this.fromShadow && this.shadow) Y.applyUpdate(this.shadow, update);
    this.accepted(update, o);
  };

  /** A change to the draft (a peer's, accepted; a server edit): queued for the log, or sent if stored already. */
  private accepted(update: Uint8Array, o: Origin | null): void {
    this.replies.clear();
    this.deleted = null;
    this.budget.grew(update.byteLength);
    if (this.alreadyStored) {
      const frame = encodeUpdate(update);
      for (const peer of this.peers.keys()) peer.send(frame);
      return;
    }
    this.pending.push({ update, origin: o });
    if (this.opts.groupCommit) return this.opts.groupCommit.enqueue(this);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        this.flush();
      });
    }
  }

  /** The updates not yet in the log, oldest first (a group commit appends them for several rooms at once). */
  get pendingUpdates(): Uint8Array[] {
    return this.pending.map((p) => p.update);
  }

  /** Appends pending updates in one transaction, then broadcasts them. On failure nothing is sent and it retries. */
  flush(): boolean {
    if (this.pending.length === 0) return true;
    // One append in flight (PG-101): what arrives meanwhile goes with the next one.
    if (this.inFlight || this.destroyed) return false;
    const count = this.pending.length;
    let answer: number | Promise<number>;
    try {
      answer = this.store.append(this.draftId, this.pendingUpdates);
    } catch (err) {
      this.appendFailed(err, count);
      return false;
    }
    if (typeof answer === 'number') {
      this.appended(count, answer);
      return true;
    }
    this.awaitAppend(answer, count);
    return false;
  }

  /** True while the draft log answers promises (PostgreSQL). */
  get async(): boolean {
    return this.store.async === true;
  }

  /**
   * Async log: the first `count` pending updates are being appended; broadcast once stored
   * (nothing is sent that is not stored), then the next append takes what arrived meanwhile.
   */
  private awaitAppend(answer: Promise<number>, count: number): void {
    const slow = setTimeout(() => this.storageFailing(true), SLOW_APPEND_MS);
    this.inFlight = answer.then(
      (lastSeq) => {
        clearTimeout(slow);
        this.inFlight = null;
        if (this.destroyed) return false;
        this.appended(count, lastSeq);
        if (this.pending.length > 0) this.flush();
        return true;
      },
      (err: unknown) => {
        clearTimeout(slow);
        this.inFlight = null;
        if (!this.destroyed) this.appendFailed(err, count);
        return false;
      },
    );
  }

  /**
   * Async log: appends what is pending and waits until the log holds it; false when it cannot
   * be written now (kept in memory and retried) or the room stopped.
   */
  async settle(): Promise<boolean> {
    while (this.pending.length > 0) {
      if (this.destroyed) return false;
      if (!this.inFlight && this.flush()) return true;
      const appending = this.inFlight;
      if (!appending || !(await appending)) return false;
    }
    return !this.destroyed;
  }

  /** A failed append: a fenced one stops the room (PG-103); any other keeps the updates and retries. */
  private appendFailed(err: unknown, count: number): void {
    if (err instanceof FencedError) return this.fenced();
    this.opts.log(
      `draft ${this.draftId}: could not append ${count} update(s); keeping them in memory and retrying`,
      err,
    );
    this.storageFailing(true);
    this.retryTimer ??= setTimeout(() => {
      this.retryTimer = null;
      this.flush();
    }, RETRY_MS);
  }

  private fenced(): void {
    if (this.opts.onFenced) this.opts.onFenced(this);
    else this.stopServing();
  }

  /**
   * This process may no longer write the draft (lease lost, write fenced: PG-103): every peer is
   * closed with owner_moved (they reconnect, to the new owner), updates not stored are dropped
   * (the clients still hold them and send them again in their reconnect handshake), and the room
   * unloads without compacting (that write would be fenced too).
   */
  stopServing(): void {
    if (this.destroyed) return;
    this.pending = [];
    this.closeAll('owner_moved');
    this.destroy();
  }

  /** Resolves once a compaction of an async log started by `unload` has ended (stored or not). */
  get settled(): Promise<void> {
    return this.compacting ?? Promise.resolve();
  }

  /** The first `count` pending updates are in the log (up to `lastSeq`): broadcast them, answer who waited. */
  appended(count: number, lastSeq: number): void {
    const batch = this.pending.slice(0, count);
    this.pending = this.pending.slice(count);
    this.lastSeq = lastSeq;
    if (this.storageFailingSince) this.storageFailing(false);
    this.loggedSinceCompaction += batch.length;
    const t = clock();
    for (const { update, origin } of batch) {
      const frame = encodeUpdate(update);
      const from = origin?.kind === 'connection' ? origin.peer : null;
      for (const peer of this.peers.keys()) if (peer !== from) peer.send(frame);
    }
    lap('broadcast', t);
    if (this.loggedSinceCompaction >= this.opts.compactAfterUpdates)
      setImmediate(() => this.compact());
    this.opts.policy?.onDurable(this.draftId);
    this.syncReplies.retry();
  }

  /**
   * Tells every peer (as the server's own presence state, which stock clients carry along)
   * that changes are held in memory because the log cannot be written, and when that ends.
   */
  private storageFailing(failing: boolean): void {
    if (this.destroyed) return;
    if (failing === (this.storageFailingSince !== null)) return;
    this.storageFailingSince = failing ? new Date().toISOString() : null;
    this.awareness.setLocalState(
      failing ? { server: { storage: 'failing', since: this.storageFailingSince } } : null,
    );
  }

  /** True while the update log cannot be written (changes are kept in memory and retried). */
  get storageFailingNow(): boolean {
    return this.storageFailingSince !== null;
  }

  /** Folds the log into the state row. The in-memory doc IS the merged state: no merging of the log needed. */
  compact(): boolean {
    if (this.destroyed || !this.flush()) return false;
    if (this.loggedSinceCompaction === 0) return true;
    if (this.compacting) return false;
    try {
      const state = Y.encodeStateAsUpdate(this.doc);
      const done = this.store.compact(this.draftId, state, this.lastSeq);
      if (done instanceof Promise) {
        // Async log: the state is taken now; the log keeps everything until the write lands.
        const counted = this.loggedSinceCompaction;
        this.compacting = done.then(
          () => {
            this.compacting = null;
            this.budget.measured(state.byteLength);
            this.loggedSinceCompaction -= counted;
          },
          (err: unknown) => {
            this.compacting = null;
            if (err instanceof FencedError) return this.fenced();
            this.opts.log(
              `draft ${this.draftId}: compaction failed (the log still holds everything)`,
              err,
            );
          },
        );
        return true;
      }
      this.budget.measured(state.byteLength);
      this.loggedSinceCompaction = 0;
      return true;
    } catch (err) {
      this.opts.log(
        `draft ${this.draftId}: compaction failed (the log still holds everything)`,
        err,
      );
      return false;
    }
  }

  private readonly onAwarenessUpdate = ({
    added,
    updated,
    removed,
  }: {
    added: number[];
    updated: number[];
    removed: number[];
  }): void => {
    this.everyone = null;
    for (const id of added) this.presence.add(id);
    for (const id of updated) this.presence.add(id);
    for (const id of removed) this.presence.add(id);
    this.presenceTimer ??= setTimeout(this.sendPresence, PRESENCE_BATCH_MS);
  };

  /** One frame with every presence change of the last PRESENCE_BATCH_MS, to every peer. */
  private readonly sendPresence = (): void => {
    this.presenceTimer = null;
    if (this.presence.size === 0 || this.destroyed) return;
    const frame = encodeAwareness(
      awarenessProtocol.encodeAwarenessUpdate(this.awareness, [...this.presence]),
    );
    this.presence.clear();
    this.presenceGate.prune();
    for (const peer of this.peers) peer.send(frame);
  };

  /** Closes every peer with `reason`. */
  closeAll(reason: CloseReason): void {
    for (const peer of [...this.peers.keys()]) {
      this.leave(peer);
      peer.close(reason);
    }
  }

  /** Flushes and compacts; returns false (keeping the room) when storage fails. */
  unload(): boolean {
    if (!this.compact()) return false;
    this.destroy();
    return true;
  }

  private destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.presenceTimer) clearTimeout(this.presenceTimer);
    this.presenceGate.destroy();
    this.syncReplies.destroy();
    this.awareness.destroy();
    this.live?.destroy();
    this.shadow?.destroy();
    this.ydoc.destroy();
  }
}
