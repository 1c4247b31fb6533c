import { createHmac, randomBytes } from 'node:crypto';
import {
  createSignInLimiter,
  SIGN_IN_LIMITS,
  type SignInBegun,
  type SignInLimiter,
} from '../http/rate-limit.ts';
import type { Log } from './bus.ts';
import { withDeadline, type RedisClient } from './redis-connection.ts';
import { BEGIN, LOCKED, SUCCEEDED, UNLOCK } from './sign-in-scripts.ts';

export interface RedisSignInOptions {
  /** A client of `redisClient` (server/cluster/redis-connection.ts); it may not be connected yet. */
  client: RedisClient;
  /**
   * The key of the keyed hash that names emails and addresses in Redis (PG-64): the same on every
   * process (derive it from SECRETS_KEY, see `signInHashKey`).
   */
  hashKey: Buffer;
  limits?: typeof SIGN_IN_LIMITS;
  /** Prefix of every key; one per installation sharing a Redis. */
  prefix?: string;
  /** How long an answer from Redis may take before this process decides alone. */
  timeoutMs?: number;
  log?: Log;
}

export interface RedisSignInLimiter extends SignInLimiter {
  /** Answers decided by Redis (shared) and by this process's counts (Redis unavailable). */
  counts(): { shared: number; local: number };
}

/** The hash key for sign-in counters, derived from SECRETS_KEY (never the key itself). */
export function signInHashKey(secretsKey: Buffer): Buffer {
  return createHmac('sha256', secretsKey).update('stagecoach sign-in limit keys').digest();
}

/**
 * The sign-in limits (SEC-19) counted in Redis, shared by every process (PG-63): the same sliding
 * windows as `createSignInLimiter`, each a sorted set of attempt times, checked and counted in one
 * Lua script so parallel guesses through different processes cannot all pass. Redis keys hold a
 * keyed hash of the email and the address, never the values (PG-64).
 *
 * Redis unavailable (down, or slower than `timeoutMs`): this process's own counts decide, so
 * sign-in never fails because of Redis and the limits hold per process (PG-65). Those counts are
 * kept all along (every attempt Redis allows is counted here too), so an outage starts from this
 * process's recent attempts, not from zero.
 */
export function createRedisSignInLimiter({
  client,
  hashKey,
  limits = SIGN_IN_LIMITS,
  prefix = 'stagecoach:signin:',
  timeoutMs = 250,
  log = () => {},
}: RedisSignInOptions): RedisSignInLimiter {
  const local = createSignInLimiter(limits);
  const counts = { shared: 0, local: 0 };
  let fallingBack = false;

  // 128 bits of HMAC-SHA256: an unkeyed hash of an IPv4 address (2^32) or of a known email is
  // reversed by trying them all; with the key, reading Redis tells nobody who tried to sign in.
  const h = (kind: string, value: string) =>
    createHmac('sha256', hashKey).update(`${kind}\0${value}`).digest('base64url').slice(0, 22);
  const keysOf = (email: string) => {
    const account = h('account', email);
    return { account: `${prefix}u:${account}`, pairs: `${prefix}ps:${account}` };
  };
  const pairOf = (email: string, addr: string) => h('pair', `${email}\0${addr}`);
  const pairKey = (pair: string) => `${prefix}p:${pair}`;

  /** Runs against Redis; undefined when Redis did not answer in time (this process decides then). */
  async function shared<T>(run: (redis: RedisClient) => Promise<T>): Promise<T | undefined> {
    if (client.isReady)
      try {
        const answer = await withDeadline(run(client), timeoutMs);
        counts.shared++;
        if (fallingBack) log('sign-in limits: shared through Redis again');
        fallingBack = false;
        return answer;
      } catch (err) {
        if (!fallingBack)
          log('sign-in limits: Redis did not answer; counting in this process', err);
        fallingBack = true;
      }
    counts.local++;
    return undefined;
  }

  return {
    async begin(email, addr, now = Date.now()): Promise<SignInBegun> {
      const pair = pairOf(email, addr);
      const keys = [
        pairKey(pair),
        `${prefix}a:${h('address', addr)}`,
        keysOf(email).account,
        `${prefix}k:${pair}`,
        keysOf(email).pairs,
      ];
      const member = `${now}:${randomBytes(6).toString('hex')}`;
      const { perAccountAddress: p, perAddress: a, perAccount: u } = limits;
      const wait = await shared((r) =>
        r.eval(BEGIN, {
          keys,
          arguments: [
            now,
            member,
            p.max,
            p.windowMs,
            a.max,
            a.windowMs,
            u.max,
            u.windowMs,
            pair,
          ].map(String),
        }),
      );
      if (wait === undefined) return local.begin(email, addr, now);
      if (Number(wait) > 0) return { wait: Number(wait) };
      // Counted here too, for an outage to come; Redis decided, so this answer is not used.
      const mirrored = local.begin(email, addr, now);
      return {
        attempt: {
          async succeeded() {
            if ('attempt' in mirrored) mirrored.attempt.succeeded();
            await shared((r) =>
              r.eval(SUCCEEDED, {
                keys: keys.slice(0, 4),
                arguments: [member, String(limits.knownAddressMs)],
              }),
            );
          },
        },
      };
    },

    async locked(emails, now = Date.now()) {
      const { perAccountAddress: p, perAccount: u } = limits;
      const answers = await shared((r) =>
        Promise.all(
          emails.map((email) =>
            r.eval(LOCKED, {
              keys: [keysOf(email).account, keysOf(email).pairs],
              arguments: [
                `(${now - u.windowMs}`,
                String(u.max),
                `(${now - p.windowMs}`,
                String(p.max),
                `${prefix}p:`,
              ],
            }),
          ),
        ),
      );
      if (answers === undefined) return local.locked(emails, now);
      return new Set(emails.filter((_, i) => Number(answers[i]) === 1));
    },

    async unlock(email) {
      // Here too: while Redis is down this process's counts are the ones that hold the account.
      local.unlock(email);
      const { account, pairs } = keysOf(email);
      await shared((r) => r.eval(UNLOCK, { keys: [account, pairs], arguments: [`${prefix}p:`] }));
    },

    counts: () => ({ ...counts }),
  };
}
