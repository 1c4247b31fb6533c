import { WebSocket } from 'ws';
import { CLOSE } from '#schema/errors.ts';
import { sendBinary } from './framing.ts';

/**
 * Sends `frame` unless the socket already holds more than `maxBufferedBytes` it could not
 * write (SEC-2). `bufferedAmount` counts ws's own queue and the socket's
 * writable buffer, so the direct writes of framing.ts are counted too. The check comes
 * BEFORE the write: one frame larger than the bound (a full state of a big draft) still goes
 * to a client that reads, and a client that does not read holds at most the bound plus one frame.
 * `too_slow` when the socket was dropped instead.
 */
export function sendWithin(
  ws: WebSocket,
  frame: Uint8Array,
  maxBufferedBytes: number,
  drained?: () => void,
): 'sent' | 'not_open' | 'too_slow' {
  if (ws.readyState !== WebSocket.OPEN) return 'not_open';
  if (ws.bufferedAmount > maxBufferedBytes) {
    dropTooSlow(ws);
    return 'too_slow';
  }
  sendBinary(ws, frame, drained);
  return 'sent';
}

/**
 * Closes with 4429 and destroys the socket at once: its queued frames are freed now. The close
 * frame waits behind what the client never read, so it usually sees the connection drop (1006)
 * rather than the code; the server's 'close' handler runs either way and the room forgets it.
 */
function dropTooSlow(ws: WebSocket): void {
  ws.close(CLOSE.too_slow, 'too slow: the client did not read what was sent');
  ws.terminate();
}
