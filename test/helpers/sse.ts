/**
 * A plain server-sent events reader over fetch, for tests of `GET /api/projects/:id/events`:
 * messages are queued as they arrive and awaited (no sleeps). Comments and `retry:` lines are
 * kept apart from messages.
 */
export interface SseMessage {
  id: string | null;
  event: string;
  data: string;
}

export interface SseStream {
  status: number;
  /** The JSON body of a refused request (status ≥ 300). */
  error: { id: string; message: string } | null;
  headers: Headers;
  /** `retry:` values received. */
  retries: number[];
  /** The next message; null once the stream ended. */
  next(): Promise<SseMessage | null>;
  /** Messages up to and including the first `event`-`message` whose data has `kind` (the rest are returned too). */
  until(kind: string): Promise<SseMessage[]>;
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  close(): void;
}

export async function openEvents(
  baseUrl: string,
  projectId: string,
  token: string,
  opts: { lastEventId?: string; query?: string; cookie?: string } = {},
): Promise<SseStream> {
  return openStream(
    `${baseUrl}/api/projects/${projectId}/events${opts.query ? `?${opts.query}` : ''}`,
    token,
    opts,
  );
}

/** Any server-sent event stream at `url` (the delivery stream takes a runtime key as `token`). */
export async function openStream(
  url: string,
  token: string,
  opts: { lastEventId?: string; cookie?: string } = {},
): Promise<SseStream> {
  const abort = new AbortController();
  const headers: Record<string, string> = { accept: 'text/event-stream' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (opts.cookie) headers.cookie = opts.cookie;
  if (opts.lastEventId !== undefined) headers['last-event-id'] = opts.lastEventId;
  const res = await fetch(url, { headers, signal: abort.signal });
  if (res.status >= 300) {
    const body = (await res.json()) as { error: { id: string; message: string } };
    return {
      status: res.status,
      error: body.error,
      headers: res.headers,
      retries: [],
      next: () => Promise.resolve(null),
      until: () => Promise.reject(new Error(`refused: ${res.status}`)),
      ended: Promise.resolve(),
      close: () => abort.abort(),
    };
  }
  const queue: SseMessage[] = [];
  const waiters: ((m: SseMessage | null) => void)[] = [];
  const retries: number[] = [];
  let done = false;

  function deliver(m: SseMessage | null): void {
    const w = waiters.shift();
    if (w) w(m);
    else if (m) queue.push(m);
  }

  function parse(block: string): void {
    let id: string | null = null;
    let event = 'message';
    const data: string[] = [];
    let isMessage = false;
    for (const line of block.split(/\r?\n/)) {
      if (line === '' || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'retry') retries.push(Number(value));
      else if (field === 'id') id = value;
      else if (field === 'event') event = value;
      else if (field === 'data') {
        data.push(value);
        isMessage = true;
      }
    }
    if (isMessage) deliver({ id, event, data: data.join('\n') });
  }

  const ended = (async () => {
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    try {
      for (;;) {
        const { value, done: finished } = await reader.read();
        if (finished) break;
        buffer += value;
        let at: number;
        while ((at = buffer.search(/\r?\n\r?\n/)) >= 0) {
          const sep = /\r?\n\r?\n/.exec(buffer.slice(at))![0].length;
          parse(buffer.slice(0, at));
          buffer = buffer.slice(at + sep);
        }
      }
    } catch {
      // aborted by close(), or the server dropped the connection
    } finally {
      done = true;
      while (waiters.length > 0) deliver(null);
    }
  })();

  const next = (): Promise<SseMessage | null> => {
    const m = queue.shift();
    if (m) return Promise.resolve(m);
    if (done) return Promise.resolve(null);
    return new Promise((resolve) => waiters.push(resolve));
  };

  return {
    status: res.status,
    error: null,
    headers: res.headers,
    retries,
    next,
    async until(kind: string) {
      const seen: SseMessage[] = [];
      for (;;) {
        const m = await next();
        if (!m) throw new Error(`the stream ended before a ${kind} event`);
        seen.push(m);
        if (m.event === 'message' && (JSON.parse(m.data) as { kind: string }).kind === kind)
          return seen;
      }
    },
    ended,
    close: () => abort.abort(),
  };
}

/** The `data:` of a message, parsed. */
export const dataOf = (m: SseMessage) =>
  JSON.parse(m.data) as { id: number; kind: string; environmentId: string | null; at: number };
