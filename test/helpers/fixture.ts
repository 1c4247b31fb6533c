import type { ProjectView } from '#schema/api.ts';
import { createServices } from '#server/start.ts';
import { postgresBacking } from '#server/backing.ts';
import { dialectEnv, stored } from './dialect.ts';
import { ADMIN, setupAdmin, tempDataDir, testConfig, testServer } from './server.ts';
import { cookieOf, PASSPHRASE } from './users.ts';

/**
 * One way for tests to talk to the API, over either transport: a client bound to a bearer
 * token that sends JSON and answers `{ status, body }`. `inProcess` drives the Hono app
 * through `app.request()` (no socket, no port); `overTheWire` uses fetch against a started
 * server. Paths are the real ones (`/api/...`), so a test reads like the route it calls.
 */

/** An answer: the HTTP status and the parsed JSON body (null when the body is empty). */
export interface Reply<T> {
  status: number;
  body: T;
}

/** Who a call is made as: a bearer token, or anything holding one (a Client, a created user). */
export type Who = string | { token: string };

export interface CallOptions {
  /** Another user's token for this one call. */
  as?: Who;
  /** Extra headers (an Origin, a cookie); they win over the defaults. */
  headers?: Record<string, string>;
}

export interface Client {
  /** The bearer token calls carry ('' for none). */
  readonly token: string;
  /** The Origin the server counts as its own (a cookie-authenticated write must carry it). */
  readonly origin: string;
  /** The bare Response, for headers, non-JSON bodies and calls without the bearer token. */
  raw(
    path: string,
    init?: { method?: string; body?: unknown; headers?: Record<string, string> },
  ): Promise<Response>;
  call<T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
    options?: CallOptions,
  ): Promise<Reply<T>>;
  /** `call` for a step that must succeed: the body, or a throw naming the error id and message. */
  ok<T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
    options?: CallOptions,
  ): Promise<T>;
  /** The same transport, as another user. */
  as(who: Who): Client;
}

type Send = (path: string, init: RequestInit) => Promise<Response>;

const tokenOf = (who: Who): string => (typeof who === 'string' ? who : who.token);

