import { spawn } from 'node:child_process';
import fs from 'node:fs';
import readline from 'node:readline';
import { describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import type { ProjectView, ScheduledResult } from '#schema/api.ts';
import { environments, projectEvents, projects } from '#schema/db/pg-tables.ts';
import { addItem } from '#schema/content/ydoc.ts';
import { startJobRunner, type JobRunnerOptions, type JobSink } from '#server/cluster/jobs.ts';
import { createProjectEvents } from '#server/domain/events.ts';
import { REPLICATE_JOB } from '#server/domain/replication.ts';
import type { Releases } from '#server/domain/releases.ts';
import { createSchedule, SCHEDULED_JOB } from '#server/domain/schedule.ts';
import type { Postgres } from '#server/store/pg/db.ts';
import { createPgEventStore } from '#server/store/pg/events.ts';
import { createPgJobStore } from '#server/store/pg/jobs.ts';
import { createPgScheduleStore } from '#server/store/pg/schedule.ts';
import type { ScheduledRow } from '#server/store/schedule.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { overTheWire } from '../helpers/fixture.ts';
import { postgresPerFile } from '../helpers/pg-per-file.ts';
import { exited } from '../helpers/process.ts';
import { setupAdmin, testServer, type TestServer } from '../helpers/server.ts';

const cleanup = cleanupAfterEach();
const postgres = postgresPerFile(cleanup);

/** Polls `check` until it holds (a deadline: rows another runner deletes raise no event here). */
async function until(check: () => boolean | Promise<boolean>, what: string, ms = 20_000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The job rows of a kind in a running server's SQLite file. */
const jobsOf = (server: TestServer, kind: string) =>
  server.sqlite
    .prepare('SELECT key, run_at AS runAt FROM jobs WHERE kind = ? ORDER BY key')
    .all(kind) as { key: string; runAt: number }[];

describe('jobs wired on SQLite, through the real server', () => {
  it('PG-120 PG-122: a scheduled release is one job due at its time, enqueued with the row (or by the migration for an older row); a refused one enqueues nothing; a cancelled one runs as a job that moves nothing', async () => {
    const server = await testServer(cleanup);
    const admin = await setupAdmin(server.url);
    const api = overTheWire(server.url, admin.token);
    const { body: project } = await api.call<ProjectView>('POST', '/api/projects', {
      name: 'Jobs',
      preset: 'five-stage',
    });
    const dev = project.environments[0]!;
    // Refused inside the change's transaction (production holds nothing to publish): no row, no job.
    const refused = await api.call<{ error: { id: string } }>(
      'POST',
      `/api/environments/${project.environments[4]!.id}/publish`,
      { at: new Date(Date.now() + 60_000).toISOString() },
    );
    expect(refused.body.error.id).toBe('nothing_to_publish');
    expect(jobsOf(server, SCHEDULED_JOB)).toEqual([]);

    const at = Date.now() + 60_000;
    const { status, body } = await api.call<ScheduledResult>(
      'POST',
      `/api/environments/${dev.id}/sync`,
      { at: new Date(at).toISOString() },
    );
    expect(status).toBe(202);
    expect(jobsOf(server, SCHEDULED_JOB)).toEqual([{ key: body.scheduled.id, runAt: at }]);

    // A row stored before the job table had none: the migration gives it its job (once).
    server.sqlite.prepare('DELETE FROM jobs WHERE kind = ?').run(SCHEDULED_JOB);
    const migration = fs.readFileSync('server/store/migrations/0019_scheduled_jobs.sql', 'utf8');
    for (let i = 0; i < 2; i++) server.sqlite.exec(migration);
    expect(jobsOf(server, SCHEDULED_JOB)).toEqual([{ key: body.scheduled.id, runAt: at }]);

    // Due soon, then cancelled: its job runs and finds nothing to do; nothing moved.
    const soon = await api.call<ScheduledResult>('POST', `/api/environments/${dev.id}/sync`, {
      at: new Date(Date.now() + 400).toISOString(),
    });
    expect(soon.status).toBe(202);
    expect((await api.call('DELETE', `/api/scheduled/${soon.body.scheduled.id}`)).status).toBe(204);
    await until(
      () => !jobsOf(server, SCHEDULED_JOB).some((j) => j.key === soon.body.scheduled.id),
      'the cancelled one’s job to run',
    );
    const { body: after } = await api.call<ScheduledResult>(
      'GET',
      `/api/scheduled/${soon.body.scheduled.id}`,
    );
    expect(after.scheduled.state).toBe('cancelled');
    const { body: history } = await api.call<{ history: unknown[] }>(
      'GET',
      `/api/environments/${project.environments[1]!.id}/history`,
    );
    expect(history.history).toEqual([]);
  });

  it('PG-121: replication is one job per project: created with the project, a burst of draft changes keeps the one row and its time (the first wins), and it runs after a restart', async () => {
    const first = await testServer(cleanup, { REPLICATION_DELAY_MS: '60000' });
    const admin = await setupAdmin(first.url);
    const { body: project } = await overTheWire(first.url, admin.token).call<ProjectView>(
      'POST',
      '/api/projects',
      { name: 'Burst', preset: 'three-stage' },
    );
    const [queued] = jobsOf(first, REPLICATE_JOB);
    expect(queued).toMatchObject({ key: project.id });
    const production = project.environments[2]!;
    for (let i = 0; i < 20; i++)
      expect(
        await first.rooms.edit(production.draftId!, 'test', (doc) =>
          addItem(doc, 'knowledge', { title: `Burst ${i}`, body: 'x' }),
        ),
      ).toBe(true);
    expect(jobsOf(first, REPLICATE_JOB)).toEqual([queued]);
    await first.close();

    // Started again with a short delay: the start asks again, which only brings the one row earlier.
    const second = await testServer(cleanup, { REPLICATION_DELAY_MS: '10' }, first.dataDir);
    await until(() => jobsOf(second, REPLICATE_JOB).length === 0, 'the replication job to run');
    const { body: uat } = await overTheWire(second.url, admin.token).call<{
      knowledge: Record<string, { title: string }>;
    }>('GET', `/api/environments/${project.environments[1]!.id}/content`);
    expect(Object.values(uat.knowledge).filter((a) => a.title.startsWith('Burst'))).toHaveLength(
      20,
    );
  });
});

/** A project and its production environment on PostgreSQL, for scheduled rows to point at. */
async function seedProject(pgx: Postgres): Promise<void> {
  const t = Date.now();
  await pgx
    .db()
    .insert(projects)
    .values({ id: 'p1', name: 'p1', preset: 'x', createdBy: 'u', createdAt: t });
  await pgx.db().insert(environments).values({
    id: 'p1-prod',
    projectId: 'p1',
    name: 'Prod',
    kind: 'prod',
    position: 0,
    color: 'red',
  });
}

const pending = (id: string, at: number): ScheduledRow => ({
  id,
  projectId: 'p1',
  environmentId: 'p1-prod',
  kind: 'publish',
  snapshotId: 'snap',
  expectedTargetSnapshotId: null,
  at,
  createdBy: 'gone',
  message: null,
  confirmMissingSecrets: false,
  confirmUndoHotfix: false,
  state: 'pending',
  errorId: null,
  errorMessage: null,
  releaseSeq: null,
  createdAt: at,
  finishedAt: null,
});

/**
 * The scheduled releases of one process on `pgx` (its own pool). The scheduler's account is gone,
 * so each run ends `failed` (forbidden) with one `schedule` event: a second run would show as a
 * second event. The move itself is never reached.
 */
function scheduleOn(pgx: Postgres) {
  const queue = createPgJobStore(pgx);
  const jobs: JobSink = { enqueue: queue.enqueue, wake: () => {} };
  const notReached = new Proxy({} as Releases, {
    get: () => {
      throw new Error('not reached: the scheduler is gone');
    },
  });
  const schedule = createSchedule({
    store: createPgScheduleStore(pgx),
    releases: notReached,
    atomically: pgx.atomically,
    emit: createProjectEvents(createPgEventStore(pgx)).emit,
    principalOf: async () => null,
    authorize: async () => {},
    log: () => {},
    jobs,
  });
  return { queue, schedule, jobs };
}

function runner(o: Omit<JobRunnerOptions, 'log'>) {
  const r = startJobRunner({ pollMs: 20, log: () => {}, ...o });
  cleanup.push(() => r.stop());
  return r;
}

/** `schedule` events per scheduled id. */
async function announced(pgx: Postgres): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const e of await pgx
    .db()
    .select()
    .from(projectEvents)
    .where(eq(projectEvents.kind, 'schedule'))) {
    const s = e.subject as { scheduledId: string; state: string };
    (out[s.scheduledId] ??= []).push(s.state);
  }
  return out;
}

