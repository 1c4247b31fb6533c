import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { WritePathReport } from '../../server/collab/write-path-timing.ts';
import type { Wire } from './wire.ts';

/** Asks a server of ours for its write-path totals (SIGUSR1) and reads them from its DATA_DIR. */
async function writePathTotals(pid: number, dir: string): Promise<WritePathReport> {
  const file = path.join(dir, 'write-path-timing.json');
  fs.rmSync(file, { force: true });
  process.kill(pid, 'SIGUSR1');
  for (let i = 0; i < 500 && !fs.existsSync(file); i++) await new Promise((r) => setTimeout(r, 10));
  return JSON.parse(fs.readFileSync(file, 'utf8')) as WritePathReport;
}

/** A sync server under test, running in its own process on loopback. */
export interface RunningServer {
  name: string;
  wire: Wire;
  pid: number;
  /** Websocket URL for a room (the document), with whatever auth the server needs. */
  url(room: string): string;
  /** Base URL for stock y-websocket clients (room appended by the client) and its params. */
  providerBase: string;
  params: Record<string, string>;
  room: string;
  /** `n` documents to use (ours: one project's DEV draft each; the peers take any name). */
  newRooms(n: number): Promise<string[]>;
  /** Stops the process and starts it again on the same data (null for the memory-only servers). */
  restart: (() => Promise<RunningServer>) | null;
  stop(): Promise<void>;
  /**
   * Every process whose CPU the workloads report, by name (several processes: each node, then the
   * database). Absent: the one process `pid`.
   */
  processes?: () => { name: string; pid: number }[];
  /**
   * Ours with BENCH_BREAKDOWN=1: the write path's stage totals since the last call
   * (server/collab/write-path-timing.ts), in ms and counts, with the event loop and GC.
   */
  writePath?: () => Promise<WritePathReport>;
}

export const SERVERS = [
  'stagecoach',
  'y-websocket-server',
  'y-websocket-server+leveldb',
  'hocuspocus',
  'hocuspocus+sqlite',
  'floor',
] as const;
export type ServerName = (typeof SERVERS)[number];

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/**
 * Preloaded into every server under test (ours and the peers alike): on SIGUSR2 it collects
 * garbage and prints the live JS heap, so memory can be compared by what is live rather than
 * by RSS (which V8 does not give back).
 */
const HEAP_PROBE = `process.on('SIGUSR2', () => { globalThis.gc(); globalThis.gc(); console.log('heap-bytes ' + process.memoryUsage().heapUsed + ' external ' + process.memoryUsage().external); });`;
const PROBE_ARGS = [
  '--expose-gc',
  '--import',
  `data:text/javascript,${encodeURIComponent(HEAP_PROBE)}`,
];

/** Live heap + external (MB) of a server launched here, after a full GC. */
export function liveHeapMb(server: RunningServer): Promise<number> {
  const child = children.get(server.pid)!;
  return new Promise((resolve) => {
    const on = (d: Buffer) => {
      const m = /heap-bytes (\d+) external (\d+)/.exec(d.toString());
      if (!m) return;
      child.stdout!.off('data', on);
      resolve((Number(m[1]) + Number(m[2])) / 2 ** 20);
    };
    child.stdout!.on('data', on);
    child.kill('SIGUSR2');
  });
}

const children = new Map<number, ChildProcess>();

/**
 * BENCH_PROFILE=dir: a CPU profile of every server under test, ours and the peers alike, in
 * dir/<server> (open it in Chrome DevTools), sampled every BENCH_PROFILE_INTERVAL µs (default
 * 1000). y-websocket-server and the floor have no SIGTERM handler: they are made to exit normally
 * on it, or Node would write no profile (Hocuspocus has one of its own, which saves its documents).
 */
function profileArgs(name: ServerName): string[] {
  const dir = process.env.BENCH_PROFILE;
  if (!dir) return [];
  const args = [
    '--cpu-prof',
    `--cpu-prof-dir=${path.join(dir, name)}`,
    `--cpu-prof-interval=${process.env.BENCH_PROFILE_INTERVAL ?? 1000}`,
  ];
  if (name.startsWith('y-websocket-server') || name === 'floor')
    args.push('--import', `data:text/javascript,${encodeURIComponent(EXIT_ON_SIGTERM)}`);
  return args;
}
const EXIT_ON_SIGTERM = `process.on('SIGTERM', () => process.exit(0));`;

function launch(
  name: ServerName,
  args: string[],
  env: Record<string, string>,
): Promise<ChildProcess> {
  const child = spawn(process.execPath, [...PROBE_ARGS, ...profileArgs(name), ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer) => {
      out += d.toString();
      if (/running at/.test(out)) {
        children.set(child.pid!, child);
        resolve(child);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) =>
      reject(new Error(`${args.join(' ')} exited with ${code}: ${out}`)),
    );
  });
}

function stopper(child: ChildProcess, dir: string, keep = false): () => Promise<void> {
  return () =>
    new Promise<void>((resolve) => {
      child.once('exit', () => {
        if (!keep) fs.rmSync(dir, { recursive: true, force: true });
        resolve();
      });
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 5000).unref();
    });
}

