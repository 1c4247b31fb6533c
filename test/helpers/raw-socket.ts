import WebSocket from 'ws';
import { wsUrl } from './clients.ts';

/** A raw-protocol websocket to a draft (the `ws` package: binary frames as the test builds them). */
export interface RawSocket {
  ws: WebSocket;
  /** Resolves with the close code once the connection closes. */
  closed: Promise<number>;
  /** Resolves with the close code and reason once the connection closes. */
  closedWith: Promise<{ code: number; reason: string }>;
  /**
   * Resolves true once every frame sent so far was handled (the server answered a ping after them),
   * false if it closed first.
   */
  handled(): Promise<boolean>;
  send(frame: Uint8Array): void;
}

/** Opens a raw socket on a draft with an API token (`query` adds to the query string, e.g. '&mode=read'). */
export function rawSocket(
  httpUrl: string,
  draftId: string,
  token: string,
  query = '',
): Promise<RawSocket> {
  return openRawSocket(`${wsUrl(httpUrl)}/${draftId}?token=${token}${query}`);
}

/**
 * Opens a raw socket on `url` (a ws:// URL) with `headers` (a cookie and Origin, as a browser sends
 * them); rejects with the HTTP status if the upgrade is refused.
 */
export async function openRawSocket(
  url: string,
  headers: Record<string, string> = {},
): Promise<RawSocket> {
  const ws = new WebSocket(url, { headers });
  let code = 0;
  const closedWith = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once('close', (c, reason) => {
      code = c;
      resolve({ code: c, reason: reason.toString() });
    }),
  );
  ws.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) =>
      reject(new Error(`upgrade refused: ${res.statusCode}`)),
    );
    // A connection that fails before its upgrade (no HTTP answer) closes without opening.
    ws.once('close', (c) => reject(new Error(`closed before it opened: ${c}`)));
  });
  const closed = closedWith.then((c) => c.code);
  return {
    ws,
    closed,
    closedWith,
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

/** The HTTP status an upgrade at `url` answers: 101 when it opens (the socket is dropped at once). */
export async function upgradeStatus(
  url: string,
  headers: Record<string, string> = {},
): Promise<number> {
  return await new Promise((resolve) => {
    const ws = new WebSocket(url, { headers });
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.once('open', () => {
      resolve(101);
      ws.terminate();
    });
    ws.once('error', () => undefined);
  });
}

/**
 * Sends `frames` on a fresh connection; resolves with the close code, or 0 if every frame was
 * handled and it stayed open.
 */
export async function sendFrames(
  httpUrl: string,
  draftId: string,
  token: string,
  frames: Uint8Array[],
  query = '',
): Promise<number> {
  const s = await rawSocket(httpUrl, draftId, token, query);
  for (const f of frames) s.send(f);
  if (await s.handled()) {
    s.ws.terminate();
    return 0;
  }
  return await s.closed;
}