describe('jobs wired on PostgreSQL', () => {
  it('PG-120 PG-122: 30 due scheduled releases under two runners (two pools, as two processes) each run once; a change that rolls back leaves no job', async () => {
    const pgx = postgres.pgx;
    await seedProject(pgx);
    const a = scheduleOn(pgx);
    const b = scheduleOn(await postgres.otherProcess());
    const t = Date.now();
    const store = createPgScheduleStore(pgx);
    const ids = Array.from({ length: 30 }, (_, i) => `sch_${String(i).padStart(2, '0')}`);
    for (const id of ids)
      await pgx.atomically(async () => {
        await store.insert(pending(id, t));
        await a.jobs.enqueue(SCHEDULED_JOB, id, null, t);
      });
    await expect(
      pgx.atomically(async () => {
        await store.insert(pending('sch_refused', t));
        await a.jobs.enqueue(SCHEDULED_JOB, 'sch_refused', null, t);
        throw new Error('refused');
      }),
    ).rejects.toThrow('refused');
    expect(await a.queue.count(SCHEDULED_JOB)).toBe(30);

    for (const [name, s] of [
      ['a', a],
      ['b', b],
    ] as const)
      runner({
        queue: s.queue,
        nodeId: name,
        concurrency: 4,
        handlers: { [SCHEDULED_JOB]: s.schedule.job },
      });
    await until(async () => (await a.queue.count(SCHEDULED_JOB)) === 0, 'every job to run');
    expect(await announced(pgx)).toEqual(Object.fromEntries(ids.map((id) => [id, ['failed']])));
    for (const id of ids)
      expect(await store.get(id)).toMatchObject({ state: 'failed', errorId: 'forbidden' });
    expect(await store.get('sch_refused')).toBeUndefined();
  });

  it('PG-120: a runner killed (SIGKILL) holding a scheduled release’s job — another runs it after the claim expires, once', async () => {
    const pgx = postgres.pgx;
    await seedProject(pgx);
    const a = scheduleOn(pgx);
    const t = Date.now();
    await pgx.atomically(async () => {
      await createPgScheduleStore(pgx).insert(pending('sch_doomed', t));
      await a.jobs.enqueue(SCHEDULED_JOB, 'sch_doomed', null, t);
    });
    const child = spawn(
      process.execPath,
      [
        'test/helpers/job-claimer.ts',
        pgx.pool.options.connectionString!,
        'doomed',
        '1500',
        SCHEDULED_JOB,
      ],
      { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    cleanup.push(() => child.kill('SIGKILL'));
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const lines = readline.createInterface({ input: child.stdout! });
    const startedLine = await new Promise<string>((resolve, reject) => {
      lines.once('line', resolve);
      child.once('exit', (code) => reject(new Error(`claimer exited with ${code}: ${stderr}`)));
    });
    const stale = JSON.parse(startedLine) as { started: string; token: string };
    child.kill('SIGKILL');
    expect((await exited(child)).signal).toBe('SIGKILL');

    const b = scheduleOn(await postgres.otherProcess());
    runner({ queue: b.queue, nodeId: 'survivor', handlers: { [SCHEDULED_JOB]: b.schedule.job } });
    await until(async () => (await a.queue.count(SCHEDULED_JOB)) === 0, 'the survivor to run it');
    expect(await a.queue.complete(stale.started, stale.token)).toBe(false);
    expect(await announced(pgx)).toEqual({ sch_doomed: ['failed'] });
    expect(await createPgScheduleStore(pgx).get('sch_doomed')).toMatchObject({
      state: 'failed',
      errorId: 'forbidden',
    });
  });

  it('PG-122: the migration gives each pending scheduled release stored before the job table its job (due at its time), and none to a finished one', async () => {
    const pgx = postgres.pgx;
    await seedProject(pgx);
    const store = createPgScheduleStore(pgx);
    const at = Date.now() + 60_000;
    await store.insert(pending('sch_old', at));
    await store.insert({ ...pending('sch_done', at), state: 'done' });
    const sql = fs.readFileSync('server/store/pg-migrations/0003_scheduled_jobs.sql', 'utf8');
    // Run twice: a second run adds nothing.
    for (let i = 0; i < 2; i++) await pgx.pool.query(sql);
    const { rows } = await pgx.pool.query<{ key: string; run_at: string }>(
      'SELECT key, run_at FROM jobs WHERE kind = $1',
      [SCHEDULED_JOB],
    );
    expect(rows.map((r) => [r.key, Number(r.run_at)])).toEqual([['sch_old', at]]);
  });
});
