import { describe, expect, it } from 'vitest';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import pg from 'pg';
import { createClient } from 'redis';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { postgresBinDir, startPostgres } from '../helpers/postgres.ts';
import { startRedis } from '../helpers/redis.ts';

const cleanup = cleanupAfterEach();

/** A pg client closed after the test; its 'error' events are kept (the test waits on them). */
async function pgClient(url: string, options: pg.ClientConfig = {}) {
  const client = new pg.Client({ connectionString: url, ...options });
  const errors: Error[] = [];
  client.on('error', (e) => errors.push(e));
  cleanup.push(() => client.end().catch(() => {}));
  await client.connect();
  return { client, errors };
}

/** Resolves with the connect error: ECONNREFUSED when nothing listens on port. */
function connectError(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(undefined);
    });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code));
  });
}

describe('PG: throwaway PostgreSQL and Redis for tests', () => {
  it('PG-1 a throwaway PostgreSQL answers select version() through pg and is gone after cleanup', async () => {
    const mine: (() => unknown)[] = [];
    cleanup.push(async () => {
      for (const f of mine.splice(0).reverse()) await f();
    });
    const server = await startPostgres(mine);
    console.info(
      `PG-1 PostgreSQL start: initdb ${server.timings.initdbMs.toFixed(0)} ms, ` +
        `copy ${server.timings.copyMs.toFixed(0)} ms, pg_ctl start ${server.timings.startMs.toFixed(0)} ms`,
    );
    const client = new pg.Client({ connectionString: server.url });
    await client.connect();
    const { rows } = await client.query<{ version: string }>('select version()');
    expect(rows[0]!.version).toMatch(/^PostgreSQL \d+/);
    const settings = await client.query<{ fsync: string }>('show fsync');
    expect(settings.rows[0]!.fsync).toBe('off');
    const user = await client.query<{ current_user: string }>('select current_user');
    expect(user.rows[0]!.current_user).toBe('postgres');
    await client.end();

    expect(fs.existsSync(server.dir)).toBe(true);
    for (const f of mine.splice(0).reverse()) await f();
    expect(await connectError(server.port)).toBe('ECONNREFUSED');
    expect(fs.existsSync(server.dir)).toBe(false);
  });

  it('PG-1 without PostgreSQL installed, the error names the package to install', () => {
    expect(() => postgresBinDir('/nonexistent/postgresql')).toThrow(/`postgresql` package/);
    expect(postgresBinDir()).toMatch(/^\/usr\/lib\/postgresql\/\d+\/bin$/);
  });

  it('PG-2 a throwaway Redis answers PING through redis and pub/sub delivers a message', async () => {
    const server = await startRedis(cleanup);
    console.info(`PG-2 Redis start: ${server.startMs.toFixed(0)} ms`);
    const client = createClient({ url: server.url });
    client.on('error', () => {});
    cleanup.push(() => client.destroy());
    await client.connect();
    expect(await client.ping()).toBe('PONG');

    const overSocket = createClient({ socket: { path: server.socket, tls: false } });
    overSocket.on('error', () => {});
    cleanup.push(() => overSocket.destroy());
    await overSocket.connect();
    expect(await overSocket.ping()).toBe('PONG');

    const subscriber = client.duplicate();
    subscriber.on('error', () => {});
    cleanup.push(() => subscriber.destroy());
    await subscriber.connect();
    let delivered!: (message: string) => void;
    const message = new Promise<string>((resolve) => (delivered = resolve));
    // subscribe() resolves once Redis confirmed it, so the publish below reaches the subscriber.
    await subscriber.subscribe('drafts', (m) => delivered(m));
    expect(await client.publish('drafts', 'hello')).toBe(1);
    expect(await message).toBe('hello');

    await server.stop();
    expect(await connectError(server.port)).toBe('ECONNREFUSED');
  });

  it('PG-2 without redis-server installed, the error names the package to install', async () => {
    await expect(startRedis(cleanup, { command: 'redis-server-not-installed' })).rejects.toThrow(
      /`redis-server` package/,
    );
  });

  it('PG-3 a killed PostgreSQL is seen by its client (an error), and works again after restart', async () => {
    const server = await startPostgres(cleanup);
    const { client, errors } = await pgClient(server.url);
    await client.query('create table kept (n int)');
    await client.query('insert into kept values (1)');

    const lost = once(client, 'error');
    await server.kill();
    await lost;
    expect(errors.length).toBeGreaterThan(0);
    expect(await connectError(server.port)).toBe('ECONNREFUSED');
    await expect(pgClient(server.url)).rejects.toThrow(/ECONNREFUSED/);

    await server.restart();
    const again = await pgClient(server.url);
    const { rows } = await again.client.query<{ n: number }>('select n from kept');
    expect(rows).toEqual([{ n: 1 }]);

    // A paused (SIGSTOP) server hangs, its backends too: a query of an open connection waits
    // and a new connection times out; after resume the query is answered.
    server.pause();
    let answered = false;
    const pending = again.client.query('select 1 as one').then((r) => ((answered = true), r));
    await expect(pgClient(server.url, { connectionTimeoutMillis: 200 })).rejects.toThrow(
      /timeout/i,
    );
    expect(answered).toBe(false);
    server.resume();
    expect((await pending).rows).toEqual([{ one: 1 }]);
  });

  it('PG-3 a killed Redis is seen by its client (an error), and works again after restart', async () => {
    const server = await startRedis(cleanup);
    const client = createClient({
      url: server.url,
      disableOfflineQueue: true,
      socket: { reconnectStrategy: 20 },
    });
    client.on('error', () => {});
    cleanup.push(() => client.destroy());
    await client.connect();
    expect(await client.ping()).toBe('PONG');

    const subscriber = client.duplicate();
    subscriber.on('error', () => {});
    cleanup.push(() => subscriber.destroy());
    await subscriber.connect();
    const messages: string[] = [];
    let delivered = () => {};
    await subscriber.subscribe('drafts', (m) => (messages.push(m), delivered()));

    const lost = once(client, 'error');
    await server.kill();
    await lost;
    await expect(client.ping()).rejects.toThrow();

    // events.once would reject on the reconnect's 'error' events: wait for 'ready' alone.
    const back = Promise.all(
      [client, subscriber].map((c) => new Promise((resolve) => c.once('ready', resolve))),
    );
    await server.restart();
    await back;
    expect(await client.ping()).toBe('PONG');
    // The subscriber subscribed again by itself on its new connection.
    const got = new Promise<void>((resolve) => (delivered = resolve));
    expect(await client.publish('drafts', 'after the restart')).toBe(1);
    await got;
    expect(messages).toEqual(['after the restart']);
  });
});
