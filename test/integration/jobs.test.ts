import { spawn } from 'node:child_process';
import fs from 'node:fs';
import readline from 'node:readline';
import { describe, expect, it } from 'vitest';
import { AppError } from '#schema/errors.ts';
import { openDatabase } from '#server/store/db.ts';
import { JOB_CLAIM_MAX, JOB_PAYLOAD_MAX_BYTES, sqliteJobQueue } from '#server/store/jobs.ts';
import { createPgJobStore } from '#server/store/pg/jobs.ts';
import {
  startJobRunner,
  type JobHandler,
  type JobQueue,
  type JobRunnerOptions,
} from '#server/cluster/jobs.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { postgresPerFile } from '../helpers/pg-per-file.ts';
import { exited } from '../helpers/process.ts';
import { tempDataDir } from '../helpers/server.ts';

const cleanup = cleanupAfterEach();
const postgres = postgresPerFile(cleanup);

/** One database and a way to reach it as another process would (its own connection pool on PG). */
interface Dialect {
  queue: JobQueue;
  /** Another queue on the same database: a separate pool on PostgreSQL, the one file on SQLite. */
  another(): Promise<JobQueue>;
  /** Where a child process finds it (test/helpers/job-claimer.ts): a PostgreSQL url, or sqlite:DIR. */
  where: string;
}

const dialects: Record<'SQLite' | 'PostgreSQL', () => Promise<Dialect>> = {
  async SQLite() {
    const dir = tempDataDir();
    const { db, close } = openDatabase(dir, 'normal', () => {});
    cleanup.push(async () => {
      await close();
      fs.rmSync(dir, { recursive: true, force: true });
    });
    return {
      queue: sqliteJobQueue(db),
      another: async () => sqliteJobQueue(db),
      where: `sqlite:${dir}`,
    };
  },
  async PostgreSQL() {
    const pgx = postgres.pgx;
    return {
      queue: createPgJobStore(pgx),
      where: pgx.pool.options.connectionString!,
      another: async () => createPgJobStore(await postgres.otherProcess()),
    };
  },
};