interface Ours {
  token: string;
  room: string;
}

/**
 * Limits our server runs with in benches: one bench user opens hundreds of sockets (S9, S10), above
 * the default per-user limit, which is not what is measured.
 */
export const BENCH_LIMITS = {
  COLLAB_MAX_CONNECTIONS_PER_USER: '100000',
  COLLAB_MAX_PRESENCE_IDS_PER_USER: '100000',
  EVENT_STREAMS_PER_USER: '10000',
  EVENT_STREAMS_PER_PROJECT: '10000',
};

/** A new project on our server at `http`; its DEV draft's id (a room). */
export async function ourProject(http: string, token: string): Promise<string> {
  const res = await fetch(`${http}/api/projects`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ name: 'Bench' }),
  });
  const project = (await res.json()) as { environments: { draftId?: string }[] };
  return project.environments[0]!.draftId!;
}

/** The first user of a fresh server of ours at `http`, and an API token of theirs. */
export async function benchToken(http: string): Promise<string> {
  const json = { 'content-type': 'application/json' };
  const setup = await fetch(`${http}/api/setup`, {
    method: 'POST',
    headers: json,
    body: JSON.stringify({
      email: 'bench@example.com',
      password: 'bench quartz meadow lantern',
      name: 'Bench',
    }),
  });
  const cookie = setup.headers.get('set-cookie')!.split(';')[0]!;
  const { token } = (await (
    await fetch(`${http}/api/tokens`, {
      method: 'POST',
      headers: { ...json, cookie, origin: http },
      body: JSON.stringify({ name: 'bench' }),
    })
  ).json()) as { token: string };
  return token;
}

export async function startServer(
  name: ServerName,
  dir = fs.mkdtempSync(path.join(os.tmpdir(), `bench-${name}-`)),
  ours?: Ours,
): Promise<RunningServer> {
  const port = await freePort();
  const ws = `ws://127.0.0.1:${port}`;
  const named = (n: number) => Promise.resolve(Array.from({ length: n }, (_, i) => `bench-${i}`));
  if (name === 'stagecoach') {
    const breakdown = process.env.BENCH_BREAKDOWN === '1';
    // BENCH_NODE_ARGS: V8 and Node flags for our server (e.g. --max-semi-space-size=4 --trace-gc).
    const nodeArgs = process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
    const child = await launch(name, [...nodeArgs, 'dist/server.js'], {
      PORT: String(port),
      HOST: '127.0.0.1',
      DATA_DIR: dir,
      ...BENCH_LIMITS,
      ...(breakdown ? { WRITE_PATH_TIMING: '1' } : {}),
    });
    const http = `http://127.0.0.1:${port}`;
    if (!ours) {
      const token = await benchToken(http);
      ours = { token, room: await ourProject(http, token) };
    }
    const { token, room } = ours;
    return {
      name,
      wire: 'y-websocket',
      pid: child.pid!,
      room,
      url: (r) => `${ws}/collab/${r}?token=${token}`,
      providerBase: `${ws}/collab`,
      params: { token },
      newRooms: async (n) => {
        const rooms: string[] = [];
        for (let i = 0; i < n; i++) rooms.push(await ourProject(http, token));
        return rooms;
      },
      restart: async () => {
        await stopper(child, dir, true)();
        return startServer(name, dir, ours);
      },
      stop: stopper(child, dir),
      ...(breakdown ? { writePath: () => writePathTotals(child.pid!, dir) } : {}),
    };
  }
  // The y-websocket servers, and the floor (bench/sync/peers/relay.ts) speaking the same wire.
  if (name.startsWith('y-websocket-server') || name === 'floor') {
    const env: Record<string, string> = { PORT: String(port), HOST: '127.0.0.1' };
    const persistent = name.endsWith('leveldb');
    if (persistent) env.YPERSISTENCE = dir;
    const child = await launch(
      name,
      name === 'floor'
        ? ['bench/sync/peers/relay.ts', String(port)]
        : ['node_modules/@y/websocket-server/src/server.js'],
      env,
    );
    const restart = async () => {
      await stopper(child, dir, true)();
      return startServer(name, dir);
    };
    return {
      name,
      wire: 'y-websocket',
      pid: child.pid!,
      room: 'bench',
      url: (r) => `${ws}/${r}`,
      providerBase: ws,
      params: {},
      newRooms: named,
      restart: persistent ? restart : null,
      stop: stopper(child, dir),
    };
  }
  const args = ['bench/sync/peers/hocuspocus.ts', String(port)];
  const persistent = name.endsWith('sqlite');
  if (persistent) args.push(path.join(dir, 'hocuspocus.sqlite'));
  const child = await launch(name, args, {});
  const restart = async () => {
    await stopper(child, dir, true)();
    return startServer(name, dir);
  };
  return {
    name,
    wire: 'hocuspocus',
    pid: child.pid!,
    room: 'bench',
    url: () => ws,
    providerBase: ws,
    params: {},
    newRooms: named,
    restart: persistent ? restart : null,
    stop: stopper(child, dir),
  };
}
