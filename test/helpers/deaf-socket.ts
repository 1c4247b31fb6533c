import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import type { Duplex } from 'node:stream';

/** A server frame as a raw client reads it. */
export interface RawFrame {
  opcode: number;
  payload: Buffer;
}

/**
 * A hand-made websocket client that answers nothing by itself (a stock client answers a close
 * frame at once): a hostile client that keeps sending after the server closed its socket.
 */
export interface DeafSocket {
  /** Sends a masked binary frame (also after the server sent its close frame). */
  send(payload: Uint8Array): void;
  /** Sends the close frame the server waits for. */
  closeReply(code?: number): void;
  /** Resolves with the first frame of `opcode` (8: close) received from now or before. */
  next(opcode: number): Promise<RawFrame>;
  /** Resolves when the server ended the TCP connection. */
  ended: Promise<void>;
  destroy(): void;
}

function frame(opcode: number, payload: Uint8Array): Buffer {
  const mask = randomBytes(4);
  const len = payload.byteLength;
  const head =
    len < 126
      ? Buffer.from([0x80 | opcode, 0x80 | len])
      : len < 65536
        ? Buffer.from([0x80 | opcode, 0x80 | 126, len >> 8, len & 0xff])
        : Buffer.concat([
            Buffer.from([0x80 | opcode, 0x80 | 127]),
            (() => {
              const b = Buffer.alloc(8);
              b.writeBigUInt64BE(BigInt(len));
              return b;
            })(),
          ]);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i]! ^= mask[i % 4]!;
  return Buffer.concat([head, mask, body]);
}

/** Opens `path` on `httpUrl` as a websocket with a raw TCP socket; rejects when not upgraded. */
export function openDeaf(
  httpUrl: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<DeafSocket> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, httpUrl), {
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': randomBytes(16).toString('base64'),
        ...headers,
      },
    });
    req.on('error', reject);
    req.on('response', (res) => {
      res.resume();
      reject(new Error(`not upgraded: ${res.statusCode}`));
    });
    req.on('upgrade', (_res, socket: Duplex, head: Buffer) => {
      const frames: RawFrame[] = [];
      const waiting: { opcode: number; resolve: (f: RawFrame) => void }[] = [];
      let buf = head;
      const parse = () => {
        for (;;) {
          if (buf.length < 2) return;
          const opcode = buf[0]! & 0x0f;
          let len = buf[1]! & 0x7f;
          let at = 2;
          if (len === 126) {
            if (buf.length < 4) return;
            len = buf.readUInt16BE(2);
            at = 4;
          } else if (len === 127) {
            if (buf.length < 10) return;
            len = Number(buf.readBigUInt64BE(2));
            at = 10;
          }
          if (buf.length < at + len) return;
          const f = { opcode, payload: buf.subarray(at, at + len) };
          buf = buf.subarray(at + len);
          frames.push(f);
          for (const w of waiting.filter((x) => x.opcode === opcode)) {
            waiting.splice(waiting.indexOf(w), 1);
            w.resolve(f);
          }
        }
      };
      socket.on('data', (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk]);
        parse();
      });
      socket.on('error', () => {});
      const ended = new Promise<void>((r) => socket.once('close', () => r()));
      parse();
      resolve({
        send: (payload) => void socket.write(frame(2, payload)),
        closeReply(code = 1000) {
          const b = Buffer.alloc(2);
          b.writeUInt16BE(code);
          socket.write(frame(8, b));
        },
        next(opcode) {
          const had = frames.find((f) => f.opcode === opcode);
          if (had) return Promise.resolve(had);
          return new Promise((r) => waiting.push({ opcode, resolve: r }));
        },
        ended,
        destroy: () => socket.destroy(),
      });
    });
    req.end();
  });
}
