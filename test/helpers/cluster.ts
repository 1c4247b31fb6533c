import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { onTestFailed } from 'vitest';
import { freePort } from './postgres.ts';
import { bundled } from './bundles.ts';
import { exited } from './process.ts';

/**
 * N real Stagecoach processes (the server's bundle) for cluster tests and benches (PG-90, PG-91): each
 * on its own port with its own DATA_DIR (with DATABASE_URL in `env` also NODE_ID=n1… and
 * INTERNAL_URL=http://127.0.0.1:<port>). What
 * else they get is the `env` parameter: nothing for SQLite, DATABASE_URL/REDIS_URL/… for PostgreSQL.
 */
export interface ClusterNode {
  /** NODE_ID: n1, n2, … */
  id: string;
  /** Fixed for the node's life, also across restart(), so a balancer keeps it. */
  port: number;
  /** http://127.0.0.1:<port> (also its INTERNAL_URL). */
  url: string;
  dataDir: string;
  /** The running process's pid (a new one after restart()). */
  pid(): number;
  /** SIGKILL, and waits for the exit: a crash. */
  kill(): Promise<void>;
  /** SIGSTOP, and waits until the kernel reports it stopped. */
  pause(): Promise<void>;
  /** SIGCONT, and waits until it runs again. */
  resume(): Promise<void>;
  /** Kills it if it runs, starts it again on the same port and DATA_DIR, waits for its health route. */
  restart(): Promise<void>;
  /** CPU time the current process used (user + system), from /proc/<pid>/stat. */
  cpuMs(): number;
  /** Its stdout and stderr (the last 64 KB), for failure messages. */
  output(): string;
}

export interface Cluster {
  nodes: ClusterNode[];
  /** Every node's output, headed by its id, for a failure message. */
  output(): string;
}

export type NodeEnv = Record<string, string> | ((id: string) => Record<string, string>);

const OUTPUT_KEPT = 64 * 1024;
/** A start that takes longer than this fails (three cold starts on a loaded 2-core machine take ~5 s). */
const START_DEADLINE_MS = 60_000;
/** Linux's USER_HZ: /proc reports CPU times in these ticks (100 on every mainstream kernel). */
const TICKS_PER_SECOND = 100;

/** Children of this test process still running: killed when its file ends without their cleanup. */
const live = new Set<ChildProcess>();
export function killClusterNodes(): void {
  for (const child of live) child.kill('SIGKILL');
}
// Vitest ends its workers with SIGTERM, so no 'exit' event there: after each file,
// test/helpers/each-file.ts does it.
process.once('exit', killClusterNodes);

function procStat(pid: number): { state: string; cpuTicks: number } {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces: fields after it start past the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0]!, cpuTicks: Number(fields[11]) + Number(fields[12]) };
}

async function waitForState(pid: number, wanted: (state: string) => boolean): Promise<void> {
  const deadline = performance.now() + 10_000;
  // The kernel reports a signal's effect with no event to wait on: poll /proc, with a deadline.
  while (!wanted(procStat(pid).state)) {
    if (performance.now() > deadline) throw new Error(`process ${pid} did not change state`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function startNode(
  id: string,
  port: number,
  dataDir: string,
  env: Record<string, string>,
  entry: string,
) {
  const child = spawn(process.execPath, [entry], {
    cwd: process.cwd(),
    env: {
      ...process.env,
      ...env,
      PORT: String(port),
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      // Several processes' keys only with PostgreSQL (the server refuses them on SQLite).
      ...(env.DATABASE_URL ? { NODE_ID: id, INTERNAL_URL: `http://127.0.0.1:${port}` } : {}),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  child.once('exit', () => live.delete(child));
  let out = '';
  const keep = (d: Buffer) => (out = (out + d.toString()).slice(-OUTPUT_KEPT));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${id} did not start in ${START_DEADLINE_MS} ms:\n${out}`)),
      START_DEADLINE_MS,
    );
    const onExit = (code: number | null, sig: string | null) => {
      clearTimeout(timer);
      reject(new Error(`${id} exited (${code ?? sig}) before it was ready:\n${out}`));
    };
    child.once('exit', onExit);
    const onData = () => {
      if (!out.includes('Stagecoach is running at')) return;
      child.stdout!.off('data', onData);
      fetch(`http://127.0.0.1:${port}/api/health`).then(
        (res) => {
          clearTimeout(timer);
          child.off('exit', onExit);
          if (res.ok) resolve();
          else reject(new Error(`${id}: /api/health answered ${res.status}:\n${out}`));
        },
        (err: unknown) => {
          clearTimeout(timer);
          child.off('exit', onExit);
          reject(new Error(`${id}: /api/health failed (${String(err)}):\n${out}`));
        },
      );
    };
    child.stdout!.on('data', onData);
  });
  return { child, ready, output: () => out };
}

/**
 * Starts `nodes` processes at once and waits until every one answers `/api/health`. Cleanup
 * (test/helpers/cleanup.ts) kills them all and deletes their DATA_DIRs, also after a failed test.
 * `entry`: the server file each runs: by default this test run's bundle (benches give `dist/server.js`,
 * which `npm start` runs).
 */
export async function startCluster(
  cleanup: (() => unknown)[],
  {
    nodes: count,
    env = {},
    entry = bundled('server'),
  }: { nodes: number; env?: NodeEnv; entry?: string },
): Promise<Cluster> {
  const nodes: ClusterNode[] = [];
  const stops: (() => Promise<void>)[] = [];
  cleanup.push(async () => {
    await Promise.all(stops.map((stop) => stop()));
  });
  const readies: Promise<void>[] = [];
  for (let i = 1; i <= count; i++) {
    const id = `n${i}`;
    const port = await freePort();
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `stagecoach-${id}-`));
    const nodeEnv = typeof env === 'function' ? env(id) : env;
    let run = startNode(id, port, dataDir, nodeEnv, entry);
    let lastOutput = '';
    const kill = async () => {
      const { child } = run;
      child.kill('SIGKILL');
      await exited(child);
    };
    stops.push(async () => {
      await kill();
      fs.rmSync(dataDir, { recursive: true, force: true });
    });
    readies.push(run.ready);
    nodes.push({
      id,
      port,
      url: `http://127.0.0.1:${port}`,
      dataDir,
      pid: () => run.child.pid!,
      kill,
      pause: async () => {
        run.child.kill('SIGSTOP');
        await waitForState(run.child.pid!, (s) => s === 'T');
      },
      resume: async () => {
        run.child.kill('SIGCONT');
        await waitForState(run.child.pid!, (s) => s !== 'T');
      },
      async restart() {
        await kill();
        lastOutput = run.output();
        run = startNode(id, port, dataDir, nodeEnv, entry);
        await run.ready;
      },
      cpuMs: () => (procStat(run.child.pid!).cpuTicks * 1000) / TICKS_PER_SECOND,
      output: () => lastOutput + run.output(),
    });
  }
  const cluster: Cluster = {
    nodes,
    output: () => nodes.map((n) => `--- ${n.id} (${n.url})\n${n.output()}`).join('\n'),
  };
  printOnFailure(cluster);
  await Promise.all(readies);
  return cluster;
}

/**
 * Prints every node's output when the running test fails. startCluster calls it; a cluster started
 * in beforeAll (no test running) needs it called from a beforeEach.
 */
export function printOnFailure(cluster: Cluster): void {
  try {
    onTestFailed(() => console.error(`cluster output:\n${cluster.output()}`));
  } catch {
    // Not inside a test (beforeAll, or outside Vitest): nothing to attach to.
  }
}
