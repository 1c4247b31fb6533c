import type { ProjectEventKind, ProjectEventView } from '#schema/api.ts';

/** Dispatched on `window` for every event received (`detail`: the ProjectEventView). */
export const PROJECT_EVENT = 'stagecoach:project-event';
/** Dispatched on `window` when the stream could not resume (`detail`: {projectId}): refetch everything. */
export const PROJECT_RESET = 'stagecoach:project-reset';

/** How long a stream refused for good (429, a sign-in that ended) waits before it tries again. */
const REOPEN_MS = 15_000;
const MAX_REOPEN_MS = 5 * 60_000;

export type LiveStatus = 'connecting' | 'live' | 'reconnecting';

/**
 * The project's server-sent event stream (`GET /api/projects/:id/events`), one per open project
 * and shared by everything on the page that follows it (`acquire` / `release`). Each event is
 * dispatched on `window` as `stagecoach:project-event`; parts of the page listen with
 * `onProjectEvents` and refetch what they show. EventSource reconnects by itself with
 * `Last-Event-ID`; when it gives up (an answer that is not a stream), this opens a new one a
 * little later, from the last event seen (`?lastEventId=`).
 */
export class ProjectEventSource {
  status = $state<LiveStatus>('connecting');
  readonly projectId: string;
  #source: EventSource | null = null;
  #users = 0;
  #lastId: string | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #wait = REOPEN_MS;

  constructor(projectId: string) {
    this.projectId = projectId;
  }

  acquire(): void {
    if (this.#users++ === 0) this.#open();
  }

  release(): void {
    if (--this.#users > 0) return;
    clearTimeout(this.#timer);
    this.#source?.close();
    this.#source = null;
    delete sources[this.projectId];
  }

  #open(): void {
    const query = this.#lastId ? `?lastEventId=${encodeURIComponent(this.#lastId)}` : '';
    const source = new EventSource(
      `/api/projects/${encodeURIComponent(this.projectId)}/events${query}`,
    );
    this.#source = source;
    source.onopen = () => {
      this.status = 'live';
      this.#wait = REOPEN_MS;
    };
    source.onerror = () => {
      this.status = 'reconnecting';
      if (source.readyState !== EventSource.CLOSED || this.#source !== source) return;
      // Refused (too many tabs, signed out, no longer a member): the page refetches (and shows
      // what it is told), and this tries again later, waiting longer each time.
      window.dispatchEvent(
        new CustomEvent(PROJECT_RESET, { detail: { projectId: this.projectId } }),
      );
      this.#timer = setTimeout(() => {
        if (this.#users > 0 && this.#source === source) this.#open();
      }, this.#wait);
      this.#wait = Math.min(this.#wait * 2, MAX_REOPEN_MS);
    };
    source.onmessage = (m: MessageEvent<string>) => {
      if (m.lastEventId) this.#lastId = m.lastEventId;
      let detail: ProjectEventView;
      try {
        detail = JSON.parse(m.data) as ProjectEventView;
      } catch {
        return;
      }
      window.dispatchEvent(new CustomEvent(PROJECT_EVENT, { detail }));
    };
    source.addEventListener('reset', (m: MessageEvent<string>) => {
      if (m.lastEventId) this.#lastId = m.lastEventId;
      window.dispatchEvent(
        new CustomEvent(PROJECT_RESET, { detail: { projectId: this.projectId } }),
      );
    });
  }
}

/** Not state: which streams are open (a plain record without a prototype: keys come from the URL). */
const sources: Record<string, ProjectEventSource | undefined> = Object.create(null) as Record<
  string,
  ProjectEventSource | undefined
>;

/** The page's one stream of `projectId` (call `acquire` to open it, `release` when done). */
export function projectEventSource(projectId: string): ProjectEventSource {
  return (sources[projectId] ??= new ProjectEventSource(projectId));
}

/**
 * Follows the project's stream while the calling `$effect` lives (return its result from the
 * effect): opens it if nothing on the page has yet, and returns the source (its `status` for a
 * "Live" indicator) with the cleanup.
 */
export function followProject(projectId: string): {
  source: ProjectEventSource;
  stop: () => void;
} {
  const source = projectEventSource(projectId);
  source.acquire();
  return { source, stop: () => source.release() };
}

/** Events of one stage, of the given kinds (project-wide ones of those kinds too, when `projectWide`). */
export function inStage(
  envId: string,
  kinds: readonly ProjectEventKind[],
  opts: { projectWide?: boolean } = {},
): (e: ProjectEventView) => boolean {
  return (e) =>
    kinds.includes(e.kind) &&
    (e.environmentId === envId || (opts.projectWide === true && e.environmentId === null));
}

/**
 * Calls `refetch` (once per burst, `delayMs` after the last) when an event that `concerns` the
 * caller arrives, or when the stream could not resume. Returns the cleanup (return it from the
 * `$effect` that calls this).
 */
export function onProjectEvents(
  concerns: (e: ProjectEventView) => boolean,
  refetch: () => unknown,
  delayMs = 150,
): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const soon = () => {
    clearTimeout(timer);
    timer = setTimeout(() => void refetch(), delayMs);
  };
  const onEvent = (e: Event) => {
    if (concerns((e as CustomEvent<ProjectEventView>).detail)) soon();
  };
  window.addEventListener(PROJECT_EVENT, onEvent);
  window.addEventListener(PROJECT_RESET, soon);
  return () => {
    clearTimeout(timer);
    window.removeEventListener(PROJECT_EVENT, onEvent);
    window.removeEventListener(PROJECT_RESET, soon);
  };
}
