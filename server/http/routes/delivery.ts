import { Hono, type Context } from 'hono';
import type { DeliveryEvent } from '#schema/api.ts';
import { AppError } from '#schema/errors.ts';
import { hashToken } from '../../domain/ids.ts';
import { RUNTIME_NAME } from '../../domain/runtime-reports.ts';
import type { AppDeps, AppEnv } from '../context.ts';
import { OpenPlaces } from '../open-places.ts';
import { op } from '../describe.ts';

/** A comment line this often keeps proxies from dropping an idle stream. */
const HEARTBEAT_MS = 25_000;
/** What EventSource waits before reconnecting (it then sends Last-Event-ID). */
const RETRY_MS = 3000;
/** Message ids remembered per environment (id → the ETag sent with it), for `Last-Event-ID` resumes. */
const REMEMBERED_IDS = 64;

type Answer = Awaited<ReturnType<AppDeps['localData']['delivery']>>;

/** `?wait=`: whole seconds, 1–60; absent: answer at once. */
function waitParam(v: string | undefined): number | null {
  if (v === undefined) return null;
  if (!/^[1-9][0-9]?$/.test(v) || Number(v) > 60)
    throw new AppError('invalid_body', '“wait” is a number of seconds from 1 to 60.');
  return Number(v);
}

const bearer = (c: Context<AppEnv>) =>
  /^Bearer\s+(\S+)$/i.exec(c.req.header('authorization') ?? '')?.[1];

/** `Stagecoach-Runtime: <instance name>` (asked after the key is checked); undefined when absent. */
function runtimeName(c: Context<AppEnv>): string | undefined {
  const name = c.req.header('stagecoach-runtime');
  if (name === undefined) return undefined;
  if (!RUNTIME_NAME.test(name))
    throw new AppError(
      'invalid_body',
      'Stagecoach-Runtime names this runtime instance: 1–64 letters, digits, ".", "_", ":" or "-".',
    );
  return name;
}

/** What every delivery answer says about itself (also on 304). */
const headersOf = (a: Answer) => ({
  ETag: a.etag,
  'Cache-Control': 'no-cache',
  'Stagecoach-Snapshot': a.snapshotId,
  'Stagecoach-Overlay-Revision': String(a.overlayRevision),
});

/**
 * The delivery API, authenticated by a runtime key of the environment (not by a user):
 * `GET /api/delivery/:envId` (`?snapshot=` pinned, `?wait=` long-poll with If-None-Match) and
 * `GET /api/delivery/:envId/events` (server-sent events). Waiting requests wake on the project's
 * event log (a Publish, Sync, rollback or a change of local data), never by polling; a wake-up
 * recomputes only the ETag.
 */
