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
  readonly peer: Peer;
  private readonly room: Room;

  constructor(room: Room, opts: { readOnly?: boolean; userId?: string } = {}) {
    this.room = room;
    this.peer = {
      userId: opts.userId ?? 'usr_test',
      readOnly: opts.readOnly ?? false,
      send: (frame) => {
        if (!this.closed) this.toClient.push(frame);
      },
      close: (reason) => {
        this.closed = reason;
      },
    };
    this.doc.on('update', (update: Uint8Array, origin: unknown) => {
      if (origin === this) return;
      const e = encoding.createEncoder();
      encoding.writeVarUint(e, 0);
      syncProtocol.writeUpdate(e, update);
      this.toServer.push(encoding.toUint8Array(e));
    });
    room.join(this.peer);
    const e = encoding.createEncoder();
    encoding.writeVarUint(e, 0);
    syncProtocol.writeSyncStep1(e, this.doc);
    this.toServer.push(encoding.toUint8Array(e));
  }

  /** Delivers up to `n` queued frames to the server. */
  deliverUp(n = Infinity): void {
    while (n-- > 0 && this.toServer.length > 0 && !this.closed) this.room.receive(this.peer, this.toServer.shift()!);
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
