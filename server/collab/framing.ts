import type { Socket } from 'node:net';
import * as wsModule from 'ws';
import { WebSocket } from 'ws';

/** ws's frame builder (public in ws, not in its type definitions). */
const { Sender } = wsModule as unknown as {
  Sender: {
    frame(
      data: Buffer,
      options: { fin: boolean; rsv1: boolean; opcode: number; mask: boolean; readOnly: boolean },
    ): Buffer[];
  };
};

/**
 * Broadcast with one framing per message. The room sends the same Uint8Array to every peer;
 * the first send builds the complete websocket frame (header + payload, server frames are
 * never masked) with ws's public `Sender.frame`, and every peer's socket gets that one buffer
 * in a single write. ws's own send builds a header per peer and writes header and payload
 * separately (a writev each).
 *
 * This writes to ws's socket directly (`_socket`, not public API), so it does so only when
 * ws's sender has nothing queued (it queues only while compressing or reading a Blob, neither
 * of which we use) and otherwise falls back to `ws.send`. Frames stay whole and in order
 * either way: every write goes to the same stream, synchronously.
 */
const framed = new WeakMap<Uint8Array, Buffer>();

function frameOf(data: Uint8Array): Buffer {
  let frame = framed.get(data);
  if (!frame) {
    const payload = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    frame = Buffer.concat(
      Sender.frame(payload, { fin: true, rsv1: false, opcode: 2, mask: false, readOnly: true }),
    );
    framed.set(data, frame);
  }
  return frame;
}

interface WsInternals {
  _socket?: Socket | null;
  _sender?: { _queue?: unknown[]; _state?: number } | null;
}

/**
 * `written` runs once the frame left the process (handed to the kernel), or failed; never if the
 * socket is not open.
 */
export function sendBinary(ws: WebSocket, data: Uint8Array, written?: () => void): void {
  if (ws.readyState !== WebSocket.OPEN) return;
  const { _socket: socket, _sender: sender } = ws as unknown as WsInternals;
  if (
    socket &&
    !socket.destroyed &&
    sender &&
    Array.isArray(sender._queue) &&
    sender._queue.length === 0 &&
    sender._state === 0
  )
    socket.write(frameOf(data), written);
  else ws.send(data, written);
}
