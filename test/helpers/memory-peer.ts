import * as Y from 'yjs';
import * as syncProtocol from 'y-protocols/sync';
import * as encoding from 'lib0/encoding';
import * as decoding from 'lib0/decoding';
import type { CloseReason } from '#schema/errors.ts';
import type { Peer, Room } from '#server/collab/room.ts';

/**
 * A client Y.Doc linked to a Room through in-memory queues, so a test decides exactly when
 * each frame is delivered (both directions keep their order, like a websocket).
 */
export class MemoryClient {
  readonly doc = new Y.Doc();
  readonly toServer: Uint8Array[] = [];
  readonly toClient: Uint8Array[] = [];
  closed: CloseReason | null = null;
  peer!: Peer;
  online = false;
  private readonly room: Room;
  private readonly opts: { readOnly?: boolean; userId?: string };

  constructor(room: Room, opts: { readOnly?: boolean; userId?: string } = {}) {
    this.room = room;
    this.opts = opts;
    this.doc.on('update', (update: Uint8Array, origin: unknown) => {
      // Offline edits are not queued: the sync handshake on reconnect carries them.
      if (origin === this || !this.online) return;
      const e = encoding.createEncoder();
      encoding.writeVarUint(e, 0);
      syncProtocol.writeUpdate(e, update);
      this.toServer.push(encoding.toUint8Array(e));
    });
    this.connect();
  }

  /** Opens a new connection, like a websocket reconnecting: both sides send sync step 1. */
  connect(): void {
    const peer: Peer = {
      userId: this.opts.userId ?? 'usr_test',
      userName: 'Test',
      readOnly: this.opts.readOnly ?? false,
      send: (frame, drained) => {
        if (this.peer === peer && this.online && !this.closed) this.toClient.push(frame);
        // Queued in memory is as good as written to the kernel: one reply in flight never holds back the next.
        drained?.();
      },
      close: (reason) => {
        this.closed = reason;
      },
    };
    this.peer = peer;
    this.online = true;
    this.closed = null;
    this.room.join(peer);
    const e = encoding.createEncoder();
    encoding.writeVarUint(e, 0);
    syncProtocol.writeSyncStep1(e, this.doc);
    this.toServer.push(encoding.toUint8Array(e));
  }

  /** Drops the connection: frames in flight in both directions are lost. */
  disconnect(): void {
    this.online = false;
    this.toServer.length = 0;
    this.toClient.length = 0;
    this.room.leave(this.peer);
  }

  /** Delivers up to `n` queued frames to the server. */
  deliverUp(n = Infinity): void {
    while (n-- > 0 && this.toServer.length > 0 && !this.closed)
      this.room.receive(this.peer, this.toServer.shift()!);
  }

  /** Delivers up to `n` queued frames to this client (sync messages only; awareness ignored). */
  deliverDown(n = Infinity): void {
    while (n-- > 0 && this.toClient.length > 0) {
      const d = decoding.createDecoder(this.toClient.shift()!);
      if (decoding.readVarUint(d) !== 0) continue;
      const reply = encoding.createEncoder();
      encoding.writeVarUint(reply, 0);
      syncProtocol.readSyncMessage(d, reply, this.doc, this);
      if (encoding.length(reply) > 1) this.toServer.push(encoding.toUint8Array(reply));
    }
  }
}
