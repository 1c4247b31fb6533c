import type { Async } from '../store/port.ts';
import type { ClaimedJob, JobStore } from '../store/jobs.ts';

export type { ClaimedJob };

/**
 * The job queue port (PG-80): work that must happen once, whichever process runs it. SQLite
 * (server/store/jobs.ts, one process) and PostgreSQL (server/store/pg/jobs.ts, several) answer
 * alike. `enqueue` joins the caller's transaction, so a job exists exactly when its change does.
 */
export type JobQueue = Async<JobStore>;

/**
 * How the domain asks for work (PG-120): `enqueue` inside the change's transaction, so a refused
 * change asks for nothing; `wake` after it committed, so this process's runner looks at once.
 */
export interface JobSink {
  enqueue: JobQueue['enqueue'];
  wake(): void;
}

/** What a runner does with one kind of job. */
export interface JobHandler {
  /**
   * Does the work; resolving completes the job, throwing retries it after a backoff, and
   * resolving `{ retryAt }` retries it then (a schedule of the kind's own, as webhooks have; it
   * counts as an attempt too). `signal` aborts when the claim is lost (another node may now run
   * the job) or the runner stops: stop early then by throwing (`signal.throwIfAborted()`), since
   * resolving says the work is done.
   */
  run(job: ClaimedJob, signal: AbortSignal): Promise<void | { retryAt: number }>;
  /** Claims before the job is dropped and logged (PG-85); a claimer that died counts. Default 8. */
  maxAttempts?: number;
}

/** Bounds of a runner (PG-84). */
export const JOB_CONCURRENCY_MAX = 64;
export const JOB_ATTEMPTS_DEFAULT = 8;
/** The longest wait between retries of a failing job (PG-85). */
export const JOB_BACKOFF_MAX_MS = 10 * 60 * 1000;

export interface JobRunnerOptions {
  queue: JobQueue;
  /** This process in claims (NODE_ID). */
  nodeId: string;
  handlers: Readonly<Record<string, JobHandler>>;
  /** Jobs running at once in this process (1 … 64; default 4). Also the most one claim takes. */
  concurrency?: number;
  /** How long a claim lasts unless extended; a dead claimer's jobs run again after it. */
  claimMs?: number;
  /** How often the runner looks for jobs other processes enqueued (a local enqueue calls wake). */
  pollMs?: number;
  /** The first retry's wait; each next one doubles, up to JOB_BACKOFF_MAX_MS (PG-85). */
  retryBaseMs?: number;
  log: (msg: string, err?: unknown) => void;
}

export interface JobRunner {
  /** Looks for due jobs now (after a local enqueue has committed). */
  wake(): void;
  /**
   * Claims nothing more, aborts running handlers and waits for them to settle; what they did not
   * finish goes back due now, for another runner (PG-88).
   */
  stop(): Promise<void>;
}

const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * Polls and claims jobs of the handled kinds, runs them with a concurrency cap, extends the claims
 * of long handlers, and completes, retries with backoff or drops each one (PG-83, PG-85, PG-86).
 */