function client(send: Send, origin: string, token: string): Client {
  const raw: Client['raw'] = (path, init = {}) =>
    send(path, {
      method: init.method ?? 'GET',
      // SEC-18 refuses JSON routes any other Content-Type, so every call says JSON.
      headers: { 'content-type': 'application/json', ...init.headers },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
  const call: Client['call'] = async <T>(
    method: string,
    path: string,
    body?: unknown,
    options: CallOptions = {},
  ) => {
    const bearer = tokenOf(options.as ?? token);
    const res = await raw(path, {
      method,
      body,
      headers: { ...(bearer ? { authorization: `Bearer ${bearer}` } : {}), ...options.headers },
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
  };
  const ok: Client['ok'] = async <T>(
    method: string,
    path: string,
    body?: unknown,
    options?: CallOptions,
  ) => {
    const { status, body: json } = await call<T & { error?: { id: string; message: string } }>(
      method,
      path,
      body,
      options,
    );
    if (status >= 300)
      throw new Error(
        `${method} ${path}: ${status} ${json?.error?.id ?? ''} ${json?.error?.message ?? JSON.stringify(json)}`,
      );
    return json;
  };
  return { token, origin, raw, call, ok, as: (who) => client(send, origin, tokenOf(who)) };
}

/** A client for a started server (`server.url`), as `token`. */
export function overTheWire(serverUrl: string, token: string): Client {
  return client((path, init) => fetch(`${serverUrl}${path}`, init), serverUrl, token);
}

/** A client for the Hono app in this process, as `token`; requests carry the host tests configure. */
export function inProcess(
  app: { request(path: string, init: RequestInit): Response | Promise<Response> },
  token: string,
): Client {
  return client(
    async (path, init) =>
      await app.request(path, {
        ...init,
        headers: { host: 'stagecoach.test', ...(init.headers as Record<string, string>) },
      }),
    'http://stagecoach.test',
    token,
  );
}

/**
 * The services for a data folder in this process, not listening (`app.request()`): on SQLite,
 * or on the postgres project on this folder's PostgreSQL database (PG-160).
 */
export async function testServices(dataDir: string, env: Record<string, string> = {}) {
  const config = testConfig(dataDir, await dialectEnv(dataDir, env));
  const backing = config.cluster
    ? await postgresBacking(config.cluster, (m) => console.error(`[stagecoach] ${m}`))
    : undefined;
  const services = createServices(config, {}, backing);
  const target = {
    dataDir,
    get sqlite() {
      return services.database.sqlite;
    },
  };
  return Object.assign(services, {
    dataDir,
    /** Its rows, read and written directly on either dialect. */
    stored: stored(target),
    /** A transaction over its stores, on either dialect (as the domain runs one). */
    atomically: <T>(fn: () => Promise<T>): Promise<T> =>
      backing ? backing.atomically(fn) : services.database.transactions.atomically(fn),
  });
}

/**
 * A fresh instance in this process (a real SQLite file; on the postgres project its own
 * PostgreSQL database, PG-160), set up, with a client as its admin.
 */
export async function inProcessInstance(env: Record<string, string> = {}) {
  const dataDir = tempDataDir();
  const services = await testServices(dataDir, env);
  const anonymous = inProcess(services.app, '');
  const setup = await anonymous.raw('/api/setup', { method: 'POST', body: ADMIN });
  const cookie = cookieOf(setup)!;
  const { token } = await anonymous.ok<{ token: string }>(
    'POST',
    '/api/tokens',
    { name: 't' },
    { headers: { cookie, origin: anonymous.origin } },
  );
  return {
    ...inProcess(services.app, token),
    services,
    dataDir,
    close() {
      services.rooms.closeAll();
      return services.database.close();
    },
  };
}

export type Instance = Awaited<ReturnType<typeof inProcessInstance>>;

/** The admin of a started server (POST /api/setup, then a token), as a client. */
export async function adminOf(serverUrl: string): Promise<Client> {
  return overTheWire(serverUrl, (await setupAdmin(serverUrl)).token);
}

/** A new account made by the instance admin, signed in, with its own token: a client as that user. */
export async function newUser(
  admin: Client,
  email: string,
  name = email,
): Promise<Client & { id: string; cookie: string }> {
  const { id } = await admin.ok<{ id: string }>('POST', '/api/users', {
    email,
    name,
    password: PASSPHRASE,
  });
  const cookie = cookieOf(
    await admin.raw('/api/session', { method: 'POST', body: { email, password: PASSPHRASE } }),
  )!;
  const { token } = await admin
    .as('')
    .ok<{ token: string }>(
      'POST',
      '/api/tokens',
      { name: 'tests' },
      { headers: { cookie, origin: admin.origin } },
    );
  return { ...admin.as(token), id, cookie };
}

/** A project made by `client` (five stages unless `preset` says otherwise; the sample content or not). */
export async function newProject(
  client: Client,
  options: { name?: string; preset?: string; sample?: boolean } = {},
): Promise<ProjectView> {
  return await client.ok<ProjectView>('POST', '/api/projects', {
    name: 'Support bots',
    preset: 'five-stage',
    ...options,
  });
}

/** A test server (closed by `cleanup`) with an admin and a five-stage project; `dev` is its first stage. */
export async function serverWithProject(
  cleanup: (() => unknown)[],
  env: Record<string, string> = {},
) {
  const server = await testServer(cleanup, env);
  const admin = await setupAdmin(server.url);
  const project = await newProject(overTheWire(server.url, admin.token));
  const dev = project.environments[0]!;
  return { server, admin, project, dev, draftId: dev.draftId! };
}

/** An environment as the project answers list it. */
export interface Env {
  id: string;
  name: string;
  draftId?: string;
  snapshotId: string | null;
  liveSnapshotId?: string | null;
}
