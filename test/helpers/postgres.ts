import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * A throwaway PostgreSQL server for one test (PG-1, PG-3): its own data folder in a temp dir, its
 * own port, `fsync=off`, trust authentication for `postgres` on 127.0.0.1 only.
 */
export interface ThrowawayPostgres {
  /** `postgres://postgres@127.0.0.1:<port>/postgres`; the same across restart(). */
  url: string;
  port: number;
  /** Its temp folder (data, log, unix socket; under /dev/shm when there is one); deleted by cleanup. */
  dir: string;
  /**
   * How long the start took, in milliseconds: initdb (the first server of a test file only; 0
   * after), the copy of its cluster into this server's folder, `pg_ctl start -w`.
   */
  timings: { initdbMs: number; copyMs: number; startMs: number };
  /** A clean shutdown (`pg_ctl stop -m fast`); the data stays for restart(). */
  stop(): Promise<void>;
  /** SIGKILL to the postmaster and every backend: a crash. restart() runs crash recovery. */
  kill(): Promise<void>;
  /** SIGSTOP / SIGCONT to the postmaster and its backends: a server that hangs, then wakes. */
  pause(): void;
  resume(): void;
  /** Starts it again (stopping it first if it runs) on the same port and data. */
  restart(): Promise<void>;
  /** The postmaster's pid and its children's (backends, writers), read from /proc now. */
  pids(): number[];
}

const ROOT = '/usr/lib/postgresql';

