import * as encoding from 'lib0/encoding';
import * as decoding from 'lib0/decoding';
import * as sync from 'y-protocols/sync';

/**
 * The y-websocket wire protocol (y-protocols): a varUint message type, then its payload.
 * Decoding is strict: a frame must be exactly one well-formed message, or it is refused.
 */
export const MESSAGE_SYNC = 0;
export const MESSAGE_AWARENESS = 1;
export const MESSAGE_QUERY_AWARENESS = 3;

export const SYNC_STEP1 = sync.messageYjsSyncStep1;
export const SYNC_STEP2 = sync.messageYjsSyncStep2;
export const SYNC_UPDATE = sync.messageYjsUpdate;

export type Incoming =
  | { type: 'sync-step1'; stateVector: Uint8Array }
  | { type: 'update'; update: Uint8Array; step2: boolean }
  | { type: 'awareness'; update: Uint8Array }
  | { type: 'query-awareness' };

export class MalformedMessage extends Error {}

export function decodeMessage(frame: Uint8Array): Incoming {
  try {
    const d = decoding.createDecoder(frame);
    const type = decoding.readVarUint(d);
    let msg: Incoming;
    if (type === MESSAGE_SYNC) {
      const sub = decoding.readVarUint(d);
      const payload = decoding.readVarUint8Array(d);
      if (sub === SYNC_STEP1) msg = { type: 'sync-step1', stateVector: payload };
      else if (sub === SYNC_STEP2 || sub === SYNC_UPDATE)
        msg = { type: 'update', update: payload, step2: sub === SYNC_STEP2 };
      else throw new MalformedMessage(`unknown sync message ${sub}`);
    } else if (type === MESSAGE_AWARENESS) {
      msg = { type: 'awareness', update: decoding.readVarUint8Array(d) };
    } else if (type === MESSAGE_QUERY_AWARENESS) {
      msg = { type: 'query-awareness' };
    } else {
      throw new MalformedMessage(`unknown message type ${type}`);
    }
    if (decoding.hasContent(d)) throw new MalformedMessage('trailing bytes after the message');
    return msg;
  } catch (err) {
    if (err instanceof MalformedMessage) throw err;
    throw new MalformedMessage(err instanceof Error ? err.message : 'undecodable frame');
  }
}

/** One frame: the message type, then what `write` puts after it. */
function frame(type: number, write: (e: encoding.Encoder) => void): Uint8Array {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, type);
  write(e);
  return encoding.toUint8Array(e);
}

// y-protocols' writers take a Y.Doc; the server sends state vectors and updates it already
// encoded once for many peers (sync-replies.ts), so only `writeUpdate` fits as it is.
export const encodeSyncStep1 = (stateVector: Uint8Array): Uint8Array =>
  frame(MESSAGE_SYNC, (e) => {
    encoding.writeVarUint(e, SYNC_STEP1);
    encoding.writeVarUint8Array(e, stateVector);
  });

export const encodeSyncStep2 = (update: Uint8Array): Uint8Array =>
  frame(MESSAGE_SYNC, (e) => {
    encoding.writeVarUint(e, SYNC_STEP2);
    encoding.writeVarUint8Array(e, update);
  });

export const encodeUpdate = (update: Uint8Array): Uint8Array =>
  frame(MESSAGE_SYNC, (e) => sync.writeUpdate(e, update));

export const encodeAwareness = (update: Uint8Array): Uint8Array =>
  frame(MESSAGE_AWARENESS, (e) => encoding.writeVarUint8Array(e, update));
