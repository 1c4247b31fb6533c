import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { startCluster, type ClusterNode } from '../../test/helpers/cluster.ts';
import { startPostgres } from '../../test/helpers/postgres.ts';
import { exited } from '../../test/helpers/process.ts';
import { startRedis } from '../../test/helpers/redis.ts';
import { open } from '../sync/fanout.ts';
import {
  BENCH_LIMITS,
  benchToken,
  ourProject,
  startServer,
  type RunningServer,
  type ServerName,
} from '../sync/servers.ts';
import { hello, updateOf } from '../sync/wire.ts';

/**
 * How clients reach the processes of a cluster: `balancer` through the test balancer (a draft's
 * sockets hashed to one process, as the documented nginx set-up does), `direct` round-robin
 * straight to the processes (every draft has clients on every process: what the relay serves).
 */
export type Spread = 'balancer' | 'direct';

export interface Setup {
  server: RunningServer;
  /** Number of server processes. */
  nodes: number;
  /**
   * Direct spread: why clients of `room` cannot all be served (a raw client on each process; those
   * that do not own the draft close with 4502 owner_moved while there is no relay), or null.
   */
  refused(room: string): Promise<string | null>;
  /**
   * Drafts whose lease a process lost so far (it stops serving them and closes their sockets with
   * 4502: e.g. a process starved of CPU for longer than the lease's 5 s), from what they printed.
   */
  leasesLost(): number;
}

/** Today's single process on SQLite, started exactly as `npm run bench` starts it. */
export async function sqliteSetup(): Promise<Setup> {
  return await oneProcess('stagecoach');
}

/** One process of `name` (ours on SQLite, or a peer), started exactly as `npm run bench` starts it. */
export async function oneProcess(name: ServerName): Promise<Setup> {
  const server = await startServer(name);
  return { server, nodes: 1, refused: () => Promise.resolve(null), leasesLost: () => 0 };
}

/**
 * `nodes` processes of the bundled server (`dist/server.js`) on one throwaway PostgreSQL (durable:
 * on disk, fsync on, as in production) and Redis, behind the test balancer in a process of its own.
 * Stopping it stops them all and deletes their data.
 */
export async function postgresSetup(nodes: number, spread: Spread): Promise<Setup> {
  const cleanup: (() => unknown)[] = [];
  const stop = async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  };
  try {
    const pg = await startPostgres(cleanup, { durable: process.env.BENCH_PG !== 'memory' });
    const redis = await startRedis(cleanup);
    const cluster = await startCluster(cleanup, {
      nodes,
      entry: 'dist/server.js',
      env: {
        ...BENCH_LIMITS,
        DATABASE_URL: pg.url,
        REDIS_URL: redis.url,
        SECRETS_KEY: randomBytes(32).toString('base64'),
        PUBLIC_URL: 'http://stagecoach.test',
        CLUSTER_SECRET: randomBytes(36).toString('base64'),
      },
    });
    const balancer = await balancerProcess(cleanup, cluster.nodes);
    const http = balancer.url;
    const token = await benchToken(http);
    const room = await ourProject(http, token);
    const ws = (base: string) => `${base.replace(/^http/, 'ws')}/collab`;
    let turn = 0;
    /** Where the next socket goes: the balancer, or the next process in turn. */
    const base = () =>
      spread === 'balancer' ? http : cluster.nodes[turn++ % cluster.nodes.length]!.url;
    const server: RunningServer = {
      name: `postgres-${nodes}`,
      wire: 'y-websocket',
      pid: cluster.nodes[0]!.pid(),
      room,
      url: (r) => `${ws(base())}/${r}?token=${token}`,
      get providerBase() {
        return ws(base());
      },
      params: { token },
      newRooms: async (n) => {
        const rooms: string[] = [];
        for (let i = 0; i < n; i++) rooms.push(await ourProject(http, token));
        return rooms;
      },
      restart: null,
      stop,
      processes: () => [
        ...cluster.nodes.map((n) => ({ name: n.id, pid: n.pid() })),
        ...pg.pids().map((pid) => ({ name: 'postgres', pid })),
        { name: 'balancer', pid: balancer.pid },
      ],
    };
    return {
      server,
      nodes,
      // Each node keeps its last 64 KB of output: room for ~700 such lines (one fresh set-up per
      // workload prints little else).
      leasesLost: () => cluster.output().split(': no longer owned here').length - 1,
      refused: async (r) => {
        if (spread === 'balancer') return null;
        const answers = await Promise.all(
          cluster.nodes.map(async (n) => [n.id, await served(`${ws(n.url)}/${r}?token=${token}`)]),
        );
        const no = answers.filter(([, a]) => a !== 'served');
        return no.length ? no.map(([id, a]) => `${id}: ${a}`).join('; ') : null;
      },
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** bench/cluster/balancer.ts in front of `nodes`; its URL once it listens. */
async function balancerProcess(
  cleanup: (() => unknown)[],
  nodes: ClusterNode[],
): Promise<{ url: string; pid: number }> {
  const child = spawn(
    process.execPath,
    ['bench/cluster/balancer.ts', ...nodes.map((n) => `${n.id}:${n.port}`)],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  cleanup.push(async () => {
    child.kill('SIGKILL');
    await exited(child);
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /balancer at (\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`the balancer exited with ${code}: ${out}`)));
  });
  return { url, pid: child.pid! };
}

/**
 * Whether a raw client at `url` gets the document ('served') or is closed first (its close code
 * and reason), within 10 s.
 */
async function served(url: string): Promise<string> {
  const socket = await open(url);
  return new Promise((resolve) => {
    const done = (answer: string) => {
      clearTimeout(timer);
      socket.onclose = null;
      socket.close();
      resolve(answer);
    };
    const timer = setTimeout(() => done('no answer within 10 s'), 10_000);
    socket.onclose = (ev) => done(`closed ${ev.code} ${ev.reason}`);
    socket.onmessage = (ev) => {
      if (updateOf('y-websocket', new Uint8Array(ev.data as ArrayBuffer))) done('served');
    };
    for (const f of hello('y-websocket', '')) socket.send(f);
  });
}
