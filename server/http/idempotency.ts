import type { Context } from 'hono';
import type { AppDeps, AppEnv } from './context.ts';

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Routes whose success answer holds a secret shown once (a new API token, runtime key, share
 * link, invitation link, password-reset link or webhook signing secret): it is never kept, so a repeat of the key runs
 * nothing and answers `409 idempotency_unavailable` (IDEM-6). A new route that answers a secret
 * is added here.
 */
const SECRET_ANSWERS: readonly RegExp[] = [
  /^\/api\/tokens\/?$/,
  /^\/api\/environments\/[^/]+\/runtime-keys\/?$/,
  /^\/api\/environments\/[^/]+\/share-links\/?$/,
  /^\/api\/invitations\/?$/,
  /^\/api\/invitations\/[^/]+\/link\/?$/,
  /^\/api\/users\/[^/]+\/password-reset\/?$/,
  /^\/api\/projects\/[^/]+\/webhooks\/?$/,
  /^\/api\/webhooks\/[^/]+\/rotate-secret\/?$/,
];

export const holdsSecret = (method: string, path: string): boolean =>
  method === 'POST' && SECRET_ANSWERS.some((re) => re.test(path));

/** A bodiless status's answer has no body (the Response constructor refuses one). */
const NULL_BODY = new Set([101, 204, 205, 304]);

/**
 * `Idempotency-Key` on a signed-in mutating request (server/domain/idempotency.ts decides): the
 * first request runs and its answer is kept; a repeat gets that answer again with
 * `Idempotent-Replayed: true`. Mounted after authentication: anonymous routes ignore the header.
 * Only the status, Content-Type and body are kept (never Set-Cookie or other headers).
 */
export function idempotentWrites(deps: Pick<AppDeps, 'idempotency'>) {
  return async function idempotentWrites(c: Context<AppEnv>, next: () => Promise<void>) {
    const key = c.req.header('idempotency-key');
    if (key === undefined || !MUTATING.has(c.req.method)) return next();
    const principal = c.get('principal');
    const url = new URL(c.req.url);
    const claim = deps.idempotency.begin({
      userId: principal.user.id,
      credential: principal.credential,
      key,
    });
    let finished = false;
    try {
      const outcome = await claim.check({
        method: c.req.method,
        path: url.pathname + url.search,
        // Cached by Hono: the route reads the same text.
        body: await c.req.text(),
      });
      if (outcome.kind === 'replay') {
        const { status, contentType, body } = outcome.answer;
        const headers = new Headers({ 'Idempotent-Replayed': 'true' });
        if (contentType) headers.set('Content-Type', contentType);
        return new Response(NULL_BODY.has(status) ? null : body, { status, headers });
      }
      await next();
      const res = c.res;
      await claim.finish({
        status: res.status,
        contentType: res.headers.get('content-type'),
        body: NULL_BODY.has(res.status) ? '' : await res.clone().text(),
        // The path as routed (percent-decoded): `/api/%74okens` runs POST /api/tokens too.
        holdsSecret: holdsSecret(c.req.method, c.req.path),
      });
      finished = true;
    } finally {
      if (!finished) claim.abandon();
    }
  };
}
