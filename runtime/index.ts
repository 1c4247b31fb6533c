/**
 * `stagecoach/runtime`: what an agent runtime embeds to read its environment's delivery API.
 *
 * It serves from memory always (`current()` never makes a request), swaps the whole delivered
 * body at once when the server says it changed (RTC-2), follows the delivery event stream and
 * falls back to long-polling when the stream is refused or breaks (RTC-3), names its instance on
 * every request (RTC-4), keeps a bootstrap file to start from while the server is down (RTC-5),
 * and never goes silently stale (RTC-6).
 *
 * Platform only (Node ≥ 22: fetch, streams, node:fs/promises): no package, nothing from the rest
 * of Stagecoach (RTC-7). The few types it needs are copied here.
 */
import { randomBytes } from 'node:crypto';
import { rename, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';

/** What `GET /api/delivery/:envId` answers (the README's "Delivery API"). */
export interface Delivered {
  environment: { id: string; name: string; kind: string };
  snapshotId: string;
  overlayRevision: number;
  /** Variables at their effective values, typed by the variable's type. */
  variables: Record<string, { type: string; value: unknown }>;
  /** Overrides served at the snapshot's default because they no longer fit (names, never values). */
  invalidOverrides: { key: string; reason: string }[];
  audiences: Record<string, { id: string; description: string; rules: unknown[] }>;
  settings: Record<string, unknown>;
  /** agents, workflows, knowledge, integrations, channels, variables: items by id. */
  content: Record<string, Record<string, unknown>>;
}

/** Which version is served: the delivery ETag and what it is made of. */
export interface RuntimeVersion {
  snapshotId: string;
  overlayRevision: number;
  /** The delivery ETag, quotes included (what `If-None-Match` sends). */
  etag: string;
}

/**
 * - `starting`: nothing to serve yet (no answer from the server, no bootstrap file).
 * - `fresh`: what is served is what the server delivers, confirmed within `staleAfterMs`.
 * - `stale`: was fresh, but no successful contact for `staleAfterMs`: it may be behind.
 * - `bootstrap`: serving the bootstrap file; the server has not been reached since the start.
 */
export type RuntimeState = 'starting' | 'fresh' | 'stale' | 'bootstrap';

export interface RuntimeStatus {
  state: RuntimeState;
  /** When this state began (epoch ms). */
  since: number;
  /** The last successful contact with the server (epoch ms; null: none yet). */
  lastContactAt: number | null;
  /** How it follows changes now: the event stream, long-polls, or plain polls (waits refused). */
  via: 'stream' | 'long-poll' | 'poll' | null;
  /**
   * The last failure (a refused or failed request, an unreadable bootstrap file), kept after the
   * client recovers; never the key.
   */
  lastError?: string;
}

export interface RuntimeOptions {
  /** The Stagecoach server's base URL, e.g. `https://stagecoach.example.com` (a path prefix is kept). */
  url: string;
  /** The environment whose delivery it reads. */
  environmentId: string;
  /** A runtime key of that environment. */
  key: string;
  /**
   * This instance's name, sent as `Stagecoach-Runtime` on every request (1–64 letters, digits, `.`,
   * `_`, `:` or `-`). Default: the host name and process id.
   */
  instance?: string;
  /** A file to keep the last delivered body in (written atomically), served at start when the server is down. */
  bootstrapFile?: string;
  /** No successful contact for this long ⇒ `stale` (default 60 000 ms). */
  staleAfterMs?: number;
  /** Told after each swap (the first body, from the server or the bootstrap file, included). */
  onChange?: (delivered: Delivered, version: RuntimeVersion) => void;
  /** Told when the state changes, or how it follows changes (`via`). */
  onStatus?: (status: RuntimeStatus) => void;
  /** The fetch to use (a proxy agent, tests); default the global fetch. */
  fetch?: (url: string, init: RequestInit) => Promise<Response>;
  /** Longest long-poll in seconds (1–60, default 30; never more than half of `staleAfterMs`). */
  waitSeconds?: number;
  /** Longest a request other than a long-poll or the stream may take (default 10 000 ms). */
  requestTimeoutMs?: number;
  /** Longest pause between attempts to reopen the stream (default 30 000 ms; jittered backoff up to it). */
  maxRetryMs?: number;
  /**
   * Largest delivered body (and bootstrap file) it reads, in bytes (default 64 MiB): a larger one
   * is refused while it is read, never buffered whole (SEC-33).
   */
  maxBodyBytes?: number;
  /**
   * Allow `http:` to a host other than this machine (default false): the key would cross the
   * network in clear and anyone on the path could read it and answer in the server's name (SEC-38).
   */
  allowInsecureHttp?: boolean;
}

export interface Runtime {
  /** Resolves once something is served (from the server or the bootstrap file); rejects when the server refuses the key or the environment and there is no bootstrap file, or on close(). */
  ready(): Promise<void>;
  /** The whole delivered body, from memory (frozen; null before anything is served). */
  current(): Delivered | null;
  version(): RuntimeVersion | null;
  status(): RuntimeStatus;
  /** Stops every request and timer; resolves once the bootstrap file is written. */
  close(): Promise<void>;
}

/** `Stagecoach-Runtime`'s rule (the server refuses anything else with 400). */
const RUNTIME_NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;
/** The server sends a comment every 25 s: a stream silent for longer is dead. */
const STREAM_IDLE_MS = 65_000;
/** A server-sent event line (or event) longer than this ends the stream. */
const MAX_EVENT_CHARS = 64 * 1024;
/** Long-polls begin at least this far apart, however fast they are answered (SEC-36). */
const MIN_POLL_MS = 1000;
/** The bootstrap file's format marker. */
const BOOTSTRAP_FORMAT = 'stagecoach-runtime-bootstrap/1';
/** Of a refusal's body, at most this much is read; of its message, this much kept (SEC-33). */
const MAX_REFUSAL_BYTES = 8 * 1024;
const MAX_REFUSAL_CHARS = 200;
/** An event id it sends back as Last-Event-ID: printable ASCII, bounded (SEC-34). */
const EVENT_ID = /^[\x21-\x7e]{0,128}$/;

interface Served {
  body: Delivered;
  version: RuntimeVersion;
}

class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/** Default instance name: host and pid, cut to the server's rule. */
function defaultInstance(): string {
  const host = hostname()
    .replace(/[^A-Za-z0-9._:-]/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '');
  return `${host || 'runtime'}`.slice(0, 50) + `-${process.pid}`;
}

/** Freezes the parsed body all the way down: every reader shares it. */
function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

function isDelivered(v: unknown): v is Delivered {
  const d = v as Delivered;
  return (
    !!d &&
    typeof d === 'object' &&
    typeof d.snapshotId === 'string' &&
    typeof d.overlayRevision === 'number' &&
    !!d.content &&
    typeof d.content === 'object'
  );
}

/** Why a body is not this environment's delivery (SEC-32: a 200 for another is never served); null: it is. */
function notDeliveryOf(v: unknown, environmentId: string): string | null {
  if (!isDelivered(v)) return 'it is not a delivery';
  const env = (v as { environment?: { id?: unknown } }).environment;
  if (!env || typeof env !== 'object' || env.id !== environmentId)
    return 'it is the delivery of another environment';
  return null;
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** A server's words as one short line: no control, line or direction characters (SEC-33). */
const oneLine = (s: unknown) =>
  Array.from(String(s).slice(0, MAX_REFUSAL_CHARS), (ch) => {
    const c = ch.charCodeAt(0);
    const hidden =
      c < 0x20 ||
      (c >= 0x7f && c <= 0x9f) ||
      c === 0x061c ||
      c === 0x200e ||
      c === 0x200f ||
      (c >= 0x2028 && c <= 0x202e) ||
      (c >= 0x2066 && c <= 0x2069);
    return hidden ? ' ' : ch;
  }).join('');

/**
 * A body's bytes, refusing more than `max` (a larger Content-Length at once, else as they come):
 * a hostile server's endless or 2 GB body costs at most `max` (SEC-33).
 */
async function boundedBytes(res: Response, max: number, what: string): Promise<Uint8Array> {
  const tooLarge = () => new Error(`${what} is larger than ${max} bytes`);
  if (Number(res.headers.get('content-length')) > max) {
    await res.body?.cancel().catch(() => {});
    throw tooLarge();
  }
  if (!res.body) return new Uint8Array(0);
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > max) throw tooLarge();
      chunks.push(value);
    }
  } catch (err) {
    reader.cancel().catch(() => {});
    throw err;
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** A `{error: {id, message}}` answer as one line (ids and messages only; the key is never in it). */
async function refusal(what: string, res: Response): Promise<HttpError> {
  let detail = '';
  try {
    const text = new TextDecoder().decode(await boundedBytes(res, MAX_REFUSAL_BYTES, 'refusal'));
    const body = JSON.parse(text) as { error?: { id?: string; message?: string } };
    if (body.error)
      detail = ` ${oneLine(body.error.id ?? '').slice(0, 64)}: ${oneLine(body.error.message ?? '')}`;
  } catch {
    // not JSON, or too long to be an error answer
  }
  return new HttpError(res.status, `${what} answered ${res.status}${detail}`);
}

export function createRuntime(options: RuntimeOptions): Runtime {
  const { environmentId, key } = options;
  if (typeof key !== 'string' || key === '')
    throw new TypeError('createRuntime: `key` is required.');
  if (typeof environmentId !== 'string' || environmentId === '')
    throw new TypeError('createRuntime: `environmentId` is required.');
  // SEC-38: an id, never a path step (`..` would send the key to another route).
  if (!/^[A-Za-z0-9_-]{1,100}$/.test(environmentId))
    throw new TypeError(
      'createRuntime: `environmentId` is an environment id (letters, digits, "_", "-").',
    );
  const instance = options.instance ?? defaultInstance();
  if (!RUNTIME_NAME.test(instance))
    throw new TypeError(
      'createRuntime: `instance` is 1–64 letters, digits, ".", "_", ":" or "-", starting with a letter or digit.',
    );
  const staleAfterMs = options.staleAfterMs ?? 60_000;
  if (!(staleAfterMs >= 100)) throw new TypeError('createRuntime: `staleAfterMs` is at least 100.');
  const waitSeconds = Math.max(
    1,
    Math.min(Math.floor(options.waitSeconds ?? 30), 60, Math.floor(staleAfterMs / 2000)),
  );
  const requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
  const maxRetryMs = options.maxRetryMs ?? 30_000;
  const maxBodyBytes = options.maxBodyBytes ?? 64 * 1024 * 1024;
  if (!(maxBodyBytes >= 1024))
    throw new TypeError('createRuntime: `maxBodyBytes` is at least 1024.');
  const doFetch = options.fetch ?? ((u: string, init: RequestInit) => fetch(u, init));
  const base = new URL(options.url.endsWith('/') ? options.url : `${options.url}/`);
  // SEC-38: the key goes in clear only to this machine (or when the embedder says so).
  const loopback = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/.test(base.hostname);
  if (base.protocol !== 'https:' && base.protocol !== 'http:')
    throw new TypeError('createRuntime: `url` is an https: URL.');
  if (base.protocol === 'http:' && !loopback && !options.allowInsecureHttp)
    throw new TypeError(
      'createRuntime: `url` is http: to another machine: the key would cross the network in clear. Use https:, or set `allowInsecureHttp`.',
    );
  const deliveryUrl = new URL(`api/delivery/${encodeURIComponent(environmentId)}`, base).href;
  const eventsUrl = `${deliveryUrl}/events`;

  /** The one reference a swap replaces: readers see one whole version or the next (RTC-2). */
  let served: Served | null = null;
  /** The bootstrap file's content, until the server confirms or replaces it. */
  let boot: Served | null = null;
  let state: RuntimeStatus = {
    state: 'starting',
    since: Date.now(),
    lastContactAt: null,
    via: null,
  };
  let closed = false;
  const stop = new AbortController();
  let settleReady!: (err?: Error) => void;
  const readyPromise = new Promise<void>((resolve, reject) => {
    settleReady = (err) => (err ? reject(err) : resolve());
  });
  readyPromise.catch(() => {});

  function setStatus(patch: Partial<RuntimeStatus>): void {
    const before = state;
    state = { ...state, ...patch };
    if (state.state !== before.state) state.since = Date.now();
    if (state.state !== before.state || state.via !== before.via) {
      try {
        options.onStatus?.({ ...state });
      } catch (err) {
        console.error('[stagecoach/runtime] onStatus threw:', err);
      }
    }
  }
  const fail = (err: unknown) => {
    if (!closed) setStatus({ lastError: message(err) });
  };

  /** What is served now is what the server delivers (RTC-6: back in contact ⇒ fresh). */
  function confirm(): void {
    if (closed || !served) return;
    setStatus({ state: 'fresh', lastContactAt: Date.now() });
  }

  function swap(next: Served): void {
    served = next;
    settleReady();
    try {
      options.onChange?.(next.body, next.version);
    } catch (err) {
      console.error('[stagecoach/runtime] onChange threw:', err);
    }
  }

  // ---- The bootstrap file (RTC-5) -------------------------------------------------------------

  let writing: Promise<void> = Promise.resolve();
  /**
   * SEC-35: the path may be replaced only when nothing is there or it holds this environment's
   * bootstrap file (decided when it is read at start): a path pointing at another file (a config,
   * another environment's bootstrap file) is never clobbered.
   */
  let bootWritable = false;
  /** After each body from the server: written to a temporary file, then renamed over the old one. */
  function saveBootstrap(s: Served, text: string): void {
    const file = options.bootstrapFile;
    if (!file) return;
    if (!bootWritable) {
      fail(
        new Error(
          'bootstrap file not written: something else is at its path (not this environment’s bootstrap file)',
        ),
      );
      return;
    }
    const json = `{"format":${JSON.stringify(BOOTSTRAP_FORMAT)},"environmentId":${JSON.stringify(environmentId)},"etag":${JSON.stringify(s.version.etag)},"savedAt":${Date.now()},"body":${text}}`;
    writing = writing.then(async () => {
      const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
      try {
        // `wx`: never through a file or link already at the temporary name.
        await writeFile(tmp, json, { mode: 0o600, flag: 'wx' });
        await rename(tmp, file);
      } catch (err) {
        fail(new Error(`bootstrap file not written: ${message(err)}`));
        await unlink(tmp).catch(() => {});
      }
    });
  }

  async function loadBootstrap(): Promise<Served | null> {
    const file = options.bootstrapFile;
    if (!file) return null;
    try {
      // SEC-35: the file is read whole, so not when it is larger than a body may be.
      if ((await stat(file)).size > maxBodyBytes + 4096)
        throw new Error(`it is larger than ${maxBodyBytes} bytes`);
      const saved = JSON.parse(await readFile(file, 'utf8')) as {
        format?: unknown;
        environmentId?: unknown;
        etag?: unknown;
        body?: unknown;
      };
      if (saved.format !== BOOTSTRAP_FORMAT || typeof saved.etag !== 'string')
        throw new Error('not a bootstrap file of stagecoach/runtime');
      if (saved.environmentId !== environmentId)
        throw new Error('it was written for another environment');
      bootWritable = true;
      const why = notDeliveryOf(saved.body, environmentId);
      if (why) throw new Error(why);
      const body = deepFreeze(saved.body as Delivered);
      return {
        body,
        version: {
          snapshotId: body.snapshotId,
          overlayRevision: body.overlayRevision,
          etag: saved.etag,
        },
      };
    } catch (err) {
      if ((err as { code?: string }).code === 'ENOENT') bootWritable = true;
      else fail(new Error(`bootstrap file not used: ${message(err)}`));
      return null;
    }
  }

  // ---- Requests -------------------------------------------------------------------------------

  const headers = (etag?: string): Record<string, string> => ({
    authorization: `Bearer ${key}`,
    // RTC-4: every request names the instance (the board counts it, `runtimes` lists it).
    'stagecoach-runtime': instance,
    ...(etag ? { 'if-none-match': etag } : {}),
  });

  /** A signal aborted by close() or after `ms`. */
  const within = (ms: number) => AbortSignal.any([stop.signal, AbortSignal.timeout(ms)]);

  /** One request at a time fetches the body (stream events, probes and polls never race a swap). */
  let fetching: Promise<unknown> = Promise.resolve();
  let inFlight = 0;

  /**
   * `GET /api/delivery/:envId` with If-None-Match (the served ETag, else the bootstrap file's);
   * `wait`: a long-poll. 200 swaps, 304 confirms; anything else throws.
   */
  function getDelivery(wait: number | null): Promise<void> {
    inFlight++;
    const run = fetching.then(async () => {
      const etag = served?.version.etag ?? boot?.version.etag;
      // Only a fresh client waits: one serving a bootstrap file or stale asks at once, so that a
      // server back up makes it fresh now, not when the wait ends.
      const hold = wait !== null && !!etag && state.state === 'fresh';
      const url = hold ? `${deliveryUrl}?wait=${wait}` : deliveryUrl;
      const timeout = (hold ? wait * 1000 : 0) + requestTimeoutMs;
      const res = await doFetch(url, { headers: headers(etag), signal: within(timeout) });
      if (res.status === 304 && etag) {
        await res.body?.cancel();
        if (!served && boot) swap(boot);
        boot = null;
        return confirm();
      }
      if (res.status !== 200) throw await refusal('delivery', res);
      const text = new TextDecoder().decode(await boundedBytes(res, maxBodyBytes, 'delivery'));
      const body: unknown = JSON.parse(text);
      const tag = res.headers.get('etag');
      const why = notDeliveryOf(body, environmentId);
      if (why) throw new Error(`delivery refused: ${why}`);
      if (!isDelivered(body) || !tag) throw new Error('delivery answered something else');
      boot = null;
      const next = {
        body: deepFreeze(body),
        version: { snapshotId: body.snapshotId, overlayRevision: body.overlayRevision, etag: tag },
      };
      if (closed) return;
      swap(next);
      saveBootstrap(next, text);
      confirm();
    });
    fetching = run.catch(() => {}).finally(() => inFlight--);
    return run;
  }

  /** Parses `text/event-stream` lines as they come (the WHATWG rules, the parts the server uses). */
  function eventParser(onMessage: (data: string, id: string | null) => void) {
    let buffer = '';
    let data: string[] = [];
    let size = 0;
    let id: string | null = null;
    const line = (l: string) => {
      if (l === '') {
        if (data.length) onMessage(data.join('\n'), id);
        data = [];
        size = 0;
        return;
      }
      if (l.startsWith(':')) return;
      const colon = l.indexOf(':');
      const field = colon < 0 ? l : l.slice(0, colon);
      let value = colon < 0 ? '' : l.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'data') {
        // Each line counts its line end too: endless empty `data:` lines are bounded (SEC-34).
        size += value.length + 1;
        if (size > MAX_EVENT_CHARS) throw new Error('delivery stream: an event too long');
        data.push(value);
      } else if (field === 'id' && EVENT_ID.test(value)) id = value;
      // Any other id (not printable ASCII, or huge) is ignored: fetch could not send it back as
      // Last-Event-ID and the stream would never reopen (SEC-34).
    };
    return (chunk: string) => {
      buffer += chunk;
      for (;;) {
        const m = /\r\n|\r|\n/.exec(buffer);
        // A lone "\r" at the end may be the first half of "\r\n".
        if (!m || (m[0] === '\r' && m.index === buffer.length - 1)) break;
        line(buffer.slice(0, m.index));
        buffer = buffer.slice(m.index + m[0].length);
      }
      if (buffer.length > MAX_EVENT_CHARS) throw new Error('delivery stream: a line too long');
    };
  }

  /** The stream's last message id, sent back as Last-Event-ID when it reopens, and its ETag. */
  let lastEventId: string | null = null;
  let lastEventEtag: string | null = null;
  /** The stream told us what is delivered and we serve it: its comments keep us fresh. */
  let inSync = false;

  /**
   * Follows `GET /api/delivery/:envId/events` until it ends or fails; on each message whose ETag
   * differs from the served one, fetches the body with If-None-Match. True when it worked (a
   * message came, or a resume in sync), not a refusal.
   */
  async function followStream(): Promise<boolean> {
    const abort = new AbortController();
    const signal = AbortSignal.any([stop.signal, abort.signal]);
    let idle: ReturnType<typeof setTimeout> | undefined;
    const resetIdle = () => {
      clearTimeout(idle);
      idle = setTimeout(
        () => abort.abort(new Error('delivery stream went silent')),
        STREAM_IDLE_MS,
      );
    };
    let delivered = false;
    inSync = false;
    try {
      resetIdle();
      const connect = setTimeout(
        () => abort.abort(new Error('delivery stream: no answer')),
        requestTimeoutMs,
      );
      const res = await doFetch(eventsUrl, {
        headers: {
          ...headers(),
          accept: 'text/event-stream',
          ...(lastEventId !== null ? { 'last-event-id': lastEventId } : {}),
        },
        signal,
      }).finally(() => clearTimeout(connect));
      if (res.status !== 200 || !res.body) throw await refusal('delivery stream', res);
      if (!(res.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
        await res.body.cancel();
        throw new Error('delivery stream answered something else');
      }
      setStatus({ via: 'stream' });
      // A resume the server answers with nothing when that id's ETag is still delivered: when it is
      // the one served, the stream is in sync from the start.
      if (lastEventId !== null && lastEventEtag === served?.version.etag) {
        inSync = true;
        delivered = true;
        confirm();
      }
      const messages: { data: string; id: string | null }[] = [];
      const feed = eventParser((data, id) => messages.push({ data, id }));
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          resetIdle();
          // A comment or message while in sync: the server is there and nothing changed unsaid.
          if (inSync) confirm();
          feed(value);
          for (const m of messages.splice(0)) {
            const event = JSON.parse(m.data) as { etag?: unknown };
            if (typeof event.etag !== 'string') continue;
            delivered = true;
            if (event.etag !== served?.version.etag) await getDelivery(null);
            else confirm();
            inSync = true;
            // Only once the body behind it is served: a resume never skips a change.
            if (m.id !== null) [lastEventId, lastEventEtag] = [m.id, event.etag];
          }
        }
      } finally {
        reader.cancel().catch(() => {});
      }
      throw new Error('delivery stream ended');
    } catch (err) {
      fail(signal.aborted && signal.reason instanceof Error ? signal.reason : err);
      return delivered;
    } finally {
      inSync = false;
      clearTimeout(idle);
      abort.abort();
    }
  }

  // ---- Staying in contact (RTC-6) -------------------------------------------------------------

  const contactAge = () => Date.now() - (state.lastContactAt ?? 0);
  let probing = false;
  const watchdog = setInterval(
    () => {
      if (closed || state.state !== 'fresh') return;
      if (contactAge() > staleAfterMs) return setStatus({ state: 'stale' });
      // A quiet stream (comments every 25 s) is confirmed by a conditional GET before it counts as
      // stale: a 304 costs nothing.
      if (state.via === 'stream' && contactAge() > staleAfterMs / 2 && !probing && inFlight === 0) {
        probing = true;
        getDelivery(null)
          .catch(fail)
          .finally(() => (probing = false));
      }
    },
    Math.max(25, Math.min(1000, staleAfterMs / 8)),
  );
  watchdog.unref?.();

  /** Resolves after `ms`, or at once on close(). */
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      if (closed || ms <= 0) return resolve();
      const done = () => {
        clearTimeout(t);
        stop.signal.removeEventListener('abort', done);
        resolve();
      };
      const t = setTimeout(done, ms);
      stop.signal.addEventListener('abort', done);
    });

  /** Attempt n's pause: 0–1 s after a working stream, then doubling up to maxRetryMs, half of it random. */
  const backoff = (failures: number) => {
    if (failures === 0) return Math.random() * 1000;
    const ceiling = Math.min(maxRetryMs, 1000 * 2 ** Math.min(failures - 1, 20));
    return ceiling / 2 + (Math.random() * ceiling) / 2;
  };

  /** The stream first; while it is down, long-polls (plain polls when waits are refused) until it is retried. */
  async function follow(): Promise<void> {
    let streamFailures = 0;
    while (!closed) {
      const worked = await followStream();
      if (closed) return;
      streamFailures = worked ? 0 : streamFailures + 1;
      const retryAt = Date.now() + backoff(streamFailures);
      let pollFailures = 0;
      let waitRefused = false;
      while (!closed && Date.now() < retryAt) {
        const left = retryAt - Date.now();
        setStatus({ via: waitRefused ? 'poll' : 'long-poll' });
        try {
          if (waitRefused) {
            await getDelivery(null);
            await sleep(Math.min(left, Math.max(250, staleAfterMs / 4)));
          } else {
            const began = Date.now();
            await getDelivery(Math.min(waitSeconds, Math.max(1, Math.ceil(left / 1000))));
            // A long-poll answered at once (a change, or a server or proxy that does not wait) is
            // followed by the next no sooner than MIN_POLL_MS after it began: never a request storm (SEC-36).
            await sleep(Math.min(retryAt - Date.now(), MIN_POLL_MS - (Date.now() - began)));
          }
          pollFailures = 0;
        } catch (err) {
          fail(err);
          if (closed) return;
          // The per-key bound on waiting requests: plain conditional GETs take no place.
          if (err instanceof HttpError && err.status === 429 && !waitRefused) waitRefused = true;
          else await sleep(Math.min(left, backoff(++pollFailures)));
        }
      }
    }
  }

  // ---- Start ----------------------------------------------------------------------------------

  const running = (async () => {
    boot = await loadBootstrap();
    try {
      await getDelivery(null);
    } catch (err) {
      fail(err);
      if (closed) return;
      if (boot) {
        // RTC-5: the server is down (or refuses): serve the last version saved.
        swap(boot);
        setStatus({ state: 'bootstrap' });
      } else if (err instanceof HttpError && [401, 403, 404].includes(err.status)) {
        settleReady(new Error(`stagecoach/runtime: ${message(err)}`));
      }
    }
    await follow();
  })().catch(fail);

  return {
    ready: () => readyPromise,
    current: () => served?.body ?? null,
    version: () => (served ? { ...served.version } : null),
    status: () => ({ ...state }),
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(watchdog);
      stop.abort(new Error('closed'));
      settleReady(new Error('stagecoach/runtime: closed before anything was served'));
      await running;
      await writing;
    },
  };
}
