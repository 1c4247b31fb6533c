import type { WorkspaceContent } from '#schema/content/ydoc.ts';
import type { DraftStore } from '../store/drafts.ts';
import type * as Y from 'yjs';
import { Room, type Origin, type Peer, type RoomOptions } from './room.ts';
import { GroupCommit } from './group-commit.ts';

/** How long a draft read or changed over HTTP (nobody connected) stays loaded for the next request. */
const IDLE_MS = 30_000;

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
  private readonly store: DraftStore;
  private readonly opts: RoomOptions;
  private closing = false;
  private readonly idle = new Map<string, NodeJS.Timeout>();
  /** Drafts whose policy is being asked, so concurrent openers ask once. */
  private readonly opening = new Map<string, Promise<ReadonlySet<string>>>();

  constructor(store: DraftStore, opts: RoomOptions) {
    this.store = store;
    // Every room of this registry appends through one group commit per tick.
    this.opts = { groupCommit: new GroupCommit(store), ...opts };
  }

  get loaded(): number {
    return this.rooms.size;
  }

  get isClosing(): boolean {
    return this.closing;
  }

  private async room(draftId: string): Promise<Room> {
    const loaded = this.rooms.get(draftId);
    if (loaded) return loaded;
    let asking = this.opening.get(draftId);
    if (!asking) {
      asking = this.opts.policy?.readOnlySections(draftId) ?? Promise.resolve(new Set<string>());
      this.opening.set(draftId, asking);
      const forget = () => {
        if (this.opening.get(draftId) === asking) this.opening.delete(draftId);
      };
      asking.then(forget, forget);
    }
    const readOnlySections = await asking;
    let room = this.rooms.get(draftId);
    if (!room) {
      // Shut down meanwhile: no room is loaded that closeAll would not flush.
      if (this.closing) throw new Error('the server is shutting down');
      room = new Room(draftId, this.store, this.opts, readOnlySections);
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
      this.rooms.delete(room.draftId);
    } else {
      setTimeout(() => {
        if (room.size === 0 && this.rooms.get(room.draftId) === room) this.release(room);
      }, 1000).unref();
    }
  }

  /** The draft's content now (unchanged items are the same frozen objects as in the last read). */
  async content(draftId: string): Promise<WorkspaceContent> {
    return (await this.visit(draftId)).content();
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
    return (
      room.edit({ kind: 'server', reason } satisfies Origin, change, durable) &&
      (durable || room.flush())
    );
  }

  /** Closes every connection of a person, so they reconnect with their new rights. */
  closeUser(userId: string): void {
    for (const room of [...this.rooms.values()]) {
      for (const peer of [...room.peers.keys()])
        if (peer.userId === userId) peer.close('rights_changed');
    }
  }

  /**
   * A draft that closed (hotfix published or discarded): everyone is disconnected for good.
   * `rights_changed`: the draft's sections changed (flow rules); everyone reconnects to a room built anew.
   */
  close(draftId: string, reason: 'draft_closed' | 'rights_changed' = 'draft_closed'): void {
    const room = this.rooms.get(draftId);
    if (!room) return;
    room.closeAll(reason);
    if (room.unload()) this.rooms.delete(draftId);
  }

  /** Shutdown: peers are told to reconnect, every room is flushed and compacted. Returns false if a write failed. */
  closeAll(): boolean {
    this.closing = true;
    for (const timer of this.idle.values()) clearTimeout(timer);
    this.idle.clear();
    let ok = true;
    for (const room of [...this.rooms.values()]) {
      room.closeAll('shutting_down');
      if (room.unload()) this.rooms.delete(room.draftId);
      else ok = false;
    }
    return ok;
  }
}
