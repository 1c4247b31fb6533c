import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { bundled } from './bundles.ts';

/**
 * Starts the server (this run's bundle of `server/main.ts`) as a separate process, so it can be
 * killed for real, and waits for its URL.
 */
export function spawnServer(
  dataDir: string,
  env: Record<string, string> = {},
): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [bundled('server')], {
    cwd: process.cwd(),
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /running at (http:\/\/\S+) /.exec(out);
      if (m) resolve({ child, url: m[1]!.replace('localhost', '127.0.0.1') });
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${err}`)));
  });
}

export function exited(
  child: ChildProcess,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null)
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

/**
 * Which of `pids` owns the TCP socket whose local port is `port` (e.g. the sender of a request a
 * test server is still reading), from /proc: the socket's inode in /proc/net/tcp{,6}, then the
 * process whose fd links to it. Undefined when none does (the socket closed meanwhile).
 */
export function pidOwningPort(port: number, pids: readonly number[]): number | undefined {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6'])
    for (const line of fs.readFileSync(table, 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols[1]?.endsWith(hex) && cols[9]) inodes.add(`socket:[${cols[9]}]`);
    }
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = fs.readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (inodes.has(fs.readlinkSync(`/proc/${pid}/fd/${fd}`))) return pid;
      } catch {
        // Closed while we looked.
      }
    }
  }
  return undefined;
}
