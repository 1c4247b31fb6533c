import WebSocket from 'ws';
import { wsUrl } from './clients.ts';

/** A raw-protocol websocket to a draft (the `ws` package: binary frames as the test builds them). */
export interface RawSocket {
  ws: WebSocket;
  /** Resolves with the close code once the server closes the connection. */
  closed: Promise<number>;
  /** Resolves true once every frame sent so far was handled (the server answered a ping after them), false if it closed first. */
  handled(): Promise<boolean>;
  send(frame: Uint8Array): void;
}

export async function rawSocket(httpUrl: string, draftId: string, token: string, query = ''): Promise<RawSocket> {
  const ws = new WebSocket(`${wsUrl(httpUrl)}/${draftId}?token=${token}${query}`);
  let code = 0;
  const closed = new Promise<number>((resolve) =>
    ws.once('close', (c) => {
      code = c;
      resolve(c);
    }),
  );
  ws.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    // A connection that fails before its upgrade (no HTTP answer) closes without opening.
    ws.once('close', (c) => reject(new Error(`closed before it opened: ${c}`)));
  });
  return {
    ws,
    closed,
    send: (frame) => ws.send(frame),
    // Frames are handled in order, so the pong to a ping sent after them comes after they were.
    handled: () => {
      if (code !== 0 || ws.readyState !== WebSocket.OPEN) return Promise.resolve(false);
      const pong = new Promise<boolean>((resolve) => ws.once('pong', () => resolve(true)));
      ws.ping();
      return Promise.race([pong, closed.then(() => false)]);
    },
  };
}

/** Sends `frames` on a fresh connection; resolves with the close code, or 0 if every frame was handled and it stayed open. */
export async function sendFrames(httpUrl: string, draftId: string, token: string, frames: Uint8Array[], query = ''): Promise<number> {
  const s = await rawSocket(httpUrl, draftId, token, query);
  for (const f of frames) s.send(f);
  if (await s.handled()) {
    s.ws.terminate();
    return 0;
  }
  return await s.closed;
}
