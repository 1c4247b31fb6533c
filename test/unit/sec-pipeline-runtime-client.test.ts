import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime, type RuntimeOptions } from '../../runtime/index.ts';

/**
 * The runtime client as a victim: a hostile or compromised server (or whoever sits on plain
 * http) answers. Each test gives it a fake `fetch` that validates headers as the real one does.
 */

const ENV = 'env_prod';
const open: Runtime[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((r) => r.close()));
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'sec-rtc-'));
  dirs.push(d);
  return d;
}

function body(envId = ENV, extra: Record<string, unknown> = {}) {
  return {
    environment: { id: envId, name: 'PRODUCTION', kind: 'production' },
    snapshotId: 'snap_1',
    overlayRevision: 1,
    variables: {},
    invalidOverrides: [],
    audiences: {},
    settings: {},
    content: { agents: {} },
    ...extra,
  };
}

const json = (v: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(v), {
    status: 200,
    headers: { 'content-type': 'application/json', etag: '"e1"', ...headers },
  });

/** A body that never ends (or ends after `total` bytes): `pulled()` says how much was read from it. */
function endless(chunk: string, total = Infinity) {
  const bytes = new TextEncoder().encode(chunk);
  let pulled = 0;
  let cancelled = false;
  const stream = new ReadableStream<Uint8Array>({
    pull(c) {
      if (pulled >= total) return c.close();
      pulled += bytes.byteLength;
      c.enqueue(bytes);
    },
    cancel() {
      cancelled = true;
    },
  });
  return { stream, pulled: () => pulled, cancelled: () => cancelled };
}

type Handler = (url: string, headers: Headers, signal: AbortSignal) => Response | Promise<Response>;

/** A runtime whose fetch is `handler` (after checking the headers as fetch does); events refused unless handled. */
function runtime(handler: Handler, opts: Partial<RuntimeOptions> = {}) {
  const seen: { url: string; headers: Headers; at: number }[] = [];
  const rt = createRuntime({
    url: 'https://stagecoach.test',
    environmentId: ENV,
    key: 'rk_secret',
    instance: 'victim-1',
    staleAfterMs: 60_000,
    maxRetryMs: 200,
    ...opts,
    fetch: async (url, init) => {
      // The real fetch refuses a header value it cannot send (a TypeError on every attempt).
      const headers = new Headers(init.headers as Record<string, string>);
      seen.push({ url, headers, at: performance.now() });
      return handler(url, headers, init.signal!);
    },
  });
  open.push(rt);
  return { rt, seen };
}

const until = async (check: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
};

const refuseStream = () => new Response('no', { status: 503 });

