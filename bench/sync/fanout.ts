import * as Y from 'yjs';
import { WebsocketProvider } from 'y-websocket';
import {
  WARMUP_SECONDS,
  cpuMeter,
  memoryMb,
  percentile,
  processesOf,
  until,
  type CpuShare,
} from './stats.ts';
import type { WritePathReport } from '../../server/collab/write-path-timing.ts';
import type { RunningServer } from './servers.ts';
import { hello, numbersOf, updateFrame, updateOf } from './wire.ts';
import { numberAt, setNumber } from './content.ts';

export interface FanoutResult {
  server: string;
  /** Updates per second the writers achieved (all writers together). */
  throughput: number;
  samples: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  cpuPct: number;
  /** Each process's CPU (one server: the same as cpuPct). */
  cpu: CpuShare[];
  peakRssMb: number;
  converged: boolean;
  note: string;
  /** Ours with BENCH_BREAKDOWN=1: the write path's stage totals over the measured window. */
  writePath?: WritePathReport;
  /** Updates sent in the measured window. */
  updates: number;
}

export const open = (url: string): Promise<WebSocket> =>
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
    const provider = new WebsocketProvider(server.providerBase, server.room, doc, {
      params: server.params,
      disableBc: true,
      WebSocketPolyfill: WebSocket,
    });
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

const W = 1e6;

/**
 * `writers` writers each send `rate` updates/s for `seconds` (writer w writes w × 1e6 + its
 * sequence number); `observers` raw connections read every frame and note when each number
 * arrives (no Y.Doc per observer).
 */
export async function fanout(
  server: RunningServer,
  opts: { observers: number; writers?: number; rate: number; seconds: number },
): Promise<FanoutResult> {
  const writers = opts.writers ?? 1;
  const sent = new Map<number, number>();
  const latencies: number[] = [];
  const lastSeen: number[][] = [];
  const sockets: WebSocket[] = [];
  for (let i = 0; i < opts.observers; i++) {
    const ws = await open(server.url(server.room));
    const seen = (lastSeen[i] = Array.from({ length: writers }, () => -1));
    ws.onmessage = (ev) => {
      const at = performance.now();
      const u = updateOf(server.wire, new Uint8Array(ev.data as ArrayBuffer));
      if (!u) return;
      for (const v of numbersOf(u)) {
        const w = Math.floor(v / W);
        const seq = v % W;
        for (let s = seen[w]! + 1; s <= seq; s++) {
          const t = sent.get(w * W + s);
          if (t !== undefined) latencies.push(at - t);
        }
        if (seq > seen[w]!) seen[w] = seq;
      }
    };
    for (const f of hello(server.wire, server.room)) ws.send(f);
    sockets.push(ws);
  }
  const replicas = [await replica(server), await replica(server)];

  const docs: Y.Doc[] = [];
  const writerSockets: WebSocket[] = [];
  for (let w = 0; w < writers; w++) {
    const doc = new Y.Doc();
    const ws = await open(server.url(server.room));
    for (const f of hello(server.wire, server.room)) ws.send(f);
    doc.on('update', (update: Uint8Array) =>
      ws.send(updateFrame(server.wire, server.room, update)),
    );
    docs.push(doc);
    writerSockets.push(ws);
  }

  const t0 = performance.now();
  // The first WARMUP_SECONDS of updates are sent but not timed, nor their CPU counted.
  const warm = Math.round(opts.rate * WARMUP_SECONDS);
  const perWriter = warm + Math.round(opts.rate * opts.seconds);
  let cpuSince = cpuMeter(processesOf(server));
  let measuredFrom = t0;
  let resetting: Promise<unknown> | undefined;
  // Writers take turns on one timeline: tick k sends writer k % writers' next update.
  const interval = 1000 / (opts.rate * writers);
  for (let k = 0; k < perWriter * writers; k++) {
    await until(t0 + k * interval, k);
    const w = k % writers;
    const seq = Math.floor(k / writers);
    if (k === warm * writers) {
      cpuSince = cpuMeter(processesOf(server));
      measuredFrom = performance.now();
      // The write path's totals start here too (read, not awaited: the sends keep their pace).
      // A failed read is kept for the await below (unhandled, it would stop the whole bench).
      resetting = server.writePath?.().then(
        () => undefined,
        (err: unknown) => err,
      );
    }
    if (seq >= warm) sent.set(w * W + seq, performance.now());
    setNumber(docs[w]!, `bench_w${w}`, w * W + seq);
  }
  const sendWall = (performance.now() - measuredFrom) / 1000;
  const done = () => lastSeen.every((seen) => seen.every((s) => s >= perWriter - 1));
  const deadline = performance.now() + 10_000;
  while (performance.now() < deadline && !done()) await new Promise((r) => setTimeout(r, 20));
  const cpu = cpuSince();
  const cpuPct = cpu[0]!.pct;
  const failed = await resetting;
  if (failed) throw failed;
  const writePath = await server.writePath?.();
  const peakRssMb = memoryMb(server.pid).peak;
  const last = (doc: Y.Doc) =>
    docs.every((_, w) => numberAt(doc, `bench_w${w}`) === w * W + perWriter - 1);
  while (performance.now() < deadline && replicas.some((r) => !last(r.doc)))
    await new Promise((r) => setTimeout(r, 20));
  const converged = replicas.every((r) => last(r.doc));
  const missing = lastSeen.filter((seen) => seen.some((s) => s < perWriter - 1)).length;

  for (const ws of [...sockets, ...writerSockets]) ws.close();
  for (const r of replicas) r.close();
  latencies.sort((a, b) => a - b);
  return {
    server: server.name,
    throughput: ((perWriter - warm) * writers) / sendWall,
    samples: latencies.length,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
    max: latencies[latencies.length - 1] ?? Number.NaN,
    cpuPct,
    cpu,
    peakRssMb,
    converged,
    note: missing > 0 ? `${missing} observers missed the end` : '',
    updates: (perWriter - warm) * writers,
    ...(writePath ? { writePath } : {}),
  };
}
