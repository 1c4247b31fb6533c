import { Hono } from 'hono';
import type { Principal } from '../../domain/accounts.ts';
import { eventView } from '../../domain/events.ts';
import type { AppDeps, AppEnv } from '../context.ts';
import { OpenPlaces } from '../open-places.ts';
import { op } from '../describe.ts';

/** Events read from the log per query; a resume far behind reads several batches, yielding between them. */
const BATCH = 500;
/**
 * A resume further behind than this many of the project's events is a `reset` (the page refetches
 * everything): each connection would otherwise replay up to a week of the log, and reconnecting
 * costs a client nothing (SEC-28).
 */
export const MAX_RESUME_EVENTS = 1000;
/** A comment line this often keeps proxies and the browser from dropping an idle stream. */
const HEARTBEAT_MS = 25_000;
/** What EventSource waits before reconnecting (it then sends Last-Event-ID). */
const RETRY_MS = 3000;

/**
 * Where a stream starts: after `Last-Event-ID` (header, or `?lastEventId=` for clients that cannot
 * set headers), else at the newest event. A resume from before the oldest kept event, from an id
 * this log never had, from more than MAX_RESUME_EVENTS of the project's events behind, or from
 * something that is not an id starts at the newest with a `reset`:
 * the page refetches everything.
 */
async function startOf(
  given: string | undefined,
  events: AppDeps['events'],
  projectId: string,
): Promise<{ cursor: number; reset: boolean }> {
  const last = await events.lastSeq();
  if (given === undefined || given === '') return { cursor: last, reset: false };
  if (!/^\d{1,15}$/.test(given)) return { cursor: last, reset: true };
  const id = Number(given);
  const first = await events.firstSeq();
  if (id > last || (first > 0 && id < first - 1)) return { cursor: last, reset: true };
  if ((await events.after(projectId, id, MAX_RESUME_EVENTS + 1)).length > MAX_RESUME_EVENTS)
    return { cursor: last, reset: true };
  return { cursor: id, reset: false };
}

/**
 * `GET /api/projects/:id/events`: the project's server-sent event stream. Thin events (what
 * changed, in which stage, when), read from the log on each wake-up; each person gets only what
 * they may see, with rights re-checked on every wake. Unnamed messages (`id:` seq, `data:` the
 * ProjectEventView); one named `reset` when a resume cannot be served.
 */
