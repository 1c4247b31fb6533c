import { createHash } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * A load balancer in the test process (PG-92, PG-93), shaped like the nginx set-up of the docs:
 * HTTP round-robin over the nodes (a refused connection tries the next), `/collab/:draftId`
 * upgrades by rendezvous hash of the draft id over every node it knows (the next in that draft's
 * order when one refuses), other upgrades round-robin. Bytes are piped both ways; when either side
 * closes the other is closed too.
 */
export interface BalancedNode {
  id: string;
  port: number;
}

export interface Served {
  kind: 'http' | 'upgrade';
  path: string;
  node: string;
}

export interface Balancer {
  url: string;
  /** What each request went to, in arrival order. */
  served: Served[];
  /** Sends upgrades of `draftId` to `nodeId` whatever the hash says (undefined: hash again). */
  force(draftId: string, nodeId: string | undefined): void;
  /** The nodes a draft's upgrades try, in order (the first is where it lands while it accepts). */
  order(draftId: string): string[];
}

const COLLAB = /^\/collab\/([A-Za-z0-9_-]{1,64})(?:\?|$)/;
/** A request body is held whole so it can go to the next node after a refusal: tests send small ones. */
const MAX_BODY_BYTES = 16 * 1024 * 1024;

const weight = (nodeId: string, key: string) =>
  createHash('sha256').update(`${nodeId}\0${key}`).digest().readBigUInt64BE();

export async function startBalancer(
  cleanup: (() => unknown)[],
  nodes: readonly BalancedNode[],
): Promise<Balancer> {
  const served: Served[] = [];
  const forced = new Map<string, string>();
  let next = 0;
  const roundRobin = () => nodes.map((_, i) => nodes[(next + i) % nodes.length]!);
  const order = (draftId: string) => {
    const ranked = [...nodes].sort((a, b) => {
      const [wa, wb] = [weight(a.id, draftId), weight(b.id, draftId)];
      return wa > wb ? -1 : wa < wb ? 1 : 0;
    });
    const pinned = ranked.find((n) => n.id === forced.get(draftId));
    return pinned ? [pinned, ...ranked.filter((n) => n !== pinned)] : ranked;
  };
  const sockets = new Set<net.Socket>();

  const server = http.createServer((req, res) => void forward(req, res));
  async function forward(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of req as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > MAX_BODY_BYTES) return void res.writeHead(413).end();
        chunks.push(chunk);
      }
    } catch {
      return void res.destroy(); // the client went away mid-body
    }
    const body = Buffer.concat(chunks);
    const candidates = roundRobin();
    next = (next + 1) % nodes.length;
    const forwarded = [req.headers['x-forwarded-for'], req.socket.remoteAddress].filter(Boolean);
    const attempt = (i: number): void => {
      const node = candidates[i];
      if (!node) return void res.writeHead(502).end();
      const up = http.request({
        host: '127.0.0.1',
        port: node.port,
        // A fresh connection each time: a pooled one to a killed node would fail as a reset, not a refusal.
        agent: false,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, connection: 'close', 'x-forwarded-for': forwarded.join(', ') },
      });
      up.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ECONNREFUSED') attempt(i + 1);
        else res.destroy();
      });
      up.once('response', (answer) => {
        served.push({ kind: 'http', path: req.url ?? '', node: node.id });
        res.writeHead(answer.statusCode ?? 502, answer.rawHeaders);
        answer.pipe(res);
        res.once('close', () => answer.destroy());
      });
      up.end(body);
    };
    attempt(0);
  }

  server.on('upgrade', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    sockets.add(client);
    client.once('close', () => sockets.delete(client));
    client.on('error', () => client.destroy());
    const draftId = COLLAB.exec(req.url ?? '')?.[1];
    const candidates = draftId === undefined ? roundRobin() : order(draftId);
    if (draftId === undefined) next = (next + 1) % nodes.length;
    const lines = [`${req.method} ${req.url} HTTP/1.1`];
    for (let i = 0; i < req.rawHeaders.length; i += 2)
      if (req.rawHeaders[i]!.toLowerCase() !== 'x-forwarded-for')
        lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
    const forwarded = [req.headers['x-forwarded-for'], req.socket.remoteAddress].filter(Boolean);
    lines.push(`X-Forwarded-For: ${forwarded.join(', ')}`);
    const attempt = (i: number): void => {
      const node = candidates[i];
      if (!node) return void client.end('HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\n\r\n');
      const up = net.connect(node.port, '127.0.0.1');
      up.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ECONNREFUSED') attempt(i + 1);
        else client.destroy();
      });
      up.once('connect', () => {
        served.push({ kind: 'upgrade', path: req.url ?? '', node: node.id });
        sockets.add(up);
        // destroySoon: a node's last answer (a refusal, a close frame) still reaches the client.
        up.once('close', () => (sockets.delete(up), client.destroySoon()));
        client.once('close', () => up.destroySoon());
        up.write(`${lines.join('\r\n')}\r\n\r\n`);
        up.write(head);
        up.pipe(client);
        client.pipe(up);
      });
    };
    attempt(0);
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.push(async () => {
    for (const s of sockets) s.destroy();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    served,
    force: (draftId, nodeId) =>
      nodeId === undefined ? forced.delete(draftId) : void forced.set(draftId, nodeId),
    order: (draftId) => order(draftId).map((n) => n.id),
  };
}
