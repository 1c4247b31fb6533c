import type { WorkspaceContent } from '#schema/content/ydoc.ts';
import type { StoredDraft } from '../store/drafts.ts';
import { OwnedElsewhere, type DraftLog, type Maybe } from './draft-log.ts';
import * as Y from 'yjs';
import { LiveContent } from '#schema/content/live.ts';
import { replayLog } from './stored-doc.ts';
import { dismantleTooDeep } from './dismantle.ts';
import { Room, type Origin, type Peer, type RoomOptions } from './room.ts';
import { GroupCommit } from './group-commit.ts';

/** How long a draft read or changed over HTTP (nobody connected) stays loaded for the next request. */
const IDLE_MS = 30_000;
/** Shutdown over an async log: how long each room's last append and compaction may take. */
const SHUTDOWN_WAIT_MS = 5_000;

/** A log answering synchronously (SQLite): its group commit appends in the same tick. */
type SyncLog = DraftLog & {
  appendMany(batches: readonly { draftId: string; updates: readonly Uint8Array[] }[]): number[];
};
const synchronous = (log: DraftLog): log is SyncLog => log.async !== true;

/** `p`, or `fallback` after `ms` (the timer does not keep the process alive). */
function within<T>(p: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(fallback), ms);
    timer.unref();
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

interface Opening {
  readOnlySections: ReadonlySet<string>;
  /** What an async log held (loaded once this process owned the draft). */
  loaded?: StoredDraft;
}

/**
 * The loaded drafts. Loading asks the flow-rule policy first (a store read, async); the room
 * itself is built synchronously after it, re-checking "is it loaded?" in the same turn, so one
 * Room per draft, always. Unloading is synchronous (better-sqlite3).
 * A room unloads when its last peer leaves; if its final write fails it stays loaded and retries.
 * A room loaded for an HTTP read or edit stays for IDLE_MS, so repeated reads (problems,
 * diffs, freezing a large draft) reuse its incrementally kept JSON instead of reloading.
 * What flow rules decide about a draft reaches every room through `opts.policy` (DraftPolicy).
 */
export class Rooms {
  private readonly rooms = new Map<string, Room>();
  private readonly store: DraftLog;
  /** Drafts whose lease is being given up after their room unloaded: a new opening waits for it. */
  private readonly releasing = new Map<string, Promise<void>>();
  private readonly opts: RoomOptions;
  private closing = false;
  private readonly idle = new Map<string, NodeJS.Timeout>();
  /** Drafts whose policy is being asked, so concurrent openers ask once. */
  private readonly opening = new Map<string, Promise<Opening>>();
  /** Sockets of this process relayed to a draft's owner elsewhere (PG-140), by draft. */
  private readonly relayed = new Map<string, Set<Peer>>();

  constructor(store: DraftLog, opts: RoomOptions) {
    this.store = store;
    // Every room of this registry appends through one group commit per tick (SQLite; an async
    // log appends each room's updates itself, one append in flight per room).
    this.opts = {
      ...(synchronous(store) ? { groupCommit: new GroupCommit(store) } : {}),
      onFenced: (room) => this.stopped(room),
      ...opts,
    };
  }

  /**
   * Before a room is built: the flow-rule policy, and over an async log this process's ownership
   * of the draft (PG-102), then its log, read only once owned (a takeover waits for the former
   * owner's last append, so the load sees everything it stored).
   */
  private async prepare(draftId: string): Promise<Opening> {
    const policy: Maybe<ReadonlySet<string>> =
      this.opts.policy?.readOnlySections(draftId) ?? new Set<string>();
    if (synchronous(this.store)) return { readOnlySections: await policy };
    await this.releasing.get(draftId);
    const readOnlySections = await policy;
    const owner = (await this.store.claim?.(draftId)) ?? null;
    if (owner) throw new OwnedElsewhere(draftId, owner);
    return { readOnlySections, loaded: await this.store.load(draftId) };
  }

  get loaded(): number {
    return this.rooms.size;
  }

  get isClosing(): boolean {
    return this.closing;
  }

  private async room(draftId: string): Promise<Room> {
    const open = this.rooms.get(draftId);
    if (open) return open;
    let asking = this.opening.get(draftId);
    if (!asking) {
      asking = this.prepare(draftId);
      this.opening.set(draftId, asking);
      const forget = () => {
        if (this.opening.get(draftId) === asking) this.opening.delete(draftId);
      };
      asking.then(forget, forget);
    }
    const { readOnlySections, loaded } = await asking;
    let room = this.rooms.get(draftId);
    if (!room) {
      // Shut down meanwhile: no room is loaded that closeAll would not flush.
      if (this.closing) throw new Error('the server is shutting down');
      room = new Room(draftId, this.store, this.opts, readOnlySections, loaded);
      this.rooms.set(draftId, room);
    }
    return room;
  }

