import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, type Config } from '#server/config.ts';
import { start, type Running } from '#server/start.ts';
import { pgClusterEnv } from './pg-cluster.ts';
import { dialectEnv } from './dialect.ts';
import { cookieOf, createToken, PASSPHRASE, postJson } from './users.ts';

export function tempDataDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'stagecoach-test-'));
}

export function testConfig(dataDir: string, env: Record<string, string> = {}): Readonly<Config> {
  return loadConfig({ PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, ...env }, process.cwd());
}

export interface Admin {
  token: string;
  email: string;
  password: string;
}

export const ADMIN = { email: 'ada@example.com', password: PASSPHRASE, name: 'Ada' };

/** POST /api/setup, then an API token for the admin. */
export async function setupAdmin(baseUrl: string): Promise<Admin> {
  const setup = await postJson(`${baseUrl}/api/setup`, ADMIN);
  if (setup.status !== 201) throw new Error(`setup failed: ${setup.status} ${await setup.text()}`);
  const token = await createToken(baseUrl, cookieOf(setup)!);
  return { token, email: ADMIN.email, password: ADMIN.password };
}

export type TestServer = Running & { dataDir: string };

export async function startTestServer(
  dataDir = tempDataDir(),
  env: Record<string, string> = {},
): Promise<TestServer> {
  // On the postgres project (PG-160) the server gets this folder's PostgreSQL database.
  const running = await start(testConfig(dataDir, await dialectEnv(dataDir, env)), { web: false });
  return Object.assign(running, { dataDir });
}

/** startTestServer, closed by `cleanup` (see cleanupAfterEach). */
export async function testServer(
  cleanup: (() => unknown)[],
  env: Record<string, string> = {},
  dataDir = tempDataDir(),
): Promise<TestServer> {
  const server = await startTestServer(dataDir, env);
  cleanup.push(() => server.close());
  return server;
}

/**
 * The settings of one server on PostgreSQL and Redis (PG-50), as `pgClusterEnv` gives every node,
 * with a NODE_ID and an INTERNAL_URL that reaches nothing: no other process relays to it.
 */
export function onPostgres(databaseUrl: string, redisUrl: string): Record<string, string> {
  return {
    ...pgClusterEnv(databaseUrl, redisUrl),
    NODE_ID: 'n1',
    INTERNAL_URL: 'http://127.0.0.1:1',
  };
}
