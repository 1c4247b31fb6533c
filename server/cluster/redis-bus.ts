import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { Listeners, type ClusterBus, type Log } from './bus.ts';
import {
  ClusterMessage,
  MAX_MESSAGE_BYTES,
  readEnvelope,
  type ClusterMessageType,
  type Envelope,
} from './messages.ts';
import { connectInBackground, redisClient } from './redis-connection.ts';

export interface RedisBusOptions {
  /** REDIS_URL. */
  url: string;
  /** The pub/sub channel; one per installation sharing a Redis. */
  channel?: string;
  /**
   * CLUSTER_SECRET (PG-66): each envelope is signed (HMAC-SHA256 under a key derived from it) and a
   * received one whose signature does not verify is dropped, so whoever can write to Redis cannot
   * close people's connections or wake every process. Absent (tests): unsigned envelopes.
   */
  secret?: string;
  log?: Log;
}

export interface RedisBus extends ClusterBus {
  /** Settles once both connections were ready the first time (tests wait on it; a start never does). */
  readonly ready: Promise<void>;
}

/**
 * Sends still waiting for Redis's answer, at most (a Redis that hangs rather than refuses): beyond,
 * `publish` drops, so callers never wait and memory stays bounded (PG-61).
 */
export const MAX_SENDS_IN_FLIGHT = 1000;

/**
 * Messages whose loss would leave a connection open or a rule stale on another process (PG-180):
 * when their send is dropped or fails, the sender keeps them and sends them again once Redis takes
 * sends again. Only the sender can know a send was lost: the receivers' connections may never have
 * failed, so their own resync would not run. Wake-ups (project and delivery events) are not kept:
 * a late one wakes nothing a reader would not read anyway.
 */
const KEPT: ReadonlySet<ClusterMessageType> = new Set([
  'closeUser',
  'credentialEnded',
  'closeDraft',
  'flowRulesChanged',
]);

/**
 * Kept messages waiting to be sent again, at most (one each: a repeat of one waiting is not kept
 * twice). Past it the sender forgets them and, once it can send, asks every process to run its
 * re-validation sweep instead (a `resync` message), which re-reads what they would have said.
 */
export const MAX_OWED = 1000;

/** How often a bus that owes messages tries to send them while nothing else prompts it. */
export const OWED_RETRY_MS = 200;

/**
 * The bus between processes over Redis pub/sub (PG-60 … PG-62): one publishing and one subscribed
 * connection. A message is delivered to this process's listeners inside `publish` and skipped when
 * it comes back from Redis (its envelope names this bus), so the publisher never waits on Redis.
 * Received payloads are size-checked and validated (zod) before any listener sees them; junk is
 * counted and dropped. While Redis is down `publish` drops and counts; each time both connections
 * are back after an outage, `onResynced` listeners run once.
 */
