import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, loadDatabaseUrl, maskedUrl } from '#server/config.ts';

const SECRET = 'cluster-secret-that-is-long-enough-0123456789';
const KEY = Buffer.alloc(32, 9).toString('base64');
const HOST = { hostname: 'web-3.internal.example', pid: 4242 };

/** A complete several-process environment; a test removes or spoils one key. */
const cluster = (extra: Record<string, string | undefined> = {}) => ({
  DATABASE_URL: 'postgres://stagecoach:db-pass-word@db.internal:5432/stagecoach',
  REDIS_URL: 'redis://:redis-pass-word@cache.internal:6379/2',
  INTERNAL_URL: 'http://10.0.0.5:3000/',
  CLUSTER_SECRET: SECRET,
  SECRETS_KEY: KEY,
  PUBLIC_URL: 'https://stagecoach.example.com',
  ...extra,
});

/** The problems loadConfig reports for `env` (it must throw a ConfigError). */
function problemsOf(env: Record<string, string | undefined>): string {
  let error: unknown;
  try {
    loadConfig(env, '/srv/app', HOST);
  } catch (err) {
    error = err;
  }
  expect(error).toBeInstanceOf(ConfigError);
  return (error as ConfigError).problems.join('\n');
}

describe('PG-50: the several-process settings', () => {
  it('absent DATABASE_URL is one process on the embedded SQLite, as before', () => {
    expect(loadConfig({}, '/srv/app', HOST).cluster).toBeNull();
  });

  it('reads DATABASE_URL, REDIS_URL, NODE_ID, INTERNAL_URL and CLUSTER_SECRET into a frozen cluster', () => {
    const c = loadConfig(cluster({ NODE_ID: 'node_a-1' }), '/srv/app', HOST);
    expect(c.cluster).toEqual({
      databaseUrl: 'postgres://stagecoach:db-pass-word@db.internal:5432/stagecoach',
      redisUrl: 'redis://:redis-pass-word@cache.internal:6379/2',
      nodeId: 'node_a-1',
      internalUrl: 'http://10.0.0.5:3000',
      clusterSecret: SECRET,
      nodeIdWaitMs: 10_000,
    });
    expect(Object.isFrozen(c.cluster)).toBe(true);
  });

  it('PG-59 NODE_ID_WAIT_MS: how long a start waits for its NODE_ID, 0 to 60,000 ms (default 10 s)', () => {
    const c = loadConfig(cluster({ NODE_ID_WAIT_MS: '250' }), '/', HOST);
    expect(c.cluster!.nodeIdWaitMs).toBe(250);
    expect(problemsOf(cluster({ NODE_ID_WAIT_MS: '-1' }))).toContain(
      'NODE_ID_WAIT_MS="-1": expected an integer from 0 to 60000',
    );
    expect(problemsOf({ NODE_ID_WAIT_MS: '250' })).toContain(
      'NODE_ID_WAIT_MS: only used with several processes; set DATABASE_URL',
    );
  });

  it('NODE_ID defaults to hostname-pid-random, shaped to its rule', () => {
    expect(loadConfig(cluster(), '/', HOST).cluster!.nodeId).toMatch(/^web-3-4242-[0-9a-f]{8}$/);
    const odd = loadConfig(cluster(), '/', { hostname: 'ünï cödé'.repeat(20), pid: 7 });
    expect(odd.cluster!.nodeId).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
    expect(odd.cluster!.nodeId).toMatch(/-7-[0-9a-f]{8}$/);
  });

  it('PG-188 two processes of one host name and one PID (containers: PID 1, a fixed hostname) get different default NODE_IDs; a NODE_ID set is kept as it is', () => {
    const replica = { hostname: 'stagecoach', pid: 1 };
    const ids = new Set(
      Array.from({ length: 20 }, () => loadConfig(cluster(), '/', replica).cluster!.nodeId),
    );
    expect(ids.size).toBe(20);
    expect(loadConfig(cluster({ NODE_ID: 'n1' }), '/', replica).cluster!.nodeId).toBe('n1');
  });

  it('takes every URL form the clients take', () => {
    for (const DATABASE_URL of [
      'postgresql://u@127.0.0.1/db',
      'postgres://u:p@[::1]:5433/db?sslmode=require',
      'postgres:///stagecoach?host=/var/run/postgresql',
    ])
      expect(loadConfig(cluster({ DATABASE_URL }), '/', HOST).cluster!.databaseUrl).toBe(
        DATABASE_URL,
      );
    for (const REDIS_URL of [
      'redis://127.0.0.1:6379',
      'rediss://user:pw@cache.example:6380/0',
      'unix:///run/redis/redis.sock',
      'unix://:pw@/run/redis/redis.sock?db=3',
    ])
      expect(loadConfig(cluster({ REDIS_URL }), '/', HOST).cluster!.redisUrl).toBe(REDIS_URL);
  });

  it('refuses bad values, every bad key at once', () => {
    const problems = problemsOf(
      cluster({
        DATABASE_URL: 'mysql://u@db/x',
        REDIS_URL: 'http://cache:6379',
        NODE_ID: 'has space',
        INTERNAL_URL: 'ftp://10.0.0.5',
        CLUSTER_SECRET: 'short',
      }),
    );
    for (const key of ['DATABASE_URL', 'REDIS_URL', 'NODE_ID', 'INTERNAL_URL', 'CLUSTER_SECRET'])
      expect(problems).toContain(key);
    for (const [key, value] of [
      ['DATABASE_URL', 'postgres://'],
      ['REDIS_URL', 'redis://cache/notanumber'],
      ['REDIS_URL', 'unix:///'],
      ['NODE_ID', 'x'.repeat(65)],
      ['INTERNAL_URL', 'http://10.0.0.5:3000/?a=1'],
      ['CLUSTER_SECRET', 'x'.repeat(31)],
    ] as const)
      expect(problemsOf(cluster({ [key]: value })), `${key}=${value}`).toContain(key);
  });
});

