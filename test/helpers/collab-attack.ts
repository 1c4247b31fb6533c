import net from 'node:net';
import { randomBytes } from 'node:crypto';
import * as Y from 'yjs';
import * as encoding from 'lib0/encoding';
import { encodeAwareness, encodeSyncStep1, encodeUpdate } from '#server/collab/protocol.ts';
import { addItem, itemText, sectionMap } from '#schema/content/ydoc.ts';
import { rawSocket } from './raw-socket.ts';

/** An awareness message setting `states` (client id → [clock, JSON text]) as one frame. */
export function awarenessFrame(
  states: [clientId: number, clock: number, json: string][],
): Uint8Array {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, states.length);
  for (const [id, clock, json] of states) {
    encoding.writeVarUint(e, id);
    encoding.writeVarUint(e, clock);
    encoding.writeVarString(e, json);
  }
  return encodeAwareness(encoding.toUint8Array(e));
}

/**
 * Writes a draft of about `bytes` bytes (one agent's instructions of that length, in updates under `chunk`
 * bytes each) over a raw connection, and resolves once the server has it in its log (it
 * answers a sync step 1 only then). Returns the author's doc.
 */
export async function bigDraft(
  httpUrl: string,
  draftId: string,
  token: string,
  bytes: number,
  chunk = 4_000_000,
): Promise<Y.Doc> {
  const { ws, closed } = await rawSocket(httpUrl, draftId, token);
  const author = new Y.Doc();
  // Shaped as the content spec wants (anything else is refused 4422): one agent's instructions.
  let before = Y.encodeStateVector(author);
  const id = addItem(author, 'agents', { name: 'Big' });
  ws.send(encodeUpdate(Y.encodeStateAsUpdate(author, before)));
  const text = itemText(sectionMap(author, 'agents').get(id), 'instructions')!;
  for (let done = 0; done < bytes; done += chunk) {
    before = Y.encodeStateVector(author);
    text.insert(done, 'x'.repeat(Math.min(chunk, bytes - done)));
    ws.send(encodeUpdate(Y.encodeStateAsUpdate(author, before)));
  }
  const stored = new Promise<void>((resolve) => {
    ws.on('message', (data: Buffer) => {
      if (data[0] === 0 && data[1] === 1) resolve();
    });
  });
  ws.send(encodeSyncStep1(Y.encodeStateVector(author)));
  await stored;
  ws.close();
  await closed;
  return author;
}

/** A client frame (binary, masked with the all-zero key, which RFC 6455 allows) of under 64 KiB. */
function clientFrame(payload: Uint8Array): Buffer {
  if (payload.length >= 65536) throw new Error('clientFrame: payload too large');
  const head =
    payload.length < 126
      ? Buffer.from([0x82, 0x80 | payload.length])
      : Buffer.from([0x82, 0x80 | 126, payload.length >> 8, payload.length & 0xff]);
  return Buffer.concat([head, Buffer.alloc(4), payload]);
}

/**
 * A websocket client on a plain TCP socket that does the handshake, sends `frames`, and then
 * never reads again: nothing in it resumes the socket (ws's client would, when its parser
 * drains), so the kernel's receive buffer stays small and the server's queue is what grows.
 * Resolves with the socket (resume it to see how the server ended the connection).
 */
export async function stalledClient(
  httpUrl: string,
  draftId: string,
  token: string,
  frames: Uint8Array[],
): Promise<net.Socket> {
  const socket = await tcpUpgrade(httpUrl, draftId, token);
  socket.pause();
  for (const f of frames) socket.write(clientFrame(f));
  return socket;
}

/**
 * A plain TCP socket upgraded to a sync websocket (the 101 read, nothing else), for tests that
 * write frames by hand.
 */
export function tcpUpgrade(httpUrl: string, draftId: string, token: string): Promise<net.Socket> {
  const { hostname, port } = new URL(httpUrl);
  const socket = net.connect(Number(port), hostname);
  return new Promise((resolve, reject) => {
    let head = '';
    const onData = (chunk: Buffer) => {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      if (!head.startsWith('HTTP/1.1 101'))
        return reject(new Error(`upgrade refused: ${head.split('\r\n')[0]}`));
      resolve(socket);
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(
      `GET /collab/${draftId}?token=${token} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
  });
}
