import * as Y from 'yjs';
import * as awarenessProtocol from 'y-protocols/awareness';
import * as encoding from 'lib0/encoding';
import { bigWorkspaceUpdate } from '../store/workspace.ts';
import { open } from './fanout.ts';
import {
  WARMUP_SECONDS,
  cpuMeter,
  cpuSeconds,
  memoryMb,
  percentile,
  processesOf,
  until,
} from './stats.ts';
import { liveHeapMb, type RunningServer } from './servers.ts';
import { frame, hello, numbersOf, updateFrame, updateOf } from './wire.ts';
import { setNumber, setTitle } from './content.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);

/** S4: many documents, one writer and one observer each; latency send → observer. */
export async function manyDocuments(
  server: RunningServer,
  opts: { docs: number; rate: number; seconds: number },
) {
  const rooms = await server.newRooms(opts.docs);
  const latencies: number[] = [];
  const writers: { doc: Y.Doc; sent: Map<number, number> }[] = [];
  const sockets: WebSocket[] = [];
  for (const room of rooms) {
    const sent = new Map<number, number>();
    const observer = await open(server.url(room));
    observer.onmessage = (ev) => {
      const at = performance.now();
      const u = updateOf(server.wire, new Uint8Array(ev.data as ArrayBuffer));
      if (u) for (const v of numbersOf(u)) if (sent.has(v)) latencies.push(at - sent.get(v)!);
    };
    for (const f of hello(server.wire, room)) observer.send(f);
    const ws = await open(server.url(room));
    for (const f of hello(server.wire, room)) ws.send(f);
    const doc = new Y.Doc();
    doc.on('update', (u: Uint8Array) => ws.send(updateFrame(server.wire, room, u)));
    writers.push({ doc, sent });
    sockets.push(observer, ws);
  }
  const t0 = performance.now();
  // The first WARMUP_SECONDS of updates are sent but not timed, nor their CPU counted.
  const warm = opts.docs * opts.rate * WARMUP_SECONDS;
  const total = opts.docs * opts.rate * opts.seconds;
  let cpuSince = cpuMeter(processesOf(server));
  let measuredFrom = t0;
  let resetting: Promise<unknown> | undefined;
  const interval = 1000 / (opts.docs * opts.rate);
  for (let k = 0; k < warm + total; k++) {
    await until(t0 + k * interval, k);
    const w = writers[k % opts.docs]!;
    const seq = Math.floor(k / opts.docs);
    if (k === warm) {
      cpuSince = cpuMeter(processesOf(server));
      measuredFrom = performance.now();
      // The write path's totals start here too (read, not awaited: the sends keep their pace).
      // A failed read is kept for the await below (unhandled, it would stop the whole bench).
      resetting = server.writePath?.().then(
        () => undefined,
        (err: unknown) => err,
      );
    }
    if (k >= warm) w.sent.set(seq, performance.now());
    setNumber(w.doc, 'bench', seq);
  }
  const deadline = performance.now() + 10_000;
  while (latencies.length < total && performance.now() < deadline) await sleep(20);
  const wall = (performance.now() - measuredFrom) / 1000;
  const cpu = cpuSince();
  const failed = await resetting;
  if (failed) throw failed;
  const writePath = await server.writePath?.();
  for (const s of sockets) s.close();
  const l = sorted(latencies);
  return {
    received: l.length,
    total,
    perSecond: l.length / wall,
    p50: percentile(l, 50),
    p99: percentile(l, 99),
    max: l[l.length - 1] ?? NaN,
    cpuPct: cpu[0]!.pct,
    cpu,
    peakRssMb: memoryMb(server.pid).peak,
    writePath,
  };
}

/**
 * S7: `docs` small documents with one connection each; RSS per document+connection, then what is
 * left after all disconnect.
 */
export async function idleDocuments(server: RunningServer, docs: number) {
  const rooms = await server.newRooms(docs);
  await sleep(1000);
  const before = memoryMb(server.pid).rss;
  const heapBefore = await liveHeapMb(server);
  const sockets: WebSocket[] = [];
  let synced = 0;
  for (const room of rooms) {
    const ws = await open(server.url(room));
    ws.onmessage = (ev) => {
      if (updateOf(server.wire, new Uint8Array(ev.data as ArrayBuffer))) synced++;
    };
    for (const f of hello(server.wire, room)) ws.send(f);
    const doc = new Y.Doc();
    setTitle(doc, 'bench', `Document ${room}`);
    ws.send(updateFrame(server.wire, room, Y.encodeStateAsUpdate(doc)));
    sockets.push(ws);
  }
  while (synced < docs) await sleep(20);
  await sleep(1000);
  const open_ = memoryMb(server.pid).rss;
  const heapOpen = await liveHeapMb(server);
  for (const s of sockets) s.close();
  await sleep(3000);
  const after = memoryMb(server.pid).rss;
  const heapAfter = await liveHeapMb(server);
  return {
    perDocKb: ((open_ - before) * 1024) / docs,
    leftMb: after - before,
    beforeMb: before,
    openMb: open_,
    heapPerDocKb: ((heapOpen - heapBefore) * 1024) / docs,
    heapLeftMb: heapAfter - heapBefore,
  };
}