describe('PG-51: no setting error shows a secret', () => {
  it('never echoes CLUSTER_SECRET, and shows URLs with their password masked', () => {
    const shortSecret = 'not-long-enough-secret';
    const problems = problemsOf(
      cluster({
        CLUSTER_SECRET: shortSecret,
        DATABASE_URL: 'mysql://stagecoach:db-pass-word@db.internal/x',
        REDIS_URL: 'http://:redis-pass-word@cache.internal:6379',
        INTERNAL_URL: 'http://user:internal-pass@10.0.0.5:3000',
        PUBLIC_URL: 'https://user:public-pass@stagecoach.example.com',
      }),
    );
    for (const secret of [
      shortSecret,
      'db-pass-word',
      'redis-pass-word',
      'internal-pass',
      'public-pass',
    ])
      expect(problems).not.toContain(secret);
    expect(problems).toContain('mysql://stagecoach:***@db.internal/x');
    expect(problems).toContain('CLUSTER_SECRET: expected 32 to 1024 characters, got 22');
  });

  it('shows nothing of a URL that does not parse, and masks passwords in every form', () => {
    const problems = problemsOf(cluster({ DATABASE_URL: 'postgres://u:pw in space@@[bad' }));
    expect(problems).toContain('DATABASE_URL (not shown');
    expect(problems).not.toContain('pw in space');
    expect(maskedUrl('postgres://u@h/db?password=hunter2')).toBe('postgres://u@h/db?password=***');
    expect(maskedUrl('unix://u:hunter2@/run/redis.sock?db=1')).toBe(
      'unix://u:***@/run/redis.sock?db=1',
    );
    expect(maskedUrl('rediss://:hunter2@cache:6380')).toBe('rediss://:***@cache:6380');
  });
});

describe('PG-52: what several processes require, and what needs them', () => {
  it('DATABASE_URL requires SECRETS_KEY, PUBLIC_URL, REDIS_URL, INTERNAL_URL and CLUSTER_SECRET, each named', () => {
    const problems = problemsOf({ DATABASE_URL: cluster().DATABASE_URL });
    for (const key of [
      'SECRETS_KEY: required with DATABASE_URL',
      'PUBLIC_URL: required with DATABASE_URL',
      'REDIS_URL: required with DATABASE_URL',
      'INTERNAL_URL: required with DATABASE_URL',
      'CLUSTER_SECRET: required with DATABASE_URL',
    ])
      expect(problems).toContain(key);
    expect(problems).not.toContain('NODE_ID');
  });

  it('a cluster setting without DATABASE_URL is an error that says so', () => {
    const problems = problemsOf({ ...cluster({ NODE_ID: 'a' }), DATABASE_URL: undefined });
    for (const key of ['REDIS_URL', 'NODE_ID', 'INTERNAL_URL', 'CLUSTER_SECRET'])
      expect(problems).toContain(`${key}: only used with several processes; set DATABASE_URL`);
    expect(problems).not.toContain(SECRET);
    // SECRETS_KEY and PUBLIC_URL keep their single-process meaning.
    expect(problems).not.toContain('SECRETS_KEY');
    expect(problems).not.toContain('PUBLIC_URL');
  });

  it('the copy into PostgreSQL reads DATABASE_URL alone, checked the same way', () => {
    expect(loadDatabaseUrl({ DATABASE_URL: 'postgres://u@h/db' })).toBe('postgres://u@h/db');
    expect(() => loadDatabaseUrl({})).toThrow(/DATABASE_URL: required/);
    expect(() => loadDatabaseUrl({ DATABASE_URL: 'mysql://u:hunter2@h/db' })).toThrow(
      /mysql:\/\/u:\*\*\*@h\/db/,
    );
  });
});
