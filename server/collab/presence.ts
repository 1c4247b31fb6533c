import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import * as awarenessProtocol from 'y-protocols/awareness';
import type { CloseReason } from '#schema/errors.ts';
import { TokenBucket } from '../lib/rates.ts';

/** What the presence gate needs to know of a connection (the room's Peer is one). */
export interface PresencePeer {
  readonly userId: string;
  /** The authenticated user's display name: the name every state of this connection shows. */
  readonly userName: string;
  close(reason: CloseReason, detail?: string): void;
}

export interface PresenceLimits {
  /** Largest state of one client id, in bytes of its JSON as sent (COLLAB_MAX_PRESENCE_BYTES). */
  maxStateBytes: number;
  /**
   * Presence messages a connection may send per second; a burst of twice this is allowed
   * (COLLAB_PRESENCE_PER_SECOND).
   */
  perSecond: number;
  /** Client ids one person may hold in a draft over all their connections (COLLAB_MAX_PRESENCE_IDS_PER_USER). */
  idsPerUser: number;
}

/**
 * Client ids one connection may introduce. A y-websocket client uses one (its Awareness keeps
 * the id its doc had at creation, across reconnects); a few leave room for odd clients.
 */
export const MAX_CLIENT_IDS = 4;
/** Clocks of client ids that left are kept this long, so a late echo of their last state cannot bring them back. */
const FORGET_AFTER_MS = 60_000;

interface Connection {
  /** Client ids this connection introduced (or took over from an earlier connection of the same user). */
  readonly ids: Set<number>;
  /** Presence messages it may send: `perSecond`, in bursts of twice that. */
  readonly rate: TokenBucket;
  /** The latest presence message that arrived while the bucket was empty; applied when a token is back. */
  deferred: Uint8Array | null;
  timer: NodeJS.Timeout | null;
}

interface Entry {
  clientId: number;
  clock: number;
  /** The state's JSON, not yet decoded. */
  json: Uint8Array;
}

type Refusal = { close: CloseReason; detail: string };

const utf8 = new TextDecoder('utf-8', { fatal: true });

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The gate every presence (awareness) message of a room passes before it reaches the room's
 * Awareness (SEC-1, SEC-12).
 *
 * A stock y-websocket client sends back every presence change it receives (everyone's states,
 * the server's too, each with its clock), so entries it may not set (see mayTouch: the server's
 * id, ids another user's connection holds, and any id it does not hold at a clock no newer than
 * the last one seen) are skipped unread: never applied, never an error, free (no token, no
 * decoding, no size check: a state the server rewrote may be a little over the limit).
 *
 * For the entries a connection may set:
 * - a state is at most `maxStateBytes` of JSON, checked on the declared length BEFORE anything
 *   is decoded (over it: closed 4413, nothing of the message applied);
 * - at most MAX_CLIENT_IDS client ids, the ones it introduced itself, and at most `idsPerUser`
 *   over the person's connections to the draft (one more: closed 4406). Every
 *   state is sent to every peer: without a per-person bound, one viewer's 100 connections of
 *   4 × 8 KiB states made each presence change 3.2 MB for each of the room's peers.
 *   Because only a newer clock takes an id, an echo never moves one, and a client that left
 *   cannot be revived by a late echo. An id held by another connection of the SAME user moves
 *   with a newer clock: a client that reconnected before the server noticed its old socket died
 *   gets its presence back at its next change or renewal (15 s);
 * - a token bucket (`perSecond`, burst 2×): a message over the rate is deferred, only the latest
 *   kept, and applied when a token is back: an editor dragging a selection keeps its final
 *   cursor, a flood costs at most `perSecond` parses a second;
 * - every state must be an object (else closed 4406) and is rewritten to carry the
 *   authenticated user's id and name in `user` (its other fields, like the color, stay); a
 *   `server` field is removed: that one is the server's alone.
 * Nothing refused is applied, so nothing refused is ever rebroadcast.
 */
export class PresenceGate {
  private readonly awareness: awarenessProtocol.Awareness;
  private readonly limits: PresenceLimits;
  private readonly connections = new Map<PresencePeer, Connection>();
  /** Which connection holds each client id. */
  private readonly owners = new Map<number, PresencePeer>();

