import { expect } from 'vitest';
import { createServices } from '#server/start.ts';
import { ADMIN, tempDataDir, testConfig } from './server.ts';

/** A fresh instance (real SQLite file) driven through app.request(), with an admin token. */
export async function apiFixture(env: Record<string, string> = {}) {
  const dataDir = tempDataDir();
  const services = createServices(testConfig(dataDir, env));
  const raw = async (path: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<Response> =>
    await services.app.request(path, {
      method: init.method ?? 'GET',
      headers: { host: 'stagecoach.test', ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}), ...init.headers },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
  const setup = await raw('/api/setup', { method: 'POST', body: ADMIN });
  const cookie = setup.headers.get('set-cookie')!.split(';')[0]!;
  const tokenRes = await raw('/api/tokens', { method: 'POST', body: { name: 't' }, headers: { cookie, origin: 'http://stagecoach.test' } });
  const { token } = (await tokenRes.json()) as { token: string };
  const auth = { authorization: `Bearer ${token}` };

  /** Calls the API as the admin and returns [status, json]. */
  async function call<T = Record<string, unknown>>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<[number, T]> {
    const res = await raw(path, { method, body, headers: { ...auth, ...headers } });
    const text = await res.text();
    return [res.status, (text ? JSON.parse(text) : null) as T];
  }
  async function ok<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T> {
    const [status, json] = await call<T>(method, path, body);
    expect(status, `${method} ${path}: ${JSON.stringify(json)}`).toBeLessThan(300);
    return json;
  }
  return {
    services,
    dataDir,
    raw,
    call,
    ok,
    close() {
      services.replication.stop();
      services.rooms.closeAll();
      return services.database.close();
    },
  };
}

export type ApiFixture = Awaited<ReturnType<typeof apiFixture>>;

export interface Env {
  id: string;
  name: string;
  draftId?: string;
  snapshotId: string | null;
  liveSnapshotId?: string | null;
}
