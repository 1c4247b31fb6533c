import { createHmac } from 'node:crypto';
import { AppError } from '#schema/errors.ts';
import type { IdempotencyStore } from '../store/idempotency.ts';
import type { Credential } from './accounts.ts';
import { LIMITS, requireBelow } from './limits.ts';
import { DAY } from '../lib/time.ts';

/** How long a key's first answer is replayed. */
export const IDEMPOTENCY_TTL_MS = DAY;
/** Largest answer body kept (bytes of its text); a larger answer is not kept (`idempotency_unavailable`). */
export const IDEMPOTENCY_MAX_ANSWER_BYTES = 64 * 1024;
/** Seconds a caller is told to wait while the first request with its key is still running. */
const IN_PROGRESS_RETRY_AFTER = 1;

const KEY = /^[\x20-\x7e]{1,255}$/;

/** Who sent a mutating request with an Idempotency-Key, and the key. */
export interface KeyHolder {
  userId: string;
  credential: Credential;
  key: string;
}

/** The request the key was sent with. */
export interface KeyedRequest {
  method: string;
  /** The path with its query string. */
  path: string;
  body: string;
}

/** An answer as it is replayed. */
export interface StoredAnswer {
  status: number;
  contentType: string | null;
  body: string;
}

/** What the request ran to: its answer, and whether the answer holds a secret shown once. */
export interface FinalAnswer extends StoredAnswer {
  holdsSecret: boolean;
}

/** A key held by one running request until `finish` or `abandon`. */
export interface Claim {
  /**
   * Once the body arrived: the kept answer to replay, or `run` (then `finish`). Refuses a key
   * used for another request (422), one whose answer is not kept (409), and a new key past the
   * daily bound (409 limit_reached).
   */
  check(request: KeyedRequest): Promise<{ kind: 'replay'; answer: StoredAnswer } | { kind: 'run' }>;
  /** Keeps the answer (not 5xx or 429), then frees the key. */
  finish(answer: FinalAnswer): Promise<void>;
  /** Frees the key without keeping anything (a replay, a refusal, a request that failed). */
  abandon(): void;
}

/**
 * Idempotent writes (IDEM-1 … IDEM-9): the first request with a key, per user and credential (an
 * API token, or a session), runs; its answer is kept 24 hours and a repeat of the same request
 * (method, path, body) gets it again instead of running. The same key with another request is
 * refused (422), a repeat while the first still runs is refused (409, Retry-After), 5xx and 429
 * answers are not kept (a retry runs again), and answers that hold a secret shown once (a new API
 * token, runtime key, share link, invitation or reset link) are never kept: a repeat runs nothing
 * and answers `409 idempotency_unavailable`.
 *
 * Claims and look-ups are synchronous, so two requests racing with one key cannot both run (one
 * process serves the database). Request hashes are keyed (HMAC): a request body may hold a secret's
 * value, and the database must not offer a hash to guess it from.
 */
export function createIdempotency(deps: {
  store: IdempotencyStore;
  /** Key of the request hashes (derived from the secrets key). */
  hashKey: Buffer;
  now?: () => number;
  maxAnswerBytes?: number;
  maxKeysPerUserPerDay?: number;
}) {
  const { store } = deps;
  const now = deps.now ?? Date.now;
  const maxAnswerBytes = deps.maxAnswerBytes ?? IDEMPOTENCY_MAX_ANSWER_BYTES;
  const maxKeys = deps.maxKeysPerUserPerDay ?? LIMITS.IDEMPOTENCY_KEYS_PER_USER_PER_DAY;
  /** Keys whose first request is running (or still sending its body). */
  const running = new Set<string>();

  const hashOf = (r: KeyedRequest): string =>
    createHmac('sha256', deps.hashKey)
      .update(`${r.method.toUpperCase()}\n${r.path}\n`)
      .update(r.body)
      .digest('hex');

  return {
    /**
     * Claims the key as the request's headers arrive, before its body: a repeat while the first
     * request still runs (or still sends its body) is refused with `409 idempotency_in_progress`
     * and Retry-After, whatever it sends.
     */
    begin(who: KeyHolder): Claim {
      if (!KEY.test(who.key)) throw new AppError('invalid_idempotency_key');
      const credential = `${who.credential.kind}:${who.credential.id}`;
      const scope = JSON.stringify([who.userId, credential, who.key]);
      if (running.has(scope))
        throw new AppError('idempotency_in_progress', undefined, {
          retryAfter: IN_PROGRESS_RETRY_AFTER,
        });
      running.add(scope);
      let done = false;
      let hash: string | null = null;
      const release = () => {
        if (done) return false;
        done = true;
        running.delete(scope);
        return true;
      };
      return {
        async check(r) {
          if (done) throw new Error('idempotency claim already released');
          hash = hashOf(r);
          const t = now();
          const stored = await store.find(who.userId, credential, who.key, t - IDEMPOTENCY_TTL_MS);
          if (stored) {
            if (stored.requestHash !== hash) throw new AppError('idempotency_key_reused');
            if (stored.body === null) throw new AppError('idempotency_unavailable');
            return {
              kind: 'replay',
              answer: { status: stored.status, contentType: stored.contentType, body: stored.body },
            };
          }
          requireBelow(
            'IDEMPOTENCY_KEYS_PER_USER_PER_DAY',
            maxKeys,
            await store.countSince(who.userId, t - IDEMPOTENCY_TTL_MS),
            `At most ${maxKeys} idempotency keys per person in 24 hours: send this without an Idempotency-Key, or wait.`,
          );
          return { kind: 'run' };
        },
        async finish(answer) {
          if (!release() || hash === null) return;
          // A server failure or a rate limit says nothing final: a retry may run again.
          if (answer.status >= 500 || answer.status === 429) return;
          const kept =
            !(answer.holdsSecret && answer.status < 300) &&
            Buffer.byteLength(answer.body) <= maxAnswerBytes;
          await store.save({
            userId: who.userId,
            credential,
            key: who.key,
            requestHash: hash,
            status: answer.status,
            contentType: kept ? answer.contentType : null,
            body: kept ? answer.body : null,
            createdAt: now(),
          });
        },
        abandon() {
          release();
        },
      };
    },

    /** Deletes keys older than 24 hours; answers how many. */
    async sweep(at = now()): Promise<number> {
      return await store.deleteBefore(at - IDEMPOTENCY_TTL_MS);
    },
  };
}

export type Idempotency = ReturnType<typeof createIdempotency>;