  constructor(awareness: awarenessProtocol.Awareness, limits: PresenceLimits) {
    this.awareness = awareness;
    this.limits = limits;
  }

  join(peer: PresencePeer): void {
    this.connections.set(peer, {
      ids: new Set(),
      rate: new TokenBucket(this.limits.perSecond, 2 * this.limits.perSecond),
      deferred: null,
      timer: null,
    });
  }

  /** The connection is gone: its states are removed (and that removal is broadcast by the room). */
  leave(peer: PresencePeer): void {
    const conn = this.connections.get(peer);
    if (!conn) return;
    this.connections.delete(peer);
    if (conn.timer) clearTimeout(conn.timer);
    for (const id of conn.ids) this.owners.delete(id);
    if (conn.ids.size > 0)
      awarenessProtocol.removeAwarenessStates(this.awareness, [...conn.ids], null);
  }

  /** The room unloads: deferred messages are dropped with their timers. */
  destroy(): void {
    for (const conn of this.connections.values()) if (conn.timer) clearTimeout(conn.timer);
    this.connections.clear();
    this.owners.clear();
  }

  /**
   * Forgets the clocks of client ids that left over FORGET_AFTER_MS ago: the Awareness keeps
   * one for every id it ever saw. Amortized: it looks only once they outnumber the live states.
   */
  prune(): void {
    const { meta, states, clientID } = this.awareness;
    if (meta.size <= 2 * states.size + 64) return;
    const cutoff = Date.now() - FORGET_AFTER_MS;
    for (const [id, m] of meta)
      if (id !== clientID && !states.has(id) && !this.owners.has(id) && m.lastUpdated < cutoff)
        meta.delete(id);
  }

  /** One `query-awareness` message: true if it may be answered now (it costs a token; over the rate it is ignored). */
  mayQuery(peer: PresencePeer): boolean {
    const conn = this.connections.get(peer);
    return conn !== undefined && conn.rate.take();
  }

  /** One presence message from `peer`: applied (rewritten), deferred, or refused with a close. */
  receive(peer: PresencePeer, update: Uint8Array): void {
    const conn = this.connections.get(peer);
    if (!conn) return;
    // Sizes first: a deferred message is then small, and an oversized state is never decoded.
    const entries = this.scan(peer, update);
    if (!Array.isArray(entries)) return peer.close(entries.close, entries.detail);
    if (entries.length === 0) return;
    if (!conn.rate.take()) {
      conn.deferred = update;
      conn.timer ??= setTimeout(
        () => {
          conn.timer = null;
          const latest = conn.deferred;
          conn.deferred = null;
          if (latest && this.connections.get(peer) === conn) this.receive(peer, latest);
        },
        Math.ceil(1000 / this.limits.perSecond),
      );
      return;
    }
    const verdict = this.admit(peer, conn, entries);
    if (verdict instanceof Uint8Array)
      awarenessProtocol.applyAwarenessUpdate(this.awareness, verdict, peer);
    else if (verdict) peer.close(verdict.close, verdict.detail);
  }

  /**
   * Whether `peer` may set `clientId` at `clock`: never the server's id or one another user's
   * connection holds; an id it does not hold only with a clock newer than the last one seen.
   * Stock clients send back every state they receive, with its clock: such an echo (of someone
   * else's state, or of a client that just left) must neither move an id nor be held against
   * the sender (a state the server rewrote may be a little over the size limit).
   */
  private mayTouch(peer: PresencePeer, clientId: number, clock: number): boolean {
    if (clientId === this.awareness.clientID) return false;
    const owner = this.owners.get(clientId);
    if (owner === peer) return true;
    if (owner && owner.userId !== peer.userId) return false;
    const last = this.awareness.meta.get(clientId);
    return !last || clock > last.clock;
  }