export function createRedisBus({
  url,
  channel = 'stagecoach:cluster',
  secret,
  log = () => {},
}: RedisBusOptions): RedisBus {
  const key = secret ? createHmac('sha256', secret).update('stagecoach bus v1').digest() : null;
  const sign = (json: string) => createHmac('sha256', key!).update(json).digest('hex');
  /** The envelope's JSON when its signature verifies (or no secret is set), else null. */
  const verified = (raw: string): string | null => {
    if (!key) return raw;
    const dot = raw.indexOf('.');
    if (dot !== 64) return null;
    const given = Buffer.from(raw.slice(0, 64), 'hex');
    const json = raw.slice(65);
    const wanted = Buffer.from(sign(json), 'hex');
    return given.length === wanted.length && timingSafeEqual(given, wanted) ? json : null;
  };
  const self = randomUUID();
  const listeners = new Listeners(log);
  const counts = listeners.counts;
  const publisher = redisClient(url, 'bus publisher', log);
  const subscriber = redisClient(url, 'bus subscriber', log);

  const receive = (raw: string) => {
    if (raw.length > MAX_MESSAGE_BYTES + 65) return void counts.droppedOversized++;
    const json = verified(raw);
    if (json === null) return void counts.droppedMalformed++;
    const read = readEnvelope(json);
    if ('dropped' in read) {
      if (read.dropped === 'oversized') counts.droppedOversized++;
      else counts.droppedMalformed++;
      return;
    }
    if (read.envelope.from === self) return; // delivered when it was published
    counts.received++;
    const message = read.envelope.message;
    if (message.type === 'resync') listeners.resynced();
    else listeners.deliver(message);
  };

  // What this process could not send and must (PG-180), keyed by its JSON so a repeat waits once.
  const owed = new Map<string, ClusterMessage>();
  let owedResync = false;
  let retry: NodeJS.Timeout | undefined;
  let closed = false;
  const owe = (message: ClusterMessage, json: string) => {
    if (closed) return;
    if (message.type === 'resync') owedResync = true;
    else if (!KEPT.has(message.type)) return;
    else if (owed.size < MAX_OWED || owed.has(json)) owed.set(json, message);
    else owedResync = true;
    retry ??= setTimeout(() => ((retry = undefined), settleOwed()), OWED_RETRY_MS).unref();
  };
  /** Sends what is owed while Redis takes sends; what fails is owed again (and retried). */
  const settleOwed = () => {
    if (!publisher.isReady) return; // its 'ready' calls again
    for (const [json, message] of owed) {
      if (counts.sending >= MAX_SENDS_IN_FLIGHT) break; // a send's end calls again
      owed.delete(json);
      counts.resent++;
      send(message, json);
    }
    if (owedResync && owed.size === 0 && counts.sending < MAX_SENDS_IN_FLIGHT) {
      owedResync = false;
      const resync: ClusterMessage = { type: 'resync' };
      send(resync, envelope(resync));
    }
  };
  const envelope = (message: ClusterMessage) =>
    JSON.stringify({ from: self, message } satisfies Envelope);
  const send = (message: ClusterMessage, json: string) => {
    if (!publisher.isReady || counts.sending >= MAX_SENDS_IN_FLIGHT) {
      counts.droppedUnavailable++;
      return owe(message, json);
    }
    counts.sending++;
    publisher
      .publish(channel, key ? `${sign(json)}.${json}` : json)
      .then(
        () => {},
        () => (counts.droppedUnavailable++, owe(message, json)),
      )
      .finally(() => {
        counts.sending--;
        if (owed.size > 0 || owedResync) settleOwed();
      });
  };

  // Messages can be lost whenever a connection is not up: after any error of either, and before
  // both first come up when that did not happen at once. The resync runs when both are up again
  // (so what it publishes is sent). node-redis subscribes again before it emits 'ready' (PG-3), so
  // a sweep started then misses nothing published after it. The first subscription is made on the
  // subscriber's first 'ready' (one made before would be dropped with the failed connection) and
  // tried again on its next 'ready' when that connection fails first.
  let everUp = false;
  let missed = false;
  let subscribed = false;
  let firstUp!: () => void;
  const ready = new Promise<void>((resolve) => (firstUp = resolve));
  const up = () => {
    if (!subscribed || !subscriber.isReady || !publisher.isReady) return;
    const resync = everUp || missed;
    everUp = true;
    missed = false;
    firstUp();
    if (resync) listeners.resynced();
  };
  for (const client of [publisher, subscriber]) client.on('error', () => (missed = true));
  publisher.on('ready', () => (up(), settleOwed()));
  subscriber.on('ready', () => {
    if (subscribed) return up();
    subscriber.subscribe(channel, receive).then(
      () => ((subscribed = true), up()),
      () => (missed = true),
    );
  });
  void connectInBackground(publisher);
  void connectInBackground(subscriber);

  return {
    ready,
    publish(message) {
      counts.published++;
      listeners.deliver(message);
      // Checked as the receivers will check it, so a bug here (a reason over 200 characters)
      // shows in this process's counts and log, not as junk dropped by every other one.
      const json = envelope(message);
      if (Buffer.byteLength(json) > MAX_MESSAGE_BYTES) {
        counts.droppedOversized++;
        log(`cluster bus: a ${message.type} message over ${MAX_MESSAGE_BYTES} bytes was not sent`);
        return;
      }
      if (!ClusterMessage.safeParse(message).success) {
        counts.droppedMalformed++;
        log(`cluster bus: an invalid ${message.type} message was not sent`);
        return;
      }
      send(message, json);
    },
    on: (type, listener) => listeners.on(type, listener),
    onResynced: (listener) => listeners.onResynced(listener),
    counts: () => ({ ...counts }),
    async close() {
      closed = true;
      clearTimeout(retry);
      owed.clear();
      owedResync = false;
      for (const client of [subscriber, publisher]) if (client.isOpen) client.destroy();
    },
  };
}
