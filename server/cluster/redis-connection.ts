import { createClient, type RedisClientOptions } from 'redis';
import type { Log } from './bus.ts';

/**
 * Reconnect backoff (PG-61): doubling from 25 ms, capped at 500 ms, with jitter so processes that
 * lost Redis together do not knock at once. The cap is low because a removal made while Redis was
 * down must close sockets within a second of Redis coming back (PG-62): the reconnect is that
 * second's first half.
 */
export const RECONNECT_FIRST_MS = 25;
export const RECONNECT_MAX_MS = 500;

export function reconnectDelay(retries: number): number {
  const ceiling = Math.min(RECONNECT_MAX_MS, RECONNECT_FIRST_MS * 2 ** Math.min(retries, 10));
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

/** Commands waiting for an answer on one connection, at most: beyond it they fail at once. */
const MAX_QUEUED_COMMANDS = 10_000;

/** `redis://…`, `rediss://…`, or a unix socket (`/path` or `unix:///path`). */
function target(url: string): Pick<RedisClientOptions, 'url' | 'socket'> {
  const socket = { reconnectStrategy: reconnectDelay, connectTimeout: 2000 };
  const path = url.startsWith('unix://') ? url.slice('unix://'.length) : url;
  return path.startsWith('/') ? { socket: { ...socket, path, tls: false } } : { url, socket };
}

/**
 * A client that never waits for Redis: while it is not connected every command fails at once
 * (no offline queue), and it reconnects by itself. Logs the start and the end of each outage once
 * (node-redis reports every failed reconnect as an 'error'), with the error's message only: never
 * the URL, which may hold a password. Not connected yet: call `connect()` and do not await it where
 * a start must not wait for Redis (its promise settles on the first success).
 */
export function redisClient(url: string, name: string, log: Log): RedisClient {
  const client = newClient(url);
  let down = false;
  client.on('error', (err: unknown) => {
    if (down) return;
    down = true;
    log(`redis (${name}) unavailable; retrying`, err);
  });
  client.on('ready', () => {
    if (!down) return;
    down = false;
    log(`redis (${name}) available again`);
  });
  return client;
}

function newClient(url: string) {
  return createClient({
    ...target(url),
    disableOfflineQueue: true,
    commandsQueueMaxLength: MAX_QUEUED_COMMANDS,
  });
}
export type RedisClient = ReturnType<typeof newClient>;

/** Starts connecting without waiting: a failure is logged by the client and retried. */
export function connectInBackground(client: RedisClient): Promise<void> {
  return client.connect().then(
    () => {},
    () => {}, // rejects only when closed before it ever connected
  );
}

/**
 * Rejects when `promise` has not settled within `ms`. node-redis's own command timeout stops
 * counting once the command is written, so a Redis that hangs (paused, overloaded) would hold the
 * caller; the command itself stays queued until Redis answers or the connection drops (bounded by
 * MAX_QUEUED_COMMANDS, past which commands fail at once).
 */
export function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`redis did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}
