import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request a receiver got. */
export interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** The sender's port: which process sent it (cluster tests look it up in /proc). */
  remotePort: number;
}

/** How the receiver answers one request: a status (and body), or hold it open until `release`. */
export type Answer = { status: number; body?: string; headers?: Record<string, string> } | 'hold';

/**
 * A real webhook receiver (node:http on 127.0.0.1, port 0) for WH tests: it records every request,
 * answers each by `answer` (200 by default), and `next()` waits for the next request (no sleeps).
 */
export async function webhookReceiver(cleanup: (() => unknown)[]) {
  const received: Received[] = [];
  const waiters: { n: number; resolve: (r: Received) => void }[] = [];
  const held: http.ServerResponse[] = [];
  let answer: (r: Received, n: number) => Answer = () => ({ status: 200, body: 'ok' });
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: Received = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        remotePort: req.socket.remotePort ?? 0,
      };
      received.push(r);
      const a = answer(r, received.length);
      if (a === 'hold') held.push(res);
      else res.writeHead(a.status, a.headers ?? { 'content-type': 'text/plain' }).end(a.body ?? '');
      for (const w of waiters.filter((x) => x.n <= received.length)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(received[w.n - 1]!);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  cleanup.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    received,
    /** Sets how the following requests are answered (`n`: 1 for the first request ever). */
    answer(fn: (r: Received, n: number) => Answer) {
      answer = fn;
    },
    /** The n-th request (1: the first), as soon as it has arrived. */
    nth(n: number): Promise<Received> {
      if (received.length >= n) return Promise.resolve(received[n - 1]!);
      return new Promise((resolve) => waiters.push({ n, resolve }));
    },
    /** Answers every held request. */
    release(status = 200) {
      for (const res of held.splice(0)) res.writeHead(status).end('ok');
    },
  };
}
