import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Wire } from './wire.ts';

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
  stop(): Promise<void>;
}

export const SERVERS = ['stagecoach', 'y-websocket-server', 'y-websocket-server+leveldb', 'hocuspocus', 'hocuspocus+sqlite'] as const;
export type ServerName = (typeof SERVERS)[number];

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

function launch(args: string[], env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer) => {
      out += d.toString();
      if (/running at/.test(out)) resolve(child);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}: ${out}`)));
  });
}

const stopper = (child: ChildProcess, dir: string) => () =>
  new Promise<void>((resolve) => {
    child.once('exit', () => {
      fs.rmSync(dir, { recursive: true, force: true });
      resolve();
    });
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 5000).unref();
  });

export async function startServer(name: ServerName): Promise<RunningServer> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `bench-${name}-`));
  const ws = `ws://127.0.0.1:${port}`;
  if (name === 'stagecoach') {
    const child = await launch(['dist/server.js'], { PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dir, COLLAB_MAX_FRAME_BYTES: String(16 * 1024 * 1024) });
    const http = `http://127.0.0.1:${port}`;
    const json = { 'content-type': 'application/json' };
    const setup = await fetch(`${http}/api/setup`, { method: 'POST', headers: json, body: JSON.stringify({ email: 'bench@example.com', password: 'bench bench bench', name: 'Bench' }) });
    const cookie = setup.headers.get('set-cookie')!.split(';')[0]!;
    const { token } = (await (await fetch(`${http}/api/tokens`, { method: 'POST', headers: { ...json, cookie, origin: http }, body: JSON.stringify({ name: 'bench' }) })).json()) as { token: string };
    const auth = { ...json, authorization: `Bearer ${token}` };
    const project = (await (await fetch(`${http}/api/projects`, { method: 'POST', headers: auth, body: JSON.stringify({ name: 'Bench' }) })).json()) as { environments: { draftId?: string }[] };
    const room = project.environments[0]!.draftId!;
    return { name, wire: 'y-websocket', pid: child.pid!, room, url: (r) => `${ws}/collab/${r}?token=${token}`, providerBase: `${ws}/collab`, params: { token }, stop: stopper(child, dir) };
  }
  if (name.startsWith('y-websocket-server')) {
    const env: Record<string, string> = { PORT: String(port), HOST: '127.0.0.1' };
    if (name.endsWith('leveldb')) env.YPERSISTENCE = dir;
    const child = await launch(['node_modules/@y/websocket-server/src/server.js'], env);
    return { name, wire: 'y-websocket', pid: child.pid!, room: 'bench', url: (r) => `${ws}/${r}`, providerBase: ws, params: {}, stop: stopper(child, dir) };
  }
  const args = ['bench/sync/peers/hocuspocus.ts', String(port)];
  if (name.endsWith('sqlite')) args.push(path.join(dir, 'hocuspocus.sqlite'));
  const child = await launch(args, {});
  return { name, wire: 'hocuspocus', pid: child.pid!, room: 'bench', url: () => ws, providerBase: ws, params: {}, stop: stopper(child, dir) };
}