/** Polls `check` until it holds (a deadline, where no event exists: rows another process deletes). */
async function until(check: () => boolean | Promise<boolean>, what: string, ms = 20_000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function runner(o: Omit<JobRunnerOptions, 'log'> & { log?: JobRunnerOptions['log'] }) {
  const r = startJobRunner({ pollMs: 20, log: () => {}, ...o });
  cleanup.push(() => r.stop());
  return r;
}

/** A promise and its resolver (a gate a handler waits on, or an event the test waits for). */
function deferred<T = void>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

for (const [name, open] of Object.entries(dialects)) {
  describe(`jobs on ${name}`, () => {
    it('PG-83: 100 jobs, 4 runners (4 pools on PostgreSQL, as 4 processes) — each job runs exactly once, at most `concurrency` at a time per runner', async () => {
      const d = await open();
      for (let i = 0; i < 100; i++) await d.queue.enqueue('work', `k${i}`, { i }, Date.now());
      const ran = new Map<string, number>();
      const byNode = new Map<string, number>();
      let widest = 0;
      for (const nodeId of ['n1', 'n2', 'n3', 'n4']) {
        const queue = await d.another();
        let running = 0;
        const work: JobHandler = {
          async run(job) {
            running++;
            widest = Math.max(widest, running);
            ran.set(job.key, (ran.get(job.key) ?? 0) + 1);
            byNode.set(nodeId, (byNode.get(nodeId) ?? 0) + 1);
            expect(job.payload).toEqual({ i: Number(job.key.slice(1)) });
            // A round trip to the database, so runs overlap as real handlers' would.
            await queue.count('work');
            running--;
          },
        };
        runner({ queue, nodeId, concurrency: 3, handlers: { work } });
      }
      await until(async () => (await d.queue.count('work')) === 0, 'every job to complete');
      expect(ran.size).toBe(100);
      expect([...ran.values()].every((n) => n === 1)).toBe(true);
      expect([...byNode.values()].reduce((a, b) => a + b, 0)).toBe(100);
      expect(widest).toBeLessThanOrEqual(3);
    });

    it('PG-81: a burst of 50 enqueues of one kind and key (over 3 connections) is one row, keeping the earliest run_at, and one run', async () => {
      const d = await open();
      const queues = [d.queue, await d.another(), await d.another()];
      const base = Date.now() - 1000;
      await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          queues[i % queues.length]!.enqueue('replicate', 'p1', { i }, base + 1 + ((i * 7) % 50)),
        ),
      );
      await d.queue.enqueue('replicate', 'p1', null, base);
      await d.queue.enqueue('replicate', 'p1', null, base + 500);
      expect(await d.queue.count('replicate')).toBe(1);
      const runs: number[] = [];
      runner({
        queue: d.queue,
        nodeId: 'n1',
        handlers: { replicate: { run: async (job) => void runs.push(job.runAt) } },
      });
      await until(async () => (await d.queue.count('replicate')) === 0, 'the run to complete');
      expect(runs).toEqual([base]);
    });

    it('PG-81: an enqueue while the job runs makes one more run, after it and never beside it (the change is not lost)', async () => {
      const d = await open();
      await d.queue.enqueue('replicate', 'p1', 'first', Date.now());
      const gates = [deferred(), deferred()];
      const started = [deferred(), deferred()];
      const runs: unknown[] = [];
      let running = 0;
      let widest = 0;
      for (const nodeId of ['n1', 'n2']) {
        runner({
          queue: await d.another(),
          nodeId,
          handlers: {
            replicate: {
              run: async (job) => {
                widest = Math.max(widest, ++running);
                const n = runs.push(job.payload) - 1;
                started[n]!.resolve();
                await gates[n]!.promise;
                running--;
              },
            },
          },
        });
      }
      await started[0]!.promise;
      for (let i = 0; i < 5; i++) await d.queue.enqueue('replicate', 'p1', `during ${i}`, 0);
      expect(await d.queue.count('replicate')).toBe(2);
      // Due, but its key is running: no claimer takes it.
      for (let i = 0; i < 5; i++)
        expect(await d.queue.claim('probe', ['replicate'], 10, 1)).toEqual([]);
      gates[0]!.resolve();
      await started[1]!.promise;
      gates[1]!.resolve();
      await until(async () => (await d.queue.count('replicate')) === 0, 'both runs');
      expect(runs).toEqual(['first', 'during 0']);
      expect(widest).toBe(1);
    });

    it('PG-82: after a claim expires the job is claimed again with a new token; the stale token completes, retries and extends nothing', async () => {
      const d = await open();
      await d.queue.enqueue('work', 'k', null, Date.now());
      const [first] = await d.queue.claim('dead', ['work'], 10, 1);
      expect(first).toMatchObject({ key: 'k', attempts: 1 });
      let second: Awaited<ReturnType<JobQueue['claim']>>[number] | undefined;
      await until(async () => {
        [second] = await d.queue.claim('other', ['work'], 10, 60_000);
        return second !== undefined;
      }, 'the expired claim to be claimed again');
      expect(second).toMatchObject({ id: first!.id, attempts: 2 });
      expect(second!.claimToken).not.toBe(first!.claimToken);
      expect(await d.queue.complete(first!.id, first!.claimToken)).toBe(false);
      expect(await d.queue.retry(first!.id, first!.claimToken, 0)).toBe(false);
      expect(await d.queue.extend(first!.id, first!.claimToken, 60_000)).toBe(false);
      expect(await d.queue.count('work')).toBe(1);
      expect(await d.queue.complete(second!.id, second!.claimToken)).toBe(true);
      expect(await d.queue.count('work')).toBe(0);
    });

    it('PG-84: a payload over 64 KiB is refused; one claim takes at most 100 jobs', async () => {
      const d = await open();
      const big = 'x'.repeat(JOB_PAYLOAD_MAX_BYTES);
      const refused = await d.queue.enqueue('work', 'big', big, 0).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(AppError);
      expect((refused as AppError).id).toBe('internal');
      expect(await d.queue.count('work')).toBe(0);
      await d.queue.enqueue('work', 'fits', 'x'.repeat(JOB_PAYLOAD_MAX_BYTES - 2), 0);
      for (let i = 0; i < 120; i++) await d.queue.enqueue('small', `k${i}`, i, 0);
      expect(await d.queue.claim('n1', ['small'], 1000, 60_000)).toHaveLength(JOB_CLAIM_MAX);
    });

    it('PG-85: a job that keeps failing runs maxAttempts times with growing waits, then is dropped and logged', async () => {
      const d = await open();
      await d.queue.enqueue('flaky', 'p1', null, Date.now());
      const at: number[] = [];
      const dropped = deferred<string>();
      runner({
        queue: d.queue,
        nodeId: 'n1',
        retryBaseMs: 40,
        handlers: {
          flaky: {
            maxAttempts: 3,
            run: async () => {
              at.push(Date.now());
              throw new Error('receiver down');
            },
          },
        },
        log: (msg) => {
          if (msg.includes('dropped')) dropped.resolve(msg);
        },
      });
      expect(await dropped.promise).toMatch(/flaky p1 .* dropped after 3 attempts: receiver down/);
      expect(at).toHaveLength(3);
      expect(await d.queue.count('flaky')).toBe(0);
      // Backoff: 40 ms then 80 ms (±20 % jitter).
      expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(30);
      expect(at[2]! - at[1]!).toBeGreaterThanOrEqual(60);
    });

    it('PG-85: a handler may name its own retry time ({ retryAt }); it still counts against maxAttempts', async () => {
      const d = await open();
      await d.queue.enqueue('own', 'p1', null, Date.now());
      const at: [number, number][] = [];
      const dropped = deferred<string>();
      runner({
        queue: d.queue,
        nodeId: 'n1',
        handlers: {
          own: {
            maxAttempts: 3,
            run: async (job) => {
              at.push([job.attempts, Date.now()]);
              return { retryAt: Date.now() + 60 };
            },
          },
        },
        log: (msg) => {
          if (msg.includes('dropped')) dropped.resolve(msg);
        },
      });
      expect(await dropped.promise).toMatch(
        /own p1 .* dropped after 3 attempts: its own retries ran out/,
      );
      expect(at.map(([n]) => n)).toEqual([1, 2, 3]);
      expect(at[1]![1] - at[0]![1]).toBeGreaterThanOrEqual(55);
      expect(await d.queue.count('own')).toBe(0);
    });

    it('PG-85: a job whose claimers keep dying (claimed, never settled) is dropped and logged without another run', async () => {
      const d = await open();
      await d.queue.enqueue('crashy', 'p1', null, Date.now());
      for (let claims = 1; claims <= 2; claims++) {
        let got: Awaited<ReturnType<JobQueue['claim']>> = [];
        await until(async () => {
          got = await d.queue.claim(`dead${claims}`, ['crashy'], 1, 1);
          return got.length === 1;
        }, `claim ${claims}`);
        expect(got[0]!.attempts).toBe(claims);
      }
      const dropped = deferred<string>();
      const runs: string[] = [];
      runner({
        queue: d.queue,
        nodeId: 'n1',
        handlers: { crashy: { maxAttempts: 2, run: async (job) => void runs.push(job.id) } },
        log: (msg) => {
          if (msg.includes('dropped')) dropped.resolve(msg);
        },
      });
      expect(await dropped.promise).toMatch(
        /crashy p1 .* dropped after 3 attempts: its claimers kept dying/,
      );
      expect(runs).toEqual([]);
      expect(await d.queue.count('crashy')).toBe(0);
    });

    it('PG-86: a handler running longer than its claim keeps it (extended); another runner does not take it', async () => {
      const d = await open();
      await d.queue.enqueue('long', 'k', null, Date.now());
      const gate = deferred();
      const runs: string[] = [];
      let extensions = 0;
      for (const nodeId of ['n1', 'n2']) {
        const queue = await d.another();
        // The same queue, counting the extensions it grants.
        const counting: JobQueue = {
          ...queue,
          extend: async (...args) => {
            const ours = await queue.extend(...args);
            if (ours) extensions++;
            return ours;
          },
        };
        runner({
          queue: counting,
          nodeId,
          claimMs: 600,
          handlers: {
            long: {
              run: async (_job, signal) => {
                runs.push(nodeId);
                await gate.promise;
                expect(signal.aborted).toBe(false);
              },
            },
          },
        });
      }
      // Six extensions, one every 200 ms: twice the claim's length, the other runner polling meanwhile.
      await until(() => extensions >= 6, 'six claim extensions');
      gate.resolve();
      await until(async () => (await d.queue.count('long')) === 0, 'the long job to complete');
      expect(runs).toHaveLength(1);
    });

    it('PG-88: a stopped runner claims nothing more, aborts its handlers and gives their jobs back due now, the interrupted run not counted', async () => {
      const d = await open();
      await d.queue.enqueue('work', 'a', null, Date.now());
      const started = deferred();
      const a = runner({
        queue: d.queue,
        nodeId: 'a',
        handlers: {
          work: {
            run: (_job, signal) =>
              new Promise<void>((_, reject) => {
                started.resolve();
                signal.addEventListener('abort', () => reject(signal.reason as Error));
              }),
          },
        },
      });
      await started.promise;
      await a.stop();
      await d.queue.enqueue('work', 'b', null, Date.now());
      a.wake();
      const back = await d.queue.claim('b', ['work'], 10, 60_000);
      expect(back.map((j) => [j.key, j.attempts]).sort()).toEqual([
        ['a', 1],
        ['b', 1],
      ]);
    });

    it('PG-82: a claimer killed (SIGKILL) mid-run — the job runs again elsewhere after the claim expiry; its late complete changes nothing', async () => {
      const d = await open();
      await d.queue.enqueue('slow', 'p1', { n: 1 }, Date.now());
      const child = spawn(
        process.execPath,
        ['test/helpers/job-claimer.ts', d.where, 'doomed', '1500'],
        { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'pipe'] },
      );
      cleanup.push(() => child.kill('SIGKILL'));
      let stderr = '';
      child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
      const lines = readline.createInterface({ input: child.stdout! });
      const startedLine = await new Promise<string>((resolve, reject) => {
        lines.once('line', resolve);
        child.once('exit', (code) => reject(new Error(`claimer exited with ${code}: ${stderr}`)));
      });
      const stale = JSON.parse(startedLine) as { started: string; token: string };
      // While the claimer lives (extending its claim), nobody else takes the job.
      expect(await d.queue.claim('probe', ['slow'], 1, 60_000)).toEqual([]);
      child.kill('SIGKILL');
      expect((await exited(child)).signal).toBe('SIGKILL');

      const gate = deferred();
      const started = deferred<{ id: string; attempts: number }>();
      const runs: string[] = [];
      runner({
        queue: await d.another(),
        nodeId: 'survivor',
        claimMs: 5000,
        handlers: {
          slow: {
            run: async (job) => {
              runs.push(job.id);
              started.resolve({ id: job.id, attempts: job.attempts });
              await gate.promise;
            },
          },
        },
      });
      const again = await started.promise;
      expect(again).toMatchObject({ id: stale.started, attempts: 2 });
      expect(await d.queue.complete(stale.started, stale.token)).toBe(false);
      expect(await d.queue.retry(stale.started, stale.token, 0)).toBe(false);
      expect(await d.queue.count('slow')).toBe(1);
      gate.resolve();
      await until(async () => (await d.queue.count('slow')) === 0, 'the survivor to complete');
      expect(runs).toEqual([stale.started]);
    });
  });
}

describe('jobs on SQLite across a restart', () => {
  it('PG-87: jobs enqueued before the file is closed run after it is opened again', async () => {
    const dir = tempDataDir();
    cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const before = openDatabase(dir, 'normal', () => {});
    const queue = sqliteJobQueue(before.db);
    for (const key of ['a', 'b', 'c']) await queue.enqueue('work', key, { key }, Date.now());
    await before.close();

    const after = openDatabase(dir, 'normal', () => {});
    cleanup.push(() => after.close());
    const again = sqliteJobQueue(after.db);
    const ran: string[] = [];
    runner({
      queue: again,
      nodeId: 'local',
      handlers: { work: { run: async (job) => void ran.push(job.key) } },
    });
    await until(async () => (await again.count('work')) === 0, 'the jobs to run');
    expect(ran.sort()).toEqual(['a', 'b', 'c']);
  });
});