/** The bin folder of the highest PostgreSQL version installed (Debian's layout), or a clear error. */
export function postgresBinDir(root = ROOT): string {
  const versions = fs.existsSync(root)
    ? fs
        .readdirSync(root)
        .filter((v) => fs.existsSync(path.join(root, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length === 0)
    throw new Error(
      `No PostgreSQL server binaries: ${root}/<version>/bin/initdb is missing. Install Debian's ` +
        '`postgresql` package (apt-get install -y --no-install-recommends postgresql; .ci/run does ' +
        'it when run as root).',
    );
  return path.join(root, versions[0]!, 'bin');
}

/** A port nothing listens on right now (PostgreSQL cannot take port 0 and report it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

const asRoot = process.getuid?.() === 0;

/** initdb refuses root: as root, run PostgreSQL's programs as the `postgres` user. */
async function pgRun(bin: string, args: string[]): Promise<void> {
  const [file, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
  try {
    await run(file, argv, { timeout: 30_000 });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${path.basename(bin)} failed: ${err.stderr || err.stdout || err.message}`, {
      cause: e,
    });
  }
}

/** Whether pid runs: a zombie (killed, not yet reaped by PID 1) counts as gone. */
function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** The postmaster (first line of postmaster.pid) and its children, read from /proc. */
function serverPids(dataDir: string): number[] {
  let postmaster: number;
  try {
    postmaster = Number(
      fs.readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0],
    );
  } catch {
    return [];
  }
  if (!postmaster || !alive(postmaster)) return [];
  const children: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // stat: "pid (comm) state ppid …"; comm may hold spaces, so read after the last ')'.
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === postmaster) children.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return [postmaster, ...children];
}

function signal(pids: number[], sig: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  }
}

/** Waits (polling /proc, a few ms at a time) until none of pids lives; SIGKILL ends them at once. */
async function gone(pids: number[]): Promise<void> {
  const until = Date.now() + 10_000;
  while (pids.some(alive)) {
    if (Date.now() > until) throw new Error(`postgres processes still alive: ${pids.join(' ')}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** The SysV shared memory id the postmaster wrote (line 7 of postmaster.pid: "key id"). */
function shmId(dataDir: string): string | undefined {
  try {
    const line = fs.readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[6];
    return line?.trim().split(/\s+/)[1];
  } catch {
    return undefined;
  }
}

/**
 * A crash: SIGKILL to the postmaster and its backends. What a clean stop would remove stays
 * behind: the pid file and the socket's lock file (the killed postmaster may linger as a zombie
 * until PID 1 reaps it, and the next start would take it for a running server) and PostgreSQL's
 * small SysV shared memory segment; all are removed here.
 */
function killNow(dataDir: string): number[] {
  const shm = shmId(dataDir);
  const pids = serverPids(dataDir);
  signal(pids, 'SIGKILL');
  fs.rmSync(path.join(dataDir, 'postmaster.pid'), { force: true });
  // The unix socket and its lock file live beside the data folder (unix_socket_directories).
  const socketDir = path.dirname(dataDir);
  if (fs.existsSync(socketDir))
    for (const f of fs.readdirSync(socketDir))
      if (f.startsWith('.s.PGSQL.')) fs.rmSync(path.join(socketDir, f), { force: true });
  if (shm) spawnSync('ipcrm', ['-m', shm], { stdio: 'ignore' });
  return pids;
}

/** Servers of this test process still running: killed when it ends without their cleanup. */
const live = new Set<string>();
export function removeThrowawayPostgres(): void {
  for (const dir of live) {
    killNow(path.join(dir, 'data'));
    fs.rmSync(dir, { recursive: true, force: true });
  }
  live.clear();
  if (template) fs.rmSync(template.dir, { recursive: true, force: true });
  template = undefined;
}
// Vitest ends its workers with SIGTERM, so no 'exit' event there: after each file,
// test/helpers/each-file.ts does it. (The postgres project's globalSetup,
// test/helpers/pg-global-setup.ts, runs in Vitest's main process and stops its servers itself.)
process.once('exit', removeThrowawayPostgres);

/**
 * Where the throwaway clusters go: /dev/shm (memory) when there is one — a 28 MB cluster copies
 * there in 0.05 s against 0.9 s on this machine's busy disk, and with fsync=off nothing needs a
 * disk — else the usual temp folder.
 */
function tempRoot(): string {
  try {
    fs.accessSync('/dev/shm', fs.constants.W_OK);
    return '/dev/shm';
  } catch {
    return os.tmpdir();
  }
}

let uidGid: Promise<[number, number]> | undefined;
/** The `postgres` user's uid and gid (as root, PostgreSQL's files belong to it). */
function postgresUser(): Promise<[number, number]> {
  uidGid ??= Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])]).then(
    ([u, g]) => [Number(u.stdout.trim()), Number(g.stdout.trim())],
  );
  return uidGid;
}

async function tempDir(prefix: string, root = tempRoot()): Promise<string> {
  const dir = fs.mkdtempSync(path.join(root, prefix));
  if (asRoot) {
    const [uid, gid] = await postgresUser();
    fs.chownSync(dir, uid, gid);
  }
  return dir;
}

/**
 * initdb runs once per test file (0.3–2 s on a busy 2-core machine); each server then starts
 * from a copy of that cluster (`cp -a`), removed when the test file ends.
 */
let template: { dir: string; ready: Promise<number> } | undefined;
function initdbOnce(bin: string): Promise<number> {
  if (!template) {
    const dir = fs.mkdtempSync(path.join(tempRoot(), 'stagecoach-pg-template-'));
    const ready = (async () => {
      if (asRoot) {
        const [uid, gid] = await postgresUser();
        fs.chownSync(dir, uid, gid);
      }
      const t0 = performance.now();
      await pgRun(path.join(bin, 'initdb'), [
        '-D',
        path.join(dir, 'data'),
        '-U',
        'postgres',
        '--auth=trust',
        '--encoding=UTF8',
        '--locale=C',
        '--no-sync',
        '--no-instructions',
        '--wal-segsize=1',
      ]);
      return performance.now() - t0;
    })();
    template = { dir, ready };
  }
  return template.ready;
}

/**
 * Starts a throwaway PostgreSQL (the highest version under /usr/lib/postgresql) and pushes its
 * removal onto cleanup (test/helpers/cleanup.ts): the server stopped at once, its folder deleted.
 * `durable` (benches): its data on the disk (the usual temp folder) with PostgreSQL's default
 * fsync and full-page writes, as a production server runs, instead of fsync=off in memory.
 * `maxConnections`: PostgreSQL's default 100, more for a whole test run's servers (PG-160).
 */
export async function startPostgres(
  cleanup: (() => unknown)[],
  { durable = false, maxConnections = 100 } = {},
): Promise<ThrowawayPostgres> {
  const bin = postgresBinDir();
  const first = !template;
  const t0 = performance.now();
  const initdbMs = await initdbOnce(bin);
  const dir = await tempDir('stagecoach-pg-', durable ? os.tmpdir() : tempRoot());
  live.add(dir);
  const dataDir = path.join(dir, 'data');
  let paused: number[] = [];
  cleanup.push(async () => {
    if (paused.length) api.resume();
    if (serverPids(dataDir).length) {
      // Immediate: no checkpoint, but PostgreSQL removes its shared memory itself.
      await pgRun(path.join(bin, 'pg_ctl'), [
        'stop',
        '-w',
        '-s',
        '-m',
        'immediate',
        '-D',
        dataDir,
      ]).catch(() => gone(killNow(dataDir)));
    }
    fs.rmSync(dir, { recursive: true, force: true });
    live.delete(dir);
  });
  await run('cp', ['-a', path.join(template!.dir, 'data'), dataDir]);
  const copyMs = performance.now() - t0 - (first ? initdbMs : 0);
  const port = await freePort();

  const options = [
    `-p ${port}`,
    '-c listen_addresses=127.0.0.1',
    `-c unix_socket_directories=${dir}`,
    `-c max_connections=${maxConnections}`,
    ...(durable ? [] : ['-c fsync=off', '-c full_page_writes=off']),
    // Dynamic shared memory as files in the data folder (memory too, under /dev/shm), so a killed
    // server leaves none behind: the default (posix) leaves /dev/shm/PostgreSQL.* after a SIGKILL.
    '-c dynamic_shared_memory_type=mmap',
  ].join(' ');
  const log = path.join(dir, 'server.log');
  const start = () =>
    pgRun(path.join(bin, 'pg_ctl'), [
      'start',
      '-w',
      '-s',
      '-D',
      dataDir,
      '-l',
      log,
      '-o',
      options,
    ]).catch((e: Error) => {
      const tail = fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').slice(-12) : [];
      throw new Error(`${e.message}\n${log}:\n${tail.join('\n')}`, { cause: e });
    });
  const stop = async () => {
    if (paused.length) api.resume();
    if (serverPids(dataDir).length)
      await pgRun(path.join(bin, 'pg_ctl'), ['stop', '-w', '-s', '-m', 'fast', '-D', dataDir]);
  };

  const t1 = performance.now();
  await start();
  const startMs = performance.now() - t1;

  const api: ThrowawayPostgres = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    dir,
    timings: { initdbMs: first ? initdbMs : 0, copyMs, startMs },
    stop,
    async kill() {
      if (paused.length) api.resume();
      await gone(killNow(dataDir));
    },
    pause() {
      paused = serverPids(dataDir);
      signal(paused, 'SIGSTOP');
    },
    resume() {
      signal([...paused, ...serverPids(dataDir)], 'SIGCONT');
      paused = [];
    },
    async restart() {
      await stop();
      await start();
    },
    pids: () => serverPids(dataDir),
  };
  return api;
}
