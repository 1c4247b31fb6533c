import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { AppError, ERRORS, type ErrorBody } from '#schema/errors.ts';
import type { HealthView, WhoAmI } from '#schema/api.ts';
import type { AppDeps, AppEnv } from './context.ts';
import { authenticate } from '../request/authenticate.ts';
import { hopOfContext, requestScheme } from '../request/client.ts';
import { jsonOnly } from './json-only.ts';
import { idempotentWrites } from './idempotency.ts';
import { createSignInLimiter } from './rate-limit.ts';
import { accountRoutes, publicAccountRoutes } from './routes/accounts.ts';
import { projectRoutes } from './routes/projects.ts';
import { releaseRoutes } from './routes/releases.ts';
import { accessRoutes } from './routes/access.ts';
import { approvalRoutes } from './routes/approvals.ts';
import { publicShareRoutes, shareRoutes } from './routes/shares.ts';
import { localRoutes } from './routes/local.ts';
import { deliveryRoutes } from './routes/delivery.ts';
import { notificationRoutes } from './routes/notifications.ts';
import { eventRoutes } from './routes/events.ts';
import { webhookRoutes } from './routes/webhooks.ts';
import { op } from './describe.ts';
import openApiDocument from '../../schema/openapi.json' with { type: 'json' };
import { renderApiDocs, type OpenApiDocument } from './api-docs.ts';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
/** Largest body of a request without a valid credential (the anonymous routes take a few KB). */
const ANONYMOUS_BODY_BYTES = 64 * 1024;