  /**
   * Reads the message's structure by hand, without decoding a string. Entries `peer` may not
   * set are skipped; for the others the declared state length is checked first.
   */
  private scan(peer: PresencePeer, update: Uint8Array): Entry[] | Refusal {
    const entries: Entry[] = [];
    try {
      const d = decoding.createDecoder(update);
      const count = decoding.readVarUint(d);
      // An honest message names its sender's own ids and echoes ids the room told it about
      // (all still in `meta`): more entries than that is an attack on this loop, which costs
      // no token (15 MB of 5 million skipped entries took 1.5 s, again and again).
      if (count > this.awareness.meta.size + MAX_CLIENT_IDS)
        return {
          close: 'malformed_message',
          detail: 'the awareness update names more clients than this room has',
        };
      for (let i = 0; i < count; i++) {
        const clientId = decoding.readVarUint(d);
        const clock = decoding.readVarUint(d);
        const length = decoding.readVarUint(d);
        // lib0 would read past the end of this frame into the rest of its buffer.
        if (length > d.arr.length - d.pos)
          return { close: 'malformed_message', detail: 'truncated awareness update' };
        if (!this.mayTouch(peer, clientId, clock)) {
          d.pos += length;
          continue;
        }
        if (length > this.limits.maxStateBytes)
          return {
            close: 'presence_too_large',
            detail: `a presence state is at most ${this.limits.maxStateBytes} bytes`,
          };
        entries.push({ clientId, clock, json: decoding.readUint8Array(d, length) });
      }
      if (decoding.hasContent(d))
        return { close: 'malformed_message', detail: 'trailing bytes after the awareness update' };
    } catch {
      return { close: 'malformed_message', detail: 'invalid awareness update' };
    }
    return entries;
  }

  /**
   * Client ids the person holds over their connections to this draft (new ids are rare:
   * rate-limited, at most 4 a connection).
   */
  private idsOf(userId: string): number {
    let n = 0;
    for (const [peer, conn] of this.connections) if (peer.userId === userId) n += conn.ids.size;
    return n;
  }

  /**
   * Decodes the entries, takes ownership of new ids, and re-encodes the message rewritten; null
   * when nothing is left to apply.
   */
  private admit(
    peer: PresencePeer,
    conn: Connection,
    entries: Entry[],
  ): Uint8Array | Refusal | null {
    const kept: { clientId: number; clock: number; state: Record<string, unknown> | null }[] = [];
    for (const { clientId, clock, json } of entries) {
      let state: unknown;
      try {
        state = JSON.parse(utf8.decode(json));
      } catch {
        return { close: 'malformed_message', detail: 'invalid awareness update' };
      }
      if (state !== null && !isPlainObject(state))
        return { close: 'presence_refused', detail: 'a presence state must be an object' };
      const owner = this.owners.get(clientId);
      if (owner !== peer) {
        // Removing a state it does not hold takes nothing.
        if (state === null) continue;
        if (conn.ids.size >= MAX_CLIENT_IDS)
          return {
            close: 'presence_refused',
            detail: `at most ${MAX_CLIENT_IDS} presence client ids per connection`,
          };
        // An id moving between the person's own connections does not add one.
        if (!owner && this.idsOf(peer.userId) >= this.limits.idsPerUser)
          return {
            close: 'presence_refused',
            detail: `at most ${this.limits.idsPerUser} presence client ids per person in a draft`,
          };
        if (owner) this.connections.get(owner)?.ids.delete(clientId);
        this.owners.set(clientId, peer);
        conn.ids.add(clientId);
      }
      kept.push({ clientId, clock, state: state === null ? null : this.rewrite(peer, state) });
    }
    if (kept.length === 0) return null;
    const e = encoding.createEncoder();
    encoding.writeVarUint(e, kept.length);
    for (const { clientId, clock, state } of kept) {
      encoding.writeVarUint(e, clientId);
      encoding.writeVarUint(e, clock);
      encoding.writeVarString(e, JSON.stringify(state));
    }
    return encoding.toUint8Array(e);
  }

  /** The state as others will see it: `user` names the authenticated user, `server` is gone. */
  private rewrite(peer: PresencePeer, state: Record<string, unknown>): Record<string, unknown> {
    const user = isPlainObject(state.user) ? state.user : {};
    const shown: Record<string, unknown> = {
      ...state,
      user: { ...user, id: peer.userId, name: peer.userName },
    };
    delete shown.server;
    return shown;
  }
}
