import type { ProjectEventKind, ProjectEventView } from '#schema/api.ts';
import type { EventStore, ProjectEventRow } from '../store/events.ts';
import type { Transactor } from '../store/port.ts';

/** What a change announces. `subject`: ids for reactors (never content or secrets). */
export interface NewProjectEvent {
  projectId: string;
  environmentId: string | null;
  kind: ProjectEventKind;
  actorId: string | null;
  /** Only this person sees it (their notification). */
  recipientId?: string | null;
  subject?: Record<string, unknown>;
}

/** Records an event; the domain modules receive it as a dependency and call it inside the change's transaction. */
export type Emit = (e: NewProjectEvent) => Promise<unknown>;

/** Runs `fn` in one transaction (PG-11): every store call inside it commits, or none. */
export type Atomically = Transactor['atomically'];

/**
 * A change and its event in one transaction: `fn` writes, then `event` (from its result) is
 * emitted; a refusal thrown by `fn` writes neither.
 */
export function announcer(atomically: Atomically, emit: Emit) {
  return async <R>(
    fn: () => Promise<R>,
    event: (result: R) => NewProjectEvent | Promise<NewProjectEvent>,
  ): Promise<R> =>
    await atomically(async () => {
      const result = await fn();
      await emit(await event(result));
      return result;
    });
}

/** Runs inside `emit`, in the caller's transaction: what it writes commits or rolls back with the change. */
export type Reactor = (event: ProjectEventRow) => Promise<void>;

/** Wake-ups of one project's readers: a burst of WAKE_BURST at once, then at most one per WAKE_GAP_MS (SEC-27). */
export const WAKE_BURST = 20;
export const WAKE_GAP_MS = 100;

/** How long events are kept for `Last-Event-ID` resumes; older ones are pruned (a resume past them refetches everything). */
export const EVENT_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;

/**
 * One ordered log of what changed in each project, written in the same transaction as the change
 * (`emit`), read by the event stream from the database (`after`), never from memory: an event
 * whose change rolled back is never seen, and any process sharing the database reads the same
 * log. `subscribe` only wakes readers (after the current task, so the change has committed);
 * with several processes the wake-up travels by Redis (several processes, SCALE-OUT) and readers read the table.
 */
export function createProjectEvents(
  store: EventStore,
  now: () => number = Date.now,
  /**
   * Announces an emitted event instead of waking this process's readers directly (PG-111): the
   * server publishes it on the bus after the change commits, and every process's listener calls
   * `wake`. Absent, `emit` wakes this process's readers itself.
   */
  announce?: (projectId: string) => void,
) {
  const reactors: Reactor[] = [];
  const listeners = new Map<string, Set<() => void>>();
  const woken = new Set<string>();
  /** Wake-ups each project may still have at once (a token bucket of WAKE_BURST, one more per WAKE_GAP_MS). */
  const budget = new Map<string, { tokens: number; at: number }>();

  /**
   * Wakes the project's readers after the current task. Each wake-up reads the log once per open
   * stream and waiting request: past a burst of WAKE_BURST, a project's readers are woken at most
   * once per WAKE_GAP_MS (what was emitted meanwhile is read by that one wake-up), so a storm of
   * events costs a bounded number of reads (SEC-27).
   */
  function wake(projectId: string): void {
    if (woken.has(projectId)) return;
    woken.add(projectId);
    const t = performance.now();
    const b = budget.get(projectId) ?? { tokens: WAKE_BURST, at: t };
    b.tokens = Math.min(WAKE_BURST, b.tokens + (t - b.at) / WAKE_GAP_MS) - 1;
    b.at = t;
    budget.set(projectId, b);
    const fire = () => {
      woken.delete(projectId);
      for (const fn of listeners.get(projectId) ?? []) fn();
    };
    if (b.tokens >= 0) setImmediate(fire);
    else setTimeout(fire, Math.ceil(-b.tokens * WAKE_GAP_MS)).unref();
  }

  return {
    /** Records an event; call it inside the change's transaction. */
    async emit(e: NewProjectEvent): Promise<ProjectEventRow> {
      const row = await store.insert({
        projectId: e.projectId,
        environmentId: e.environmentId,
        kind: e.kind,
        actorId: e.actorId,
        recipientId: e.recipientId ?? null,
        subject: e.subject ?? {},
        createdAt: now(),
      });
      for (const react of reactors) await react(row);
      (announce ?? wake)(e.projectId);
      return row;
    },
    /** Wakes this process's readers of the project (rate-limited, SEC-27): a peer's event, a resync. */
    wake,
    /** The projects someone in this process reads now (the resync wakes each once). */
    watched: (): string[] => [...listeners.keys()],
    /** Adds a reactor: it sees every event, synchronously, inside the emitting transaction. */
    onEmit(reactor: Reactor): void {
      reactors.push(reactor);
    },
    /** Calls `fn` (without arguments) soon after events of the project were emitted; returns the unsubscribe. */
    subscribe(projectId: string, fn: () => void): () => void {
      let set = listeners.get(projectId);
      if (!set) listeners.set(projectId, (set = new Set()));
      set.add(fn);
      return () => {
        set.delete(fn);
        if (set.size === 0) listeners.delete(projectId);
      };
    },
    after: store.after,
    lastSeq: store.lastSeq,
    firstSeq: store.firstSeq,
    /** Drops events past EVENT_RETENTION_MS (called by the retention sweep). */
    async prune(): Promise<number> {
      return await store.prune(now() - EVENT_RETENTION_MS);
    },
  };
}
export type ProjectEvents = ReturnType<typeof createProjectEvents>;

/** The browser's view of an event row: no actor, recipient or subject. */
export function eventView(row: ProjectEventRow): ProjectEventView {
  return {
    id: row.seq,
    kind: row.kind as ProjectEventKind,
    environmentId: row.environmentId,
    at: row.createdAt,
  };
}