export function eventRoutes(deps: AppDeps) {
  const limits = deps.eventStreams;
  // Open streams per person, per project and in all.
  const open = new OpenPlaces([
    {
      limit: 'EVENT_STREAMS_PER_USER',
      max: limits.perUser,
      message: (n) =>
        `You have ${n} live project pages open: close some tabs, then reload this one.`,
    },
    { limit: 'EVENT_STREAMS_PER_PROJECT', max: limits.perProject },
    { limit: 'EVENT_STREAMS', max: limits.perServer },
  ]);
  const encoder = new TextEncoder();

  return new Hono<AppEnv>().get(
    '/projects/:id/events',
    op({
      id: 'streamProjectEvents',
      tag: 'Events',
      summary: 'Server-sent events: what changes in a project',
      media: 'text/event-stream',
      query: {
        lastEventId: {
          description: 'Resume after this event id (for clients that cannot send Last-Event-ID).',
        },
      },
      headers: { 'Last-Event-ID': { description: 'Resume after this event id.' } },
      answers: { 200: 'ProjectEventView' },
      errors: ['project_not_found', 'too_many_connections'],
    }),
    async (c) => {
      const p: Principal = c.get('principal');
      const projectId = c.req.param('id');
      await deps.access.requireMember(p, projectId);
      const release = open.take([p.user.id, projectId, '']);
      const start = await startOf(
        c.req.header('last-event-id') ?? c.req.query('lastEventId'),
        deps.events,
        projectId,
      );
      let cursor = start.cursor;

      let controller!: ReadableStreamDefaultController<Uint8Array>;
      /** The Node response, when served by @hono/node-server (not under `app.request()`). */
      const outgoing = (c.env as { outgoing?: { destroy(): void } } | undefined)?.outgoing;
      let closed = false;
      let pumping = false;
      let again = false;
      const cleanups: (() => void)[] = [release];

      function end(dropUnsent: boolean): void {
        if (closed) return;
        closed = true;
        for (const fn of cleanups.splice(0)) fn();
        try {
          // Dropped: the connection goes at once, its queue with it (served by Node: the response
          // itself; else the stream fails).
          if (dropUnsent && outgoing) outgoing.destroy();
          else if (dropUnsent) controller.error(new Error('event stream dropped'));
          else controller.close();
        } catch {
          // already closed by the client
        }
      }

      /** Queues a frame; false (and the stream dropped) when the client stopped reading. */
      function send(text: string): boolean {
        if (closed) return false;
        controller.enqueue(encoder.encode(text));
        if ((controller.desiredSize ?? 0) <= 0) {
          deps.log(
            `event stream of project ${projectId}: dropped a client that stopped reading (over ${deps.eventStreams.maxBufferedBytes} bytes unsent)`,
          );
          end(true);
          return false;
        }
        return true;
      }

      /** Still a member? (removed, or the project gone: the stream ends). */
      async function allowed(): Promise<boolean> {
        try {
          await deps.access.requireMember(p, projectId);
          return true;
        } catch {
          return false;
        }
      }

      /** A project admin? (the invitations' events are theirs only). */
      const isAdmin = async (): Promise<boolean> => await deps.access.isProjectAdmin(p, projectId);

      /** Sends every event after the cursor the person may see, reading the log (never memory). */
      async function pump(): Promise<void> {
        if (pumping) {
          again = true;
          return;
        }
        pumping = true;
        try {
          do {
            again = false;
            for (;;) {
              if (closed) return;
              // The rows first, then the rights: a change of rights commits with its event, so
              // rights read after the rows are at least as new as every row read. Read the other
              // way round (a PostgreSQL pool, where a removal can commit between two reads), a
              // removed member was sent the event of their own removal (REV-63).
              const rows = await deps.events.after(projectId, cursor, BATCH);
              if (!(await allowed())) return end(false);
              const readable = await deps.visibility.readable(p, projectId);
              // Invitations are listed to project admins only: so are their events (SEC-31).
              const admin = await isAdmin();
              let frames = '';
              for (const row of rows) {
                cursor = row.seq;
                if (row.recipientId !== null && row.recipientId !== p.user.id) continue;
                if (row.environmentId !== null && !readable.has(row.environmentId)) continue;
                if (row.kind === 'invitation' && !admin) continue;
                frames += `id: ${row.seq}\ndata: ${JSON.stringify(eventView(row))}\n\n`;
              }
              if (frames && !send(frames)) return;
              if (rows.length < BATCH) break;
              // A long resume: let other work run between batches.
              await new Promise((resolve) => setImmediate(resolve));
            }
          } while (again);
        } catch (err) {
          deps.log(`event stream of project ${projectId} failed`, err);
          end(false);
        } finally {
          pumping = false;
        }
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
        new ByteLengthQueuingStrategy({ highWaterMark: deps.eventStreams.maxBufferedBytes }),
      );

      try {
        // Ends with the sign-in that opened it (sign-out, revocation, expiry, the account removed).
        cleanups.push(deps.credentials.open(p.credential, p.user.id, () => end(false), allowed));
        cleanups.push(deps.events.subscribe(projectId, () => void pump()));
        const heartbeat = setInterval(() => send(': keep-alive\n\n'), HEARTBEAT_MS);
        heartbeat.unref();
        cleanups.push(() => clearInterval(heartbeat));
        send(`retry: ${RETRY_MS}\n\n`);
        if (start.reset) send(`id: ${cursor}\nevent: reset\ndata: {}\n\n`);
        else send(': live\n\n');
        void pump();
      } catch (err) {
        end(false);
        throw err;
      }

      return new Response(stream, {
        headers: {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-cache, no-store, no-transform',
          'x-accel-buffering': 'no',
        },
      });
    },
  );
}
