import * as Y from 'yjs';
import * as encoding from 'lib0/encoding';
import * as decoding from 'lib0/decoding';
import * as sync from 'y-protocols/sync';

/**
 * Frames of the two wire formats the benchmark speaks: y-websocket (ours and
 * @y/websocket-server) and Hocuspocus (every message prefixed by the document name, an Auth
 * message first).
 */
export type Wire = 'y-websocket' | 'hocuspocus';

export function frame(
  wire: Wire,
  room: string,
  write: (e: encoding.Encoder) => void,
): Uint8Array<ArrayBuffer> {
  const e = encoding.createEncoder();
  if (wire === 'hocuspocus') encoding.writeVarString(e, room);
  write(e);
  // A copy on a plain ArrayBuffer, as WebSocket.send wants.
  return new Uint8Array(encoding.toUint8Array(e));
}

/** The opening frames of a client: (Hocuspocus: auth, then) sync step 1 with an empty state vector. */
export function hello(wire: Wire, room: string): Uint8Array<ArrayBuffer>[] {
  const step1 = frame(wire, room, (e) => {
    encoding.writeVarUint(e, 0);
    sync.writeSyncStep1(e, new Y.Doc());
  });
  if (wire === 'y-websocket') return [step1];
  const auth = frame(wire, room, (e) => {
    encoding.writeVarUint(e, 2);
    encoding.writeVarUint(e, 0);
    encoding.writeVarString(e, 'bench');
  });
  return [auth, step1];
}

export function updateFrame(wire: Wire, room: string, update: Uint8Array): Uint8Array<ArrayBuffer> {
  return frame(wire, room, (e) => {
    encoding.writeVarUint(e, 0);
    sync.writeUpdate(e, update);
  });
}

/** The Yjs update a frame carries (sync step 2 or update), or null for anything else. */
export function updateOf(wire: Wire, data: Uint8Array): Uint8Array | null {
  const d = decoding.createDecoder(data);
  if (wire === 'hocuspocus') decoding.readVarString(d);
  const type = decoding.readVarUint(d);
  // Hocuspocus answers sync step 1 with type 4 (SyncReply) or 0.
  if (type !== 0 && type !== 4) return null;
  const sub = decoding.readVarUint(d);
  if (sub !== 1 && sub !== 2) return null;
  return decoding.readVarUint8Array(d);
}

/** Every number a writer update carries (several writers: writer × 1e6 + sequence). */
export function numbersOf(update: Uint8Array): number[] {
  const out: number[] = [];
  for (const s of Y.decodeUpdate(update).structs) {
    if (s instanceof Y.Item && s.content instanceof Y.ContentAny)
      for (const v of s.content.arr) if (typeof v === 'number') out.push(v);
  }
  return out;
}