describe('SEC pipeline red team: the runtime client as a victim', () => {
  it('[SEC-32] a 200 carrying another environment’s delivery is not served (nor a bootstrap file whose body is another’s); JSON `__proto__` keys stay data', async () => {
    const { rt } = runtime((url) =>
      url.endsWith('/events') ? refuseStream() : json(body('env_other')),
    );
    await until(() => (rt.status().lastError ?? '').includes('another environment'));
    expect(rt.current()).toBeNull();
    expect(rt.status().state).toBe('starting');

    // A bootstrap file claiming this environment whose body is another's.
    const file = path.join(tempDir(), 'boot.json');
    fs.writeFileSync(
      file,
      JSON.stringify({
        format: 'stagecoach-runtime-bootstrap/1',
        environmentId: ENV,
        etag: '"e9"',
        savedAt: 1,
        body: body('env_other'),
      }),
    );
    const down = runtime(() => Promise.reject(new TypeError('fetch failed')), {
      bootstrapFile: file,
    });
    await until(() => down.seen.length >= 2);
    expect(down.rt.current()).toBeNull();

    // Held: a `__proto__` key is an own property of the parsed body, not a prototype.
    const text = JSON.stringify(body()).replace(
      '"agents":{}',
      '"agents":{"__proto__":{"polluted":true}}',
    );
    const proto = runtime((url) =>
      url.endsWith('/events')
        ? refuseStream()
        : new Response(text, { status: 200, headers: { etag: '"e1"' } }),
    );
    await proto.rt.ready();
    const agents = proto.rt.current()!.content.agents!;
    expect(Object.getPrototypeOf(agents)).toBe(Object.prototype);
    expect(Object.keys(agents)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('[SEC-33] a delivery body larger than maxBodyBytes is refused while it is read (an endless one, or one declaring 2 GB), not buffered whole', async () => {
    const bodies: ReturnType<typeof endless>[] = [];
    const { rt } = runtime(
      (url) => {
        if (url.endsWith('/events')) return refuseStream();
        const big = endless('x'.repeat(64 * 1024));
        bodies.push(big);
        return new Response(big.stream, { status: 200, headers: { etag: '"e1"' } });
      },
      { maxBodyBytes: 1024 * 1024 },
    );
    await until(() => /larger than/.test(rt.status().lastError ?? ''));
    await until(() => bodies[0]!.cancelled());
    expect(bodies[0]!.pulled()).toBeLessThan(2 * 1024 * 1024);
    expect(rt.current()).toBeNull();

    const two = runtime((url) =>
      url.endsWith('/events')
        ? refuseStream()
        : new Response(endless('x', 0).stream, {
            status: 200,
            headers: { etag: '"e1"', 'content-length': String(2 * 1024 ** 3) },
          }),
    );
    await until(() => /larger than/.test(two.rt.status().lastError ?? ''));
  });

  it('[SEC-34] an event stream of endless empty `data:` lines (or one endless line) is ended, its buffered size bounded', async () => {
    const streams: ReturnType<typeof endless>[] = [];
    const sse = (chunk: string) => {
      const s = endless(chunk);
      streams.push(s);
      return new Response(s.stream, {
        status: 200,
        headers: { 'content-type': 'text/event-stream' },
      });
    };
    const { rt } = runtime((url) =>
      url.endsWith('/events') ? sse('data:\n'.repeat(10_000)) : json(body()),
    );
    await rt.ready();
    await until(() => streams.length > 0 && streams[0]!.cancelled(), 10_000);
    const lines = streams[0]!;
    expect(lines.pulled()).toBeLessThan(2 * 1024 * 1024);
    expect(rt.status().lastError).toMatch(/too long/);

    streams.length = 0;
    const one = runtime((url) =>
      url.endsWith('/events') ? sse('x'.repeat(16 * 1024)) : json(body()),
    );
    await one.rt.ready();
    await until(() => streams.length > 0 && streams[0]!.cancelled());
    const line = streams[0]!;
    expect(line.pulled()).toBeLessThan(1024 * 1024);
  });

  it('[SEC-34] an event id the client could not send back (not printable ASCII, or huge) is ignored: the stream still reopens, Last-Event-ID never carries CR/LF', async () => {
    let opened = 0;
    const ids = ['日本', 'a'.repeat(10_000), '7\r\nauthorization: Bearer stolen'];
    const { rt, seen } = runtime((url) => {
      if (!url.endsWith('/events')) return json(body());
      const id = ids[opened++ % ids.length]!;
      return new Response(`id: ${id}\ndata: {"etag":"\\"e1\\""}\n\n`, {
        status: 200,
        headers: { 'content-type': 'text/event-stream' },
      });
    });
    await rt.ready();
    await until(() => opened >= 5, 10_000);
    const resumes = seen
      .filter((s) => s.url.endsWith('/events'))
      .map((s) => s.headers.get('last-event-id'));
    for (const v of resumes) {
      if (v === null) continue;
      expect(v).toMatch(/^[\x21-\x7e]{0,128}$/);
    }
    // The CR/LF id was cut at the line end: what is sent back is its first line only.
    expect(resumes).toContain('7');
    expect(rt.status().lastError ?? '').not.toMatch(/ByteString|header/i);
  });

  it('[SEC-33] a refusal’s body is read to a bound and its message kept short and on one line in status().lastError', async () => {
    const refusals: ReturnType<typeof endless>[] = [];
    const { rt } = runtime(() => {
      const huge = endless('{"error":{"id":"x","message":"' + 'A\n\u202e<script>'.repeat(10_000));
      refusals.push(huge);
      return new Response(huge.stream, { status: 500 });
    });
    await until(() => /answered 500/.test(rt.status().lastError ?? ''));
    await until(() => refusals[0]!.cancelled());
    expect(refusals[0]!.pulled()).toBeLessThan(1024 * 1024);
    const short = runtime(
      () =>
        new Response(
          JSON.stringify({
            error: { id: 'nope', message: 'line one\nline two\u202e' + 'B'.repeat(5000) },
          }),
          { status: 500 },
        ),
    );
    await until(() => /answered 500/.test(short.rt.status().lastError ?? ''));
    const err = short.rt.status().lastError!;
    expect(err.length).toBeLessThanOrEqual(400);
    expect(err).not.toMatch(/[\n\r\u202e]/);
  });

  it('[SEC-35] the bootstrap path never clobbers a file that is not its own bootstrap file, and a huge file there is not read whole', async () => {
    const dir = tempDir();
    const precious = path.join(dir, 'precious.conf');
    fs.writeFileSync(precious, 'do not overwrite me\n');
    const { rt } = runtime((url) => (url.endsWith('/events') ? refuseStream() : json(body())), {
      bootstrapFile: precious,
    });
    await rt.ready();
    await rt.close();
    expect(fs.readFileSync(precious, 'utf8')).toBe('do not overwrite me\n');
    expect(rt.status().lastError).toMatch(/bootstrap/);
    expect(fs.readdirSync(dir)).toEqual(['precious.conf']);

    // Its own file is replaced as before.
    const own = path.join(dir, 'own.json');
    const first = runtime((url) => (url.endsWith('/events') ? refuseStream() : json(body())), {
      bootstrapFile: own,
    });
    await first.rt.ready();
    await first.rt.close();
    expect(JSON.parse(fs.readFileSync(own, 'utf8')).environmentId).toBe(ENV);
    const again = runtime(
      (url) =>
        url.endsWith('/events')
          ? refuseStream()
          : json(body(ENV, { snapshotId: 'snap_2' }), { etag: '"e2"' }),
      { bootstrapFile: own },
    );
    await again.rt.ready();
    await again.rt.close();
    expect(JSON.parse(fs.readFileSync(own, 'utf8')).body.snapshotId).toBe('snap_2');

    // A 3 MB file where the bootstrap file should be, with maxBodyBytes 1 MB: refused by its size.
    const huge = path.join(dir, 'huge.json');
    fs.writeFileSync(huge, 'x'.repeat(3 * 1024 * 1024));
    // A server that never answers: the bootstrap file's refusal stays the last error.
    const hang = (_u: string, _h: Headers, signal: AbortSignal) =>
      new Promise<Response>((_, reject) =>
        signal.addEventListener('abort', () => reject(signal.reason)),
      );
    const down = runtime(hang, {
      bootstrapFile: huge,
      maxBodyBytes: 1024 * 1024,
    });
    await until(() =>
      /bootstrap file not used: .*larger than/.test(down.rt.status().lastError ?? ''),
    );
  });

  it('[SEC-36] a server (or proxy) answering every long-poll at once does not make the client send a storm of requests', async () => {
    const { rt, seen } = runtime(
      (url, headers) =>
        url.endsWith('/events')
          ? refuseStream()
          : headers.get('if-none-match') === '"e1"'
            ? new Response(null, { status: 304, headers: { etag: '"e1"' } })
            : json(body()),
      { maxRetryMs: 60_000 },
    );
    await rt.ready();
    // Long-polls answered at once begin about a second apart (stream retries back off between
    // them): six more requests take seconds, where a storm makes thousands a second (six in a
    // few milliseconds). The bound is low: timers held back by a busy machine fire together.
    const before = seen.length;
    const start = performance.now();
    await until(() => seen.length - before >= 6, 20_000);
    expect(performance.now() - start).toBeGreaterThan(300);
    expect(rt.status().state).toBe('fresh');
  });

  it('[SEC-38] the key is never sent over plain http to another host: `http:` is refused at createRuntime unless the host is this machine or `allowInsecureHttp` is set', () => {
    const opts = { environmentId: ENV, key: 'rk_secret', instance: 'victim-1' };
    for (const url of [
      'http://stagecoach.example.com',
      'http://10.0.0.5:3000',
      'http://127.0.0.1.nip.io',
      'ftp://stagecoach.example.com',
    ])
      expect(() => createRuntime({ ...opts, url }), url).toThrow(TypeError);
    for (const url of [
      'https://stagecoach.example.com',
      'http://127.0.0.1:3000',
      'http://localhost:3000/prefix',
      'http://[::1]:3000',
    ])
      open.push(createRuntime({ ...opts, url, fetch: () => Promise.reject(new Error('offline')) }));
    // An environment id that is a path step would send the key to another route (`/api/events`).
    for (const environmentId of ['..', '.', 'env_1/../../tokens', 'env 1'])
      expect(
        () => createRuntime({ ...opts, environmentId, url: 'https://stagecoach.example.com' }),
        environmentId,
      ).toThrow(TypeError);
    open.push(
      createRuntime({
        ...opts,
        url: 'http://stagecoach.internal',
        allowInsecureHttp: true,
        fetch: () => Promise.reject(new Error('offline')),
      }),
    );
  });
});
