import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './postgres.ts';
import { exited } from './process.ts';

/**
 * A throwaway Redis for one test (PG-2, PG-3): a `redis-server` child with no persistence, on its
 * own port on 127.0.0.1 and a unix socket in its own temp dir.
 */
export interface ThrowawayRedis {
  /** `redis://127.0.0.1:<port>`; the same across restart(). */
  url: string;
  port: number;
  /** Its temp folder (working dir, unix socket); deleted by cleanup. */
  dir: string;
  /** The unix socket's path (also the same across restart()). */
  socket: string;
  /** How long the start took, in milliseconds (spawn until "Ready to accept connections"). */
  startMs: number;
  /** SIGTERM, and waits for the exit. */
  stop(): Promise<void>;
  /** SIGKILL, and waits for the exit: a crash. */
  kill(): Promise<void>;
  /** Starts it again (stopping it first if it runs) on the same port and socket, empty. */
  restart(): Promise<void>;
}

const MISSING =
  "not on PATH. Install Debian's `redis-server` package (apt-get install -y " +
  '--no-install-recommends redis-server; .ci/run does it when run as root).';

/** Children of this test process still running: killed when it ends without their cleanup. */
const live = new Set<ChildProcess>();
export function killThrowawayRedis(): void {
  for (const child of live) child.kill('SIGKILL');
}
// Vitest ends its workers with SIGTERM, so no 'exit' event there: after each file,
// test/helpers/each-file.ts does it.
process.once('exit', killThrowawayRedis);

function spawnRedis(
  command: string,
  port: number,
  dir: string,
  socket: string,
): Promise<ChildProcess> {
  const child = spawn(
    command,
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--unixsocket',
      socket,
      '--unixsocketperm',
      '700',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
      '--daemonize',
      'no',
      '--logfile',
      '',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  live.add(child);
  child.once('exit', () => live.delete(child));
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer) => {
      out += d.toString();
      if (out.includes('Ready to accept connections')) {
        child.stdout!.off('data', onData);
        child.stdout!.resume();
        resolve(child);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.once('error', (e: NodeJS.ErrnoException) =>
      reject(e.code === 'ENOENT' ? new Error(`${command}: ${MISSING}`) : e),
    );
    child.once('exit', (code, sig) =>
      reject(new Error(`redis-server exited (${code ?? sig}) before it was ready:\n${out}`)),
    );
  });
}

/**
 * Starts a throwaway redis-server and pushes its removal onto cleanup (test/helpers/cleanup.ts):
 * the child killed, its folder deleted.
 */
export async function startRedis(
  cleanup: (() => unknown)[],
  { command = 'redis-server' } = {},
): Promise<ThrowawayRedis> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stagecoach-redis-'));
  const socket = path.join(dir, 'redis.sock');
  let child: ChildProcess | undefined;
  const end = async (sig: NodeJS.Signals) => {
    if (!child) return;
    const c = child;
    child = undefined;
    c.kill(sig);
    await exited(c);
  };
  cleanup.push(async () => {
    await end('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const port = await freePort();
  const t0 = performance.now();
  child = await spawnRedis(command, port, dir, socket);
  const startMs = performance.now() - t0;
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    socket,
    startMs,
    stop: () => end('SIGTERM'),
    kill: () => end('SIGKILL'),
    async restart() {
      await end('SIGTERM');
      child = await spawnRedis(command, port, dir, socket);
    },
  };
}