export function deliveryRoutes(deps: AppDeps) {
  const limits = deps.deliveryWaits;
  // Open waits (long-polls and streams) per runtime key, per project and in all.
  const waits = new OpenPlaces([
    {
      limit: 'DELIVERY_WAITS_PER_KEY',
      max: limits.perKey,
      message: (n) =>
        `This runtime key already has ${n} waiting requests: reuse one stream per runtime instance.`,
    },
    { limit: 'DELIVERY_WAITS_PER_PROJECT', max: limits.perProject },
    { limit: 'DELIVERY_WAITS', max: limits.perServer },
  ]);
  const encoder = new TextEncoder();
  /** Per environment: stream message id → the ETag sent with it ('' when two differed). */
  const sentIds = new Map<string, Map<number, string>>();
  const remember = (envId: string, id: number, etag: string) => {
    let ids = sentIds.get(envId);
    if (!ids) sentIds.set(envId, (ids = new Map()));
    const had = ids.get(id);
    ids.set(id, had === undefined || had === etag ? etag : '');
    if (ids.size > REMEMBERED_IDS) ids.delete(ids.keys().next().value!);
  };

  /**
   * One wake-up calls every waiter of the project in one synchronous loop: waiters of the same key,
   * environment and pin share one computation (each asks before its first await; the memo is
   * dropped right after the loop).
   */
  const wakeMemo = new Map<string, Promise<Answer>>();
  const readOnWake = (envId: string, key: string | undefined, pinned?: string): Promise<Answer> => {
    const id = `${envId}\n${pinned ?? ''}\n${key ?? ''}`;
    let hit = wakeMemo.get(id);
    if (!hit) {
      if (wakeMemo.size === 0) queueMicrotask(() => wakeMemo.clear());
      hit = deps.localData.delivery(envId, key, pinned);
      wakeMemo.set(id, hit);
    }
    return hit;
  };

  return new Hono<AppEnv>()
    .get(
      '/delivery/:envId',
      op({
        id: 'readDelivery',
        tag: 'Delivery',
        auth: 'runtime',
        summary: 'The environment’s published configuration, for a runtime',
        description:
          'With `wait` and `If-None-Match`: a long-poll that answers when the ETag changes or after `wait` seconds (304 when nothing changed). The snapshot id and overlay revision are also in the Stagecoach-Snapshot and Stagecoach-Overlay-Revision headers, with the ETag.',
        query: {
          snapshot: {
            description: 'A snapshot id: read that one (pinned) instead of the current one.',
          },
          wait: {
            description: 'Seconds (1–60) to wait for a change of the ETag in If-None-Match.',
            schema: { type: 'integer', minimum: 1, maximum: 60 },
          },
        },
        headers: {
          'If-None-Match': { description: 'The ETag the runtime has.' },
          'Stagecoach-Runtime': {
            description: 'This runtime instance’s name, for the runtimes list.',
          },
        },
        answers: { 200: 'DeliveryBody', 304: null },
        errors: [
          'environment_not_found',
          'snapshot_not_found',
          'too_many_connections',
          'nothing_live',
          'nothing_to_sync',
        ],
      }),
      async (c) => {
        const key = bearer(c);
        const envId = c.req.param('envId');
        const pinned = c.req.query('snapshot');
        const wait = waitParam(c.req.query('wait'));
        const read = async () => await deps.localData.delivery(envId, key, pinned);
        let answer = await read();
        const match = c.req.header('if-none-match');
        const matches = (etag: string) =>
          !!match && match.split(',').some((t) => t.trim() === etag);
        // What this runtime instance serves: what it was given, or confirmed it has (never for a pinned read).
        const name = pinned === undefined ? runtimeName(c) : undefined;
        const report = (a: Answer) =>
          name !== undefined && deps.localData.runtimes.report(envId, name, a.snapshotId);

        if (wait !== null && matches(answer.etag)) {
          const release = waits.take([hashToken(key!), answer.projectId, '']);
          report(answer);
          const signal = c.req.raw.signal;
          const first = answer;
          try {
            answer = await new Promise<Answer>((resolve, reject) => {
              let done = false;
              const finish = (fn: () => void) => {
                if (done) return;
                done = true;
                clearTimeout(timer);
                unsubscribe();
                signal.removeEventListener('abort', gone);
                fn();
              };
              /** Recomputes the ETag only; settles when it changed (or the answer became an error). */
              const check = async (always: boolean) => {
                try {
                  const next = always ? await read() : await readOnWake(envId, key, pinned);
                  if (always || !matches(next.etag)) finish(() => resolve(next));
                } catch (err) {
                  finish(() => reject(err as Error));
                }
              };
              // The client went away: its place is freed at once (nothing is sent).
              const gone = () => finish(() => resolve(first));
              const timer = setTimeout(() => void check(true), wait * 1000);
              const unsubscribe = deps.events.subscribe(first.projectId, () => void check(false));
              signal.addEventListener('abort', gone);
              if (signal.aborted) gone();
            });
          } finally {
            release();
          }
        }

        report(answer);
        const headers = headersOf(answer);
        if (matches(answer.etag)) return c.body(null, 304, headers);
        return c.body(await answer.body(), 200, { ...headers, 'Content-Type': 'application/json' });
      },
    )
    .get(
      '/delivery/:envId/events',
      op({
        id: 'streamDelivery',
        tag: 'Delivery',
        auth: 'runtime',
        summary: 'Server-sent events: a message each time the configuration changes',
        media: 'text/event-stream',
        query: {
          lastEventId: {
            description:
              'Resume after this message id (for clients that cannot send Last-Event-ID).',
          },
        },
        headers: {
          'Last-Event-ID': { description: 'Resume after this message id.' },
          'Stagecoach-Runtime': {
            description: 'This runtime instance’s name, for the runtimes list.',
          },
        },
        answers: { 200: 'DeliveryEvent' },
        errors: ['environment_not_found', 'too_many_connections'],
      }),
      async (c) => {
        const key = bearer(c);
        const envId = c.req.param('envId');
        const read = async () => await deps.localData.delivery(envId, key);
        const opened = await read();
        const name = runtimeName(c);
        const release = waits.take([hashToken(key!), opened.projectId, '']);
        const lastEventId = c.req.header('last-event-id') ?? c.req.query('lastEventId') ?? '';
        // An id past the log's end was never sent: treated like no id (ids stay the log's seqs).
        const given = /^\d{1,15}$/.test(lastEventId) ? Number(lastEventId) : null;
        const resumedFrom = given !== null && given <= (await deps.events.lastSeq()) ? given : null;
        /** The ETag this client has (from its Last-Event-ID, when this process sent that id). */
        let seen = resumedFrom === null ? null : sentIds.get(envId)?.get(resumedFrom) || null;
        let lastId = resumedFrom ?? 0;

        let controller!: ReadableStreamDefaultController<Uint8Array>;
        const outgoing = (c.env as { outgoing?: { destroy(): void } } | undefined)?.outgoing;
        let closed = false;
        const cleanups: (() => void)[] = [release];
        if (name !== undefined) cleanups.push(deps.localData.runtimes.connect(envId, name));

        function end(dropUnsent: boolean): void {
          if (closed) return;
          closed = true;
          for (const fn of cleanups.splice(0)) fn();
          try {
            if (dropUnsent && outgoing) outgoing.destroy();
            else if (dropUnsent) controller.error(new Error('delivery stream dropped'));
            else controller.close();
          } catch {
            // already closed by the client
          }
        }

        function send(text: string): void {
          if (closed) return;
          controller.enqueue(encoder.encode(text));
          // A runtime that stopped reading: dropped (messages are small; it resumes by Last-Event-ID).
          if ((controller.desiredSize ?? 0) <= 0) end(true);
        }

        /** Sends what is delivered now when it differs from what the client has; ends on a refusal. */
        async function update(answer?: Answer): Promise<void> {
          if (closed) return;
          let a: Answer;
          try {
            a = answer ?? (await readOnWake(envId, key));
          } catch {
            // The key was deleted, the environment removed, or nothing is served any more.
            return end(false);
          }
          if (a.etag === seen) return;
          seen = a.etag;
          lastId = Math.max(lastId, await deps.events.lastSeq());
          remember(envId, lastId, a.etag);
          const data: DeliveryEvent = {
            etag: a.etag,
            snapshotId: a.snapshotId,
            overlayRevision: a.overlayRevision,
            publishedAt: await a.publishedAt(),
          };
          send(`id: ${lastId}\ndata: ${JSON.stringify(data)}\n\n`);
        }

        const stream = new ReadableStream<Uint8Array>(
          {
            start(ctl) {
              controller = ctl;
            },
            cancel() {
              end(false);
            },
          },
          new ByteLengthQueuingStrategy({ highWaterMark: 64 * 1024 }),
        );

        try {
          // The runtime went away: its place is freed at once (not at the next write).
          const signal = c.req.raw.signal;
          const gone = () => end(false);
          signal.addEventListener('abort', gone);
          cleanups.push(() => signal.removeEventListener('abort', gone));
          cleanups.push(deps.events.subscribe(opened.projectId, () => void update()));
          const heartbeat = setInterval(() => send(': keep-alive\n\n'), HEARTBEAT_MS);
          heartbeat.unref();
          cleanups.push(() => clearInterval(heartbeat));
          send(`retry: ${RETRY_MS}\n\n: live\n\n`);
          await update(opened);
        } catch (err) {
          end(false);
          throw err;
        }

        return new Response(stream, {
          headers: {
            'content-type': 'text/event-stream; charset=utf-8',
            'cache-control': 'no-cache, no-store, no-transform',
            'x-accel-buffering': 'no',
            'stagecoach-snapshot': opened.snapshotId,
            'stagecoach-overlay-revision': String(opened.overlayRevision),
          },
        });
      },
    );
}
