import { randomUUID } from 'node:crypto';
import createClient from 'openapi-fetch';
import type { paths } from './api.d.ts';
import { CliError } from './errors.ts';
import { EXIT } from './exit-codes.ts';

/**
 * The CLI's only way to the server (CLI-10, CLI-11): the client openapi-fetch generates from
 * `paths` (cli/api.d.ts, itself generated from the OpenAPI document), with a bearer token, bounded
 * retries for what is safe to retry, and an `Idempotency-Key` on every write.
 */
type Method = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';
type Lower<M extends Method> = Lowercase<M>;
/** The document's paths that have an operation for `M`. */
export type PathWith<M extends Method> = {
  [P in keyof paths]: paths[P] extends Record<Lower<M>, infer Op>
    ? Op extends object
      ? P
      : never
    : never;
}[keyof paths] &
  string;
type Json<R> = R extends { content: { 'application/json': infer J } } ? J : undefined;
/** What a successful answer of the operation holds (its 2xx JSON bodies), as the document says. */
export type Answer<M extends Method, P extends PathWith<M>> = paths[P][Lower<M>] extends {
  responses: infer R;
}
  ? Json<R[Extract<keyof R, 200 | 201 | 202 | 204>]>
  : never;

export interface Params {
  path?: Record<string, string>;
  query?: Record<string, string | undefined>;
}

export interface ApiOptions {
  url: string;
  token: string;
  /** Prefix of every step's Idempotency-Key (`--idempotency-key`): a re-run job reuses its keys. */
  keyPrefix?: string;
  /** Said on stderr before a retry. */
  say: (line: string) => void;
  /** Retries of one step after the first try (network, 429, 503, a key still in progress). */
  retries?: number;
  /** First backoff in ms (doubles each retry, with jitter). */
  backoffMs?: number;
}

/** One try's outcome as openapi-fetch gives it. */
interface Attempt {
  data?: unknown;
  error?: unknown;
  response: Response;
}

const MAX_RETRY_AFTER_MS = 60_000;
/** Keys of one step whose replayed refusals are skipped before giving up (`--idempotency-key`). */
const MAX_REPLAYED_REFUSALS = 50;
const REQUEST_TIMEOUT_MS = 90_000;

export class Api {
  readonly #client: ReturnType<typeof createClient<paths>>;
  readonly #options: ApiOptions;
  #steps = new Map<string, number>();

  constructor(options: ApiOptions) {
    this.#options = options;
    this.#client = createClient<paths>({
      baseUrl: options.url.replace(/\/+$/, ''),
      headers: { authorization: `Bearer ${options.token}` },
    });
  }

  /** A read (GET): retried like a write, without a key (reads change nothing). */
  get<P extends PathWith<'GET'>>(path: P, params: Params = {}): Promise<Answer<'GET', P>> {
    return this.#send('GET', path, params, undefined, undefined);
  }

  /**
   * A write: ONE Idempotency-Key for this step, reused by every retry of it, so a step retried
   * after a lost answer never runs twice (CLI-11). `step` names it (with `--idempotency-key`, the
   * key is `<prefix>.<step>`, plus `.<n>` for the n-th separate attempt of the same step).
   */
  async write<M extends Exclude<Method, 'GET'>, P extends PathWith<M>>(
    method: M,
    path: P,
    step: string,
    params: Params,
    body?: unknown,
  ): Promise<Answer<M, P>> {
    for (let replays = 0; ; replays++) {
      const n = (this.#steps.get(step) ?? 0) + 1;
      this.#steps.set(step, n);
      const key = this.#options.keyPrefix
        ? `${this.#options.keyPrefix}.${step}${n > 1 ? `.${n}` : ''}`
        : randomUUID();
      try {
        return await this.#send(method, path, params, body, key);
      } catch (e) {
        // A refusal (4xx) replayed from an earlier run of this step (`--idempotency-key`): it moved
        // nothing then, so the step's next key is safe, and asks the server as things are now.
        if (!(e instanceof CliError && e.replayed) || replays >= MAX_REPLAYED_REFUSALS) throw e;
        this.#options.say(`${e.id} was an earlier run's answer (key ${key}): asking again`);
      }
    }
  }

  async #send<T>(
    method: Method,
    path: string,
    params: Params,
    body: unknown,
    key: string | undefined,
  ): Promise<T> {
    const retries = this.#options.retries ?? 4;
    const base = this.#options.backoffMs ?? 500;
    for (let attempt = 0; ; attempt++) {
      let outcome: Attempt;
      try {
        outcome = await this.#try(method, path, params, body, key);
      } catch (e) {
        if (e instanceof CliError) throw e;
        const why =
          e instanceof Error ? (e.cause instanceof Error ? e.cause.message : e.message) : String(e);
        if (attempt >= retries)
          throw new CliError(
            'network',
            `Could not reach ${this.#options.url}: ${why}`,
            { attempts: attempt + 1 },
            EXIT.retryable,
          );
        const wait = backoff(base, attempt);
        this.#options.say(`network error (${why}); retrying in ${seconds(wait)}`);
        await sleep(wait);
        continue;
      }
      const { response } = outcome;
      if (response.ok) return outcome.data as T;
      const err = errorOf(outcome.error, response.status);
      if (response.headers.get('idempotent-replayed') === 'true' && response.status < 500)
        err.replayed = true;
      const retryable =
        response.status === 429 ||
        response.status === 503 ||
        err.id === 'idempotency_in_progress' ||
        (response.status >= 502 && response.status <= 504);
      if (!retryable || attempt >= retries || err.id === 'too_many_attempts') throw err;
      const after = retryAfter(response.headers.get('retry-after'));
      const wait = after ?? backoff(base, attempt);
      this.#options.say(`${err.id} (${response.status}); retrying in ${seconds(wait)}`);
      await sleep(wait);
    }
  }

  async #try(method: Method, path: string, params: Params, body: unknown, key: string | undefined) {
    const headers: Record<string, string> = key ? { 'idempotency-key': key } : {};
    const init = {
      params,
      headers,
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      ...(body === undefined ? {} : { body }),
    };
    // The generated client, called by path string; paths are checked against `paths` above.
    const request = this.#client.request as unknown as (
      m: string,
      p: string,
      i: typeof init,
    ) => Promise<Attempt>;
    return await request(method.toLowerCase(), path, init);
  }
}

/** The server's `{error: {id, message, details}}` as a CliError (or a fault without a body). */
function errorOf(body: unknown, status: number): CliError {
  const e = (body as { error?: { id?: unknown; message?: unknown; details?: unknown } } | undefined)
    ?.error;
  if (e && typeof e.id === 'string')
    return new CliError(
      e.id,
      typeof e.message === 'string' ? e.message : e.id,
      e.details,
      undefined,
      status,
    );
  return new CliError(
    status >= 500 ? 'server_fault' : 'usage',
    `The server answered ${status} without an error body.`,
    { status },
    undefined,
    status,
  );
}

function backoff(base: number, attempt: number): number {
  const exp = base * 2 ** attempt;
  return Math.round(exp / 2 + Math.random() * (exp / 2));
}

/** Retry-After in seconds or as an HTTP date; bounded. */
function retryAfter(header: string | null): number | undefined {
  if (!header) return undefined;
  const s = Number(header);
  const ms = Number.isFinite(s) ? s * 1000 : Date.parse(header) - Date.now();
  if (!Number.isFinite(ms)) return undefined;
  return Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS);
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
