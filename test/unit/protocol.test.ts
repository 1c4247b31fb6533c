import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import * as encoding from 'lib0/encoding';
import {
  decodeMessage,
  encodeAwareness,
  encodeSyncStep1,
  encodeSyncStep2,
  encodeUpdate,
  MalformedMessage,
} from '#server/collab/protocol.ts';

describe('[R7] y-websocket message decoding: bad input gets a clear error', () => {
  it('round-trips the four message kinds', () => {
    const doc = new Y.Doc();
    doc.getText('t').insert(0, 'hi');
    const update = Y.encodeStateAsUpdate(doc);
    const sv = Y.encodeStateVector(doc);
    expect(decodeMessage(encodeSyncStep1(sv))).toEqual({ type: 'sync-step1', stateVector: sv });
    expect(decodeMessage(encodeSyncStep2(update))).toEqual({ type: 'update', update, step2: true });
    expect(decodeMessage(encodeUpdate(update))).toEqual({ type: 'update', update, step2: false });
    expect(decodeMessage(encodeAwareness(new Uint8Array([1, 2])))).toEqual({
      type: 'awareness',
      update: new Uint8Array([1, 2]),
    });
    expect(decodeMessage(new Uint8Array([3]))).toEqual({ type: 'query-awareness' });
  });

  it('[R7] refuses empty, truncated, unknown and over-long frames', () => {
    const e = encoding.createEncoder();
    encoding.writeVarUint(e, 0);
    encoding.writeVarUint(e, 2);
    encoding.writeVarUint8Array(e, new Uint8Array([0, 0]));
    encoding.writeUint8(e, 7);
    const trailing = encoding.toUint8Array(e);
    for (const frame of [
      new Uint8Array([]),
      new Uint8Array([0]),
      new Uint8Array([0, 2, 9, 1]),
      new Uint8Array([7]),
      new Uint8Array([0, 5, 0]),
      trailing,
    ]) {
      expect(() => decodeMessage(frame)).toThrow(MalformedMessage);
    }
  });
});