  /** Loads the draft for a server-side read or edit; unloaded after IDLE_MS unless someone connects. */
  private async visit(draftId: string): Promise<Room> {
    const room = await this.room(draftId);
    clearTimeout(this.idle.get(draftId));
    if (room.size === 0) {
      this.idle.set(
        draftId,
        setTimeout(() => {
          this.idle.delete(draftId);
          if (room.size === 0 && this.rooms.get(draftId) === room) this.release(room);
        }, IDLE_MS).unref(),
      );
    }
    return room;
  }

  async connect(draftId: string, peer: Peer): Promise<Room> {
    const room = await this.room(draftId);
    clearTimeout(this.idle.get(draftId));
    this.idle.delete(draftId);
    room.join(peer);
    return room;
  }

  disconnect(room: Room, peer: Peer): void {
    room.leave(peer);
    if (room.size === 0 && this.rooms.get(room.draftId) === room) this.release(room);
  }

  private release(room: Room): void {
    if (room.unload()) {
      this.unloaded(room);
    } else {
      setTimeout(() => {
        if (room.size === 0 && this.rooms.get(room.draftId) === room) this.release(room);
      }, 1000).unref();
    }
  }

  /**
   * A room unloaded normally: out of the registry, and over an async log its lease is given up
   * once its compaction ended (another process need not wait for the lease to lapse).
   */
  private unloaded(room: Room): void {
    const draftId = room.draftId;
    if (this.rooms.get(draftId) === room) this.rooms.delete(draftId);
    const release = this.store.release;
    if (!release) return;
    const done = room.settled
      .then(() => release(draftId))
      .catch((err: unknown) => this.opts.log(`draft ${draftId}: could not release its lease`, err))
      .finally(() => {
        if (this.releasing.get(draftId) === done) this.releasing.delete(draftId);
      });
    this.releasing.set(draftId, done);
  }

  /**
   * This process no longer owns the draft (lease lost, PG-103): its room stops serving it at
   * once — peers closed with owner_moved, unstored updates dropped, no compaction.
   */
  lost(draftId: string): void {
    const room = this.rooms.get(draftId);
    if (room) this.stopped(room);
  }

  /** A room that stopped serving its draft (lost lease or a fenced write). */
  private stopped(room: Room): void {
    const draftId = room.draftId;
    // A room stopped before (a write of it fenced late, PG-185): the lease and the idle timer
    // belong to the room serving the draft now, if any; only its own peers are closed.
    if (this.rooms.get(draftId) !== room) return room.stopServing();
    this.rooms.delete(draftId);
    clearTimeout(this.idle.get(draftId));
    this.idle.delete(draftId);
    room.stopServing();
    this.opts.log(`draft ${draftId}: no longer owned here; its peers reconnect to the new owner`);
    // Forget the lease here (a no-op in the database unless it is still ours at our epoch).
    void this.store
      .release?.(draftId)
      .catch((err: unknown) => this.opts.log(`draft ${draftId}: could not release its lease`, err));
  }

  /**
   * The draft's content now (unchanged items are the same frozen objects as in the last read).
   * Over an async log a draft not loaded here is read from its log (PG-150): a read never takes
   * a draft's ownership away from where its editors are, and the log holds everything anyone
   * was shown (stored before broadcast).
   */
  async content(draftId: string): Promise<WorkspaceContent> {
    if (synchronous(this.store)) return (await this.visit(draftId)).content();
    const open = this.rooms.get(draftId);
    if (open) return open.content();
    const doc = await this.fromLog(draftId);
    try {
      return new LiveContent(doc).read();
    } finally {
      doc.destroy();
    }
  }

