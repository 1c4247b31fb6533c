import * as Y from 'yjs';
import { WebsocketProvider } from 'y-websocket';
import { cpuSeconds, memoryMb, percentile } from './stats.ts';
import type { RunningServer } from './servers.ts';
import { hello, seqOf, updateFrame, updateOf } from './wire.ts';

export interface FanoutResult {
  server: string;
  samples: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  cpuPct: number;
  peakRssMb: number;
  converged: boolean;
  note: string;
}

const open = (url: string): Promise<WebSocket> =>
  new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.binaryType = 'arraybuffer';
    ws.onopen = () => resolve(ws);
    ws.onerror = () => reject(new Error(`cannot connect to ${url}`));
  });

/** A replica that must end equal to the writer: a stock y-websocket client, or (Hocuspocus) a raw one with a Y.Doc. */
async function replica(server: RunningServer): Promise<{ doc: Y.Doc; close(): void }> {
  const doc = new Y.Doc();
  if (server.wire === 'y-websocket') {
    const provider = new WebsocketProvider(server.providerBase, server.room, doc, { params: server.params, disableBc: true, WebSocketPolyfill: WebSocket });
    await new Promise<void>((resolve) => provider.once('sync', () => resolve()));
    return { doc, close: () => provider.destroy() };
  }
  const ws = await open(server.url(server.room));
  ws.onmessage = (ev) => {
    const u = updateOf(server.wire, new Uint8Array(ev.data as ArrayBuffer));
    if (u) Y.applyUpdate(doc, u);
  };
  for (const f of hello(server.wire, server.room)) ws.send(f);
  return { doc, close: () => ws.close() };
}

/**
 * One writer sends `rate` updates/s for `seconds`; `observers` raw connections read every
 * frame and note when each sequence number arrives (no Y.Doc per observer).
 */
export async function fanout(server: RunningServer, opts: { observers: number; rate: number; seconds: number }): Promise<FanoutResult> {
  const sent = new Map<number, number>();
  const latencies: number[] = [];
  const lastSeen: number[] = [];
  const sockets: WebSocket[] = [];
  for (let i = 0; i < opts.observers; i++) {
    const ws = await open(server.url(server.room));
    lastSeen[i] = -1;
    ws.onmessage = (ev) => {
      const at = performance.now();
      const u = updateOf(server.wire, new Uint8Array(ev.data as ArrayBuffer));
      if (!u) return;
      const seq = seqOf(u);
      for (let s = lastSeen[i]! + 1; s <= seq; s++) {
        const t = sent.get(s);
        if (t !== undefined) latencies.push(at - t);
      }
      if (seq > lastSeen[i]!) lastSeen[i] = seq;
    };
    for (const f of hello(server.wire, server.room)) ws.send(f);
    sockets.push(ws);
  }
  const replicas = [await replica(server), await replica(server)];

  const writerDoc = new Y.Doc();
  const writer = await open(server.url(server.room));
  for (const f of hello(server.wire, server.room)) writer.send(f);
  writerDoc.on('update', (update: Uint8Array) => writer.send(updateFrame(server.wire, server.room, update)));

  const cpu0 = cpuSeconds(server.pid);
  const t0 = performance.now();
  const total = Math.round(opts.rate * opts.seconds);
  for (let seq = 0; seq < total; seq++) {
    const due = t0 + (seq * 1000) / opts.rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    sent.set(seq, performance.now());
    writerDoc.getMap('bench').set('seq', seq);
  }
  // Let the last updates arrive everywhere (bounded).
  const deadline = performance.now() + 10_000;
  while (performance.now() < deadline && lastSeen.some((s) => s < total - 1)) await new Promise((r) => setTimeout(r, 20));
  const wall = (performance.now() - t0) / 1000;
  const cpuPct = ((cpuSeconds(server.pid) - cpu0) / wall) * 100;
  const peakRssMb = memoryMb(server.pid).peak;
  while (performance.now() < deadline && replicas.some((r) => r.doc.getMap('bench').get('seq') !== total - 1)) await new Promise((r) => setTimeout(r, 20));
  const sv = Y.encodeStateVector(writerDoc);
  const converged = replicas.every((r) => r.doc.getMap('bench').get('seq') === total - 1 && Buffer.from(Y.encodeStateVector(r.doc)).equals(Buffer.from(sv)));
  const missing = lastSeen.filter((s) => s < total - 1).length;

  for (const ws of sockets) ws.close();
  writer.close();
  for (const r of replicas) r.close();
  latencies.sort((a, b) => a - b);
  return {
    server: server.name,
    samples: latencies.length,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
    max: latencies[latencies.length - 1] ?? Number.NaN,
    cpuPct,
    peakRssMb,
    converged,
    note: missing > 0 ? `${missing} observers missed the end` : '',
  };
}