export function startJobRunner(o: JobRunnerOptions): JobRunner {
  const concurrency = Math.min(Math.max(Math.floor(o.concurrency ?? 4), 1), JOB_CONCURRENCY_MAX);
  const claimMs = o.claimMs ?? 30_000;
  // Never a hot loop, whatever it is given.
  const pollMs = Math.max(o.pollMs ?? 1000, 10);
  const retryBaseMs = o.retryBaseMs ?? 1000;
  const kinds = Object.keys(o.handlers);
  const inFlight = new Map<string, { settled: Promise<void>; abort: AbortController }>();
  let stopped = false;
  let ticking = false;
  let again = false;
  let timer: NodeJS.Timeout | null = null;

  function rearm(ms: number): void {
    if (timer) clearTimeout(timer);
    timer = stopped ? null : setTimeout(tick, ms);
    timer?.unref();
  }

  /** The claim loop running now, if any (stop waits for it). */
  let claiming: Promise<void> = Promise.resolve();
  function tick(): void {
    if (stopped) return;
    // One claim loop at a time: a wake-up during one claims again right after it.
    if (ticking) {
      again = true;
      return;
    }
    ticking = true;
    claiming = claimLoop();
  }

  async function claimLoop(): Promise<void> {
    try {
      do {
        again = false;
        const room = concurrency - inFlight.size;
        if (room <= 0) break;
        const claimed = await o.queue.claim(o.nodeId, kinds, room, claimMs);
        // Stopped during the claim: the jobs go back at once, not after the claim's expiry.
        if (stopped) {
          for (const job of claimed) await o.queue.release(job.id, job.claimToken);
          break;
        }
        for (const job of claimed) start(job);
        if (claimed.length === room) again = true;
      } while (again && !stopped);
    } catch (err) {
      o.log(`jobs: claiming failed on ${o.nodeId}; trying again in ${pollMs} ms`, err);
    } finally {
      ticking = false;
    }
    rearm(pollMs);
  }

  function start(job: ClaimedJob): void {
    const abort = new AbortController();
    // By claim, not job: a job whose claim ran out under this runner may be claimed here again.
    const claim = `${job.id} ${job.claimToken}`;
    const settled = runOne(job, abort)
      .catch((err: unknown) => o.log(`jobs: settling ${job.kind} ${job.id} failed`, err))
      .finally(() => {
        inFlight.delete(claim);
        wake();
      });
    inFlight.set(claim, { settled, abort });
  }

  async function runOne(job: ClaimedJob, abort: AbortController): Promise<void> {
    const handler = o.handlers[job.kind]!;
    const max = handler.maxAttempts ?? JOB_ATTEMPTS_DEFAULT;
    const drop = async (why: string) => {
      // Logged by kind, key and id only: a payload may name what a user made.
      if (await o.queue.complete(job.id, job.claimToken))
        o.log(
          `jobs: ${job.kind} ${job.key} (${job.id}) dropped after ${job.attempts} attempts: ${why}`,
        );
    };
    // A claimer that died mid-run counts as an attempt too: a job that crashes its process stops.
    if (job.attempts > max) return drop('its claimers kept dying');
    // Extends the claim while the handler runs; a claim found lost aborts the handler.
    const beat = setInterval(
      () =>
        void o.queue.extend(job.id, job.claimToken, claimMs).then(
          (ours) => ours || abort.abort(new Error('claim lost')),
          (err: unknown) => o.log(`jobs: extending the claim of ${job.id} failed`, err),
        ),
      Math.max(Math.floor(claimMs / 3), 1),
    );
    beat.unref();
    let ok = true;
    let failure: unknown;
    let retryAt: number | undefined;
    try {
      retryAt = (await handler.run(job, abort.signal))?.retryAt;
    } catch (err) {
      ok = false;
      failure = err;
    } finally {
      clearInterval(beat);
    }
    if (ok && retryAt === undefined) {
      if (!(await o.queue.complete(job.id, job.claimToken)))
        o.log(`jobs: ${job.kind} ${job.id} finished after its claim was lost`);
      return;
    }
    if (ok) {
      if (job.attempts >= max) return drop('its own retries ran out');
      await o.queue.retry(job.id, job.claimToken, retryAt!);
      return;
    }
    // Stopping: back at once for the next runner, the interrupted run not counted (PG-88).
    if (stopped) {
      await o.queue.release(job.id, job.claimToken);
      return;
    }
    if (job.attempts >= max) return drop(messageOf(failure));
    const wait =
      Math.min(retryBaseMs * 2 ** (job.attempts - 1), JOB_BACKOFF_MAX_MS) *
      (0.8 + Math.random() * 0.4);
    o.log(
      `jobs: ${job.kind} ${job.key} (${job.id}) failed, retry in ${Math.round(wait)} ms`,
      failure,
    );
    await o.queue.retry(job.id, job.claimToken, Date.now() + Math.round(wait));
  }

  let wakeQueued = false;
  function wake(): void {
    if (stopped || wakeQueued) return;
    wakeQueued = true;
    setImmediate(() => {
      wakeQueued = false;
      tick();
    });
  }

  wake();
  return {
    wake,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = null;
      await claiming;
      for (const { abort } of inFlight.values()) abort.abort(new Error('stopping'));
      await Promise.all([...inFlight.values()].map((f) => f.settled));
    },
  };
}