  /**
   * The updates `change` makes to the draft as its log holds it, for a draft owned elsewhere
   * (PG-151: the owner applies them); none when it changes nothing; throws what `change` throws.
   */
  async changeFromLog(draftId: string, change: (doc: Y.Doc) => void): Promise<Uint8Array[]> {
    const attempt = async (dismantle: (doc: Y.Doc) => void): Promise<Uint8Array[]> => {
      const doc = await this.fromLog(draftId);
      const updates: Uint8Array[] = [];
      doc.on('update', (u: Uint8Array) => void updates.push(u));
      try {
        dismantle(doc);
        doc.transact(() => change(doc));
        return updates;
      } finally {
        doc.destroy();
      }
    };
    try {
      return await attempt(() => {});
    } catch (err) {
      // As Room.changeOnShadow (SEC-7): a value nested too deep from before the checks is taken
      // apart bottom-up on a fresh copy, and the change tried once more; the owner applies the
      // dismantling's updates one by one.
      return await attempt((doc) => {
        if (dismantleTooDeep(doc) === 0) throw err;
      });
    }
  }

  private async fromLog(draftId: string): Promise<Y.Doc> {
    const doc = new Y.Doc({ gc: true });
    replayLog(doc, await this.store.load(draftId), null);
    return doc;
  }

  /**
   * Changes a draft from the server side in one transaction with a typed origin, or not at all
   * if `change` throws (Room.edit). It reaches connected peers live, after it is stored.
   * `durable`: stored before anyone sees it; false = the log could not be written, nothing changed.
   */
  async edit(
    draftId: string,
    reason: string,
    change: (doc: Y.Doc) => void,
    durable = false,
  ): Promise<boolean> {
    const room = await this.visit(draftId);
    const origin = { kind: 'server', reason } satisfies Origin;
    if (room.async) return await room.editStored(origin, change, durable);
    return (
      room.edit({ kind: 'server', reason } satisfies Origin, change, durable) &&
      (durable || room.flush())
    );
  }

  /**
   * A socket of this process relayed to the draft's owner (PG-140): closed here too when its
   * person or its draft is closed, so that needs no message to reach the owner. Returns `forget`.
   */
  relaying(draftId: string, peer: Peer): () => void {
    let peers = this.relayed.get(draftId);
    if (!peers) this.relayed.set(draftId, (peers = new Set()));
    peers.add(peer);
    return () => {
      peers.delete(peer);
      if (peers.size === 0 && this.relayed.get(draftId) === peers) this.relayed.delete(draftId);
    };
  }

  /** Closes every connection of a person, so they reconnect with their new rights. */
  closeUser(userId: string): void {
    for (const room of [...this.rooms.values()]) {
      for (const peer of [...room.peers.keys()])
        if (peer.userId === userId) peer.close('rights_changed');
    }
    for (const peers of [...this.relayed.values()])
      for (const peer of [...peers]) if (peer.userId === userId) peer.close('rights_changed');
  }

  /**
   * A draft that closed (hotfix published or discarded): everyone is disconnected for good.
   * `rights_changed`: the draft's sections changed (flow rules); everyone reconnects to a room built anew.
   */
  close(draftId: string, reason: 'draft_closed' | 'rights_changed' = 'draft_closed'): void {
    for (const peer of [...(this.relayed.get(draftId) ?? [])]) peer.close(reason);
    const room = this.rooms.get(draftId);
    if (!room) return;
    room.closeAll(reason);
    if (room.unload()) this.unloaded(room);
  }

  /** Shutdown: peers are told to reconnect, every room is flushed and compacted. Returns false if a write failed. */
  closeAll(): boolean {
    this.closing = true;
    for (const timer of this.idle.values()) clearTimeout(timer);
    this.idle.clear();
    let ok = true;
    for (const room of [...this.rooms.values()]) {
      room.closeAll('shutting_down');
      if (room.unload()) this.unloaded(room);
      else ok = false;
    }
    return ok;
  }

  /**
   * Shutdown, whatever the log: over an async one each room's last append and compaction are
   * waited for (each at most SHUTDOWN_WAIT_MS), then its lease is given up. False if a write failed.
   */
  async shutdown(): Promise<boolean> {
    if (synchronous(this.store)) return this.closeAll();
    this.closing = true;
    for (const timer of this.idle.values()) clearTimeout(timer);
    this.idle.clear();
    const rooms = [...this.rooms.values()];
    for (const room of rooms) room.closeAll('shutting_down');
    for (const peers of [...this.relayed.values()])
      for (const peer of [...peers]) peer.close('shutting_down');
    const stored = await Promise.all(
      rooms.map(async (room) => {
        if (!(await within(room.settle(), SHUTDOWN_WAIT_MS, false)) || !room.unload()) return false;
        this.unloaded(room);
        return true;
      }),
    );
    await within(Promise.all(this.releasing.values()), SHUTDOWN_WAIT_MS, []);
    return stored.every(Boolean);
  }
}