/** Builds the HTTP API without listening; `server/main.ts` serves it, tests call `app.request()`. */
export function createApp(deps: AppDeps) {
  const principalOf = async (c: Context<AppEnv>) =>
    await authenticate(
      deps.accounts,
      {
        authorization: c.req.header('authorization'),
        cookie: c.req.header('cookie'),
        queryToken: undefined,
        origin: c.req.header('origin'),
        host: c.req.header('host'),
        scheme: requestScheme(hopOfContext(c), deps.trustProxy),
        needsOriginCheck: !SAFE_METHODS.has(c.req.method),
      },
      deps.allowedOrigins,
    );
  const requireAuth = async function requireAuth(c: Context<AppEnv>, next: () => Promise<void>) {
    c.set('principal', await principalOf(c));
    await next();
  };
  /**
   * What an anonymous request (sign-in, set-up, invitation, reset link, share feedback) sends is
   * small; with the signed-in limit, anyone could make the server hold MAX_BODY_BYTES for every
   * connection that sends all but the last byte of a body (30 connections: +500 MB).
   */
  const limitBodies = async function limitBodies(c: Context<AppEnv>, next: () => Promise<void>) {
    let signedIn = false;
    if (c.req.header('authorization') !== undefined || c.req.header('cookie') !== undefined) {
      try {
        await principalOf(c);
        signedIn = true;
      } catch {
        // anonymous (or refused later by requireAuth)
      }
    }
    const maxSize = signedIn
      ? deps.maxBodyBytes
      : Math.min(deps.maxBodyBytes, ANONYMOUS_BODY_BYTES);
    return bodyLimit({
      maxSize,
      onError: () => {
        throw new AppError('body_too_large', `The request body is larger than ${maxSize} bytes.`);
      },
    })(c, next);
  };

  /**
   * Bytes of request bodies each account may have arriving at once: twice MAX_BODY_BYTES. A body
   * is held in memory until its last byte, so one account's connections (any account: it takes
   * no role to POST /api/tokens) each sending all but the last byte of 16 MiB made the server hold
   * 16 MiB each (30 connections: +500 MB). Counted by the declared length (a chunked body counts
   * as the largest allowed) from before the body is read until the answer.
   */
  const bodyBytesInFlight = new Map<string, number>();
  const limitBodiesPerAccount = async function limitBodiesPerAccount(
    c: Context<AppEnv>,
    next: () => Promise<void>,
  ) {
    const length = c.req.header('content-length');
    const declared =
      length !== undefined
        ? Number(length) || 0
        : c.req.header('transfer-encoding') !== undefined
          ? deps.maxBodyBytes
          : 0;
    if (declared === 0) return next();
    const id = c.get('principal').user.id;
    const held = bodyBytesInFlight.get(id) ?? 0;
    if (held + declared > 2 * deps.maxBodyBytes)
      throw new AppError(
        'rate_limited',
        'Too many large requests of this account are still arriving: wait for them to finish.',
      );
    bodyBytesInFlight.set(id, held + declared);
    try {
      await next();
    } finally {
      const left = (bodyBytesInFlight.get(id) ?? declared) - declared;
      if (left > 0) bodyBytesInFlight.set(id, left);
      else bodyBytesInFlight.delete(id);
    }
  };

  // The committed document (`npm run openapi`), serialized once: public reference, no instance data.
  const openApiText = JSON.stringify(openApiDocument);
  let apiDocs: ReturnType<typeof renderApiDocs> | undefined;

  // One limiter for sign-ins and for the admin's unlock.
  const signIns = deps.signIns ?? createSignInLimiter();
  const api = new Hono<AppEnv>()
    .use(limitBodies)
    .use(jsonOnly())
    .get(
      '/health',
      op({
        id: 'getHealth',
        tag: 'Meta',
        auth: 'public',
        summary: 'Whether the server answers',
        answers: { 200: 'HealthView' },
      }),
      (c) => c.json({ ok: true } satisfies HealthView),
    )
    .get(
      '/openapi.json',
      op({
        id: 'getOpenApiDocument',
        tag: 'Meta',
        auth: 'public',
        summary: 'This OpenAPI document',
        answers: { 200: 'json' },
      }),
      (c) => c.body(openApiText, 200, { 'Content-Type': 'application/json' }),
    )
    .get(
      '/docs',
      op({
        id: 'getApiReference',
        tag: 'Meta',
        auth: 'public',
        summary: 'This reference as a web page',
        media: 'text/html',
        answers: { 200: 'html' },
      }),
      (c) => {
        apiDocs ??= renderApiDocs(openApiDocument as unknown as OpenApiDocument, ERRORS);
        return c.html(apiDocs.html, 200, { 'Content-Security-Policy': apiDocs.csp });
      },
    )
    .route('/', publicAccountRoutes(deps, signIns))
    .route('/', deliveryRoutes(deps))
    .route('/', publicShareRoutes(deps))
    // Signed out is an answer here, not an error: browsers log every 401 in the console.
    .get(
      '/whoami',
      op({
        id: 'whoAmI',
        tag: 'Accounts',
        auth: 'public',
        summary: 'Who is signed in, or nobody (never 401)',
        description:
          'Takes a session cookie or an API token if sent; without one it answers `user: null`.',
        answers: { 200: 'WhoAmI' },
      }),
      async (c) => {
        try {
          const p = await principalOf(c);
          return c.json({
            user: p.user,
            isInstanceAdmin: p.isInstanceAdmin,
            via: p.via,
          } satisfies WhoAmI);
        } catch (err) {
          if (!(err instanceof AppError) || err.id !== 'unauthenticated') throw err;
          return c.json({ user: null, isInstanceAdmin: false, via: null } satisfies WhoAmI);
        }
      },
    )
    .use(requireAuth)
    .use(limitBodiesPerAccount)
    // After authentication: anonymous routes (sign-in, share feedback) ignore Idempotency-Key.
    .use(idempotentWrites(deps))
    .route('/', accountRoutes(deps, signIns))
    .route('/', projectRoutes(deps))
    .route('/', releaseRoutes(deps))
    .route('/', localRoutes(deps))
    .route('/', accessRoutes(deps))
    .route('/', approvalRoutes(deps))
    .route('/', shareRoutes(deps))
    .route('/', notificationRoutes(deps))
    .route('/', eventRoutes(deps))
    .route('/', webhookRoutes(deps));

  const app = new Hono<AppEnv>().route('/api', api);
  app.notFound((c) =>
    c.json(
      { error: { id: 'not_found', message: ERRORS.not_found.message } } satisfies ErrorBody,
      404,
    ),
  );
  app.onError((err, c) => {
    if (err instanceof AppError) {
      const body: ErrorBody = {
        error: {
          id: err.id,
          message: err.message,
          ...(err.details ? { details: err.details } : {}),
        },
      };
      // A rate limit says when to come back (server/domain/limits.ts requireRate); so does a
      // request whose idempotency key is still running.
      const retryAfter = (err.details as { retryAfter?: unknown } | undefined)?.retryAfter;
      if (
        (err.status === 429 || err.id === 'idempotency_in_progress') &&
        typeof retryAfter === 'number'
      )
        c.header('Retry-After', String(retryAfter));
      return c.json(body, err.status as 400);
    }
    // A character PostgreSQL cannot store (NUL) in a field no schema checks as text (an id):
    // the request is wrong, not the server (PG-182); the statement failed, nothing changed.
    if (textRefused(err)) {
      return c.json(
        {
          error: {
            id: 'invalid_body',
            message: 'The request holds a character that cannot be stored (a control character).',
          },
        } satisfies ErrorBody,
        400,
      );
    }
    deps.log(`${c.req.method} ${c.req.path} failed`, err);
    // The database cannot take the write: the transaction rolled back, nothing changed.
    if (storageDown(err)) {
      return c.json(
        {
          error: { id: 'storage_unavailable', message: ERRORS.storage_unavailable.message },
        } satisfies ErrorBody,
        503,
      );
    }
    return c.json(
      { error: { id: 'internal', message: ERRORS.internal.message } } satisfies ErrorBody,
      500,
    );
  });
  return app;
}

/** The SQLSTATE codes of `err` and the errors it wraps (drizzle wraps the driver's), outermost first. */
function codesOf(err: unknown): string[] {
  const codes: string[] = [];
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++)
    codes.push(String((e as { code?: unknown }).code ?? ''));
  return codes;
}

/** PostgreSQL refused a character of the text (22021 NUL or a bad byte, 22P05 untranslatable). */
const textRefused = (err: unknown): boolean =>
  codesOf(err).some((code) => code === '22021' || code === '22P05');

/**
 * Whether `err` (or an error it wraps: drizzle wraps the driver's) says the database cannot work
 * now: SQLite busy, locked, full or failing I/O; PostgreSQL unreachable (connection refused, reset,
 * timed out), a connection exception (SQLSTATE class 08), insufficient resources (53), the server
 * shutting down (57P01 … 57P03), a conflict still failing after the retries (40001, 40P01), a
 * lock not had within the domain pool's `lock_timeout` (55P03, PG-184), or no connection within
 * the pool's 5 s.
 */
function storageDown(err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = String((e as { code?: unknown }).code ?? '');
    if (/^SQLITE_(BUSY|LOCKED|FULL|IOERR)/.test(code)) return true;
    if (/^(08|53|57P0[123]$|40001$|40P01$|55P03$)/.test(code)) return true;
    if (/^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE)$/.test(code)) return true;
    if (/^(Connection terminated|timeout exceeded when trying to connect)/.test(e.message))
      return true;
  }
  return false;
}