/**
 * Sends a workspace of `articles` articles (2,000: 5 MB) into `room` and waits until the server has
 * it (a fresh client gets it back).
 */
export async function seedBig(
  server: RunningServer,
  room: string,
  articles = 2000,
): Promise<number> {
  const update = bigWorkspaceUpdate(articles);
  const ws = await open(server.url(room));
  for (const f of hello(server.wire, room)) ws.send(f);
  ws.send(updateFrame(server.wire, room, update));
  // The server has it once a fresh client gets it back (some servers apply asynchronously).
  for (let attempt = 0; attempt < 20; attempt++) {
    await sleep(500);
    const check = await joinOnce(server, room);
    if (check.bytes >= update.length * 0.9) {
      ws.close();
      return update.length;
    }
  }
  ws.close();
  throw new Error(`${server.name} did not keep the document within 10 s`);
}

/** A fresh raw client: ms from starting to connect until a state of at least `minBytes` (the full document) is in. */
export async function joinOnce(
  server: RunningServer,
  room: string,
  minBytes = 0,
): Promise<{ ms: number; bytes: number }> {
  const t0 = performance.now();
  const ws = await open(server.url(room));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      ws.close();
      reject(new Error('no full state within 30 s'));
    }, 30_000);
    ws.onclose = (ev) => {
      clearTimeout(timer);
      reject(new Error(`closed ${ev.code} ${ev.reason} before the full state arrived`));
    };
    ws.onmessage = (ev) => {
      const u = updateOf(server.wire, new Uint8Array(ev.data as ArrayBuffer));
      if (u && u.length >= minBytes) {
        const ms = performance.now() - t0;
        clearTimeout(timer);
        ws.onclose = null;
        ws.close();
        resolve({ ms, bytes: u.length });
      }
    };
    for (const f of hello(server.wire, room)) ws.send(f);
  });
}

/** S9: `clients` fresh clients join `room` spread over `withinMs`; each one's time to the full state. */
export async function thunderingHerd(
  server: RunningServer,
  room: string,
  clients: number,
  withinMs: number,
  minBytes: number,
) {
  const joins: Promise<{ ms: number }>[] = [];
  const t0 = performance.now();
  for (let i = 0; i < clients; i++) {
    const wait = t0 + (i * withinMs) / clients - performance.now();
    if (wait > 1) await sleep(wait);
    joins.push(joinOnce(server, room, minBytes));
  }
  const l = sorted((await Promise.all(joins)).map((j) => j.ms));
  return {
    p50: percentile(l, 50),
    p99: percentile(l, 99),
    max: l[l.length - 1]!,
    peakRssMb: memoryMb(server.pid).peak,
  };
}

/** S10: `clients` connections each sending a presence (cursor) update at 1 Hz, plus one writer at 20/s; server CPU. */
export async function presenceLoad(server: RunningServer, clients: number, seconds: number) {
  const room = server.room;
  const sockets: { ws: WebSocket; awareness: awarenessProtocol.Awareness }[] = [];
  let frames = 0;
  for (let i = 0; i < clients; i++) {
    const ws = await open(server.url(room));
    ws.onmessage = () => void frames++;
    for (const f of hello(server.wire, room)) ws.send(f);
    sockets.push({ ws, awareness: new awarenessProtocol.Awareness(new Y.Doc()) });
  }
  const writer = await open(server.url(room));
  for (const f of hello(server.wire, room)) writer.send(f);
  const doc = new Y.Doc();
  doc.on('update', (u: Uint8Array) => writer.send(updateFrame(server.wire, room, u)));
  const presence = (c: (typeof sockets)[number], i: number, tick: number) => {
    c.awareness.setLocalState({
      user: { name: `Person ${i}`, color: '#2563eb' },
      at: { section: 'knowledge', itemId: `kb_${tick % 50}` },
      cursor: { anchor: tick, head: tick + 3 },
    });
    const update = awarenessProtocol.encodeAwarenessUpdate(c.awareness, [c.awareness.clientID]);
    c.ws.send(
      frame(server.wire, room, (e) => {
        encoding.writeVarUint(e, 1);
        encoding.writeVarUint8Array(e, update);
      }),
    );
  };
  await sleep(500);
  frames = 0;
  const cpu0 = cpuSeconds(server.pid);
  const t0 = performance.now();
  // Each client sends once a second at its own offset; the writer 20 times a second.
  const ticks = seconds * 20;
  for (let t = 0; t < ticks; t++) {
    const wait = t0 + t * 50 - performance.now();
    if (wait > 1) await sleep(wait);
    setNumber(doc, 'bench', t);
    for (let i = t % 20; i < clients; i += 20) presence(sockets[i]!, i, t);
  }
  const wall = (performance.now() - t0) / 1000;
  const cpuPct = ((cpuSeconds(server.pid) - cpu0) / wall) * 100;
  const framesPerSecond = frames / wall;
  for (const c of sockets) c.ws.close();
  writer.close();
  return { cpuPct, framesPerSecond };
}
