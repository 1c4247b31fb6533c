import { Hono, type Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { AcceptInvitationBody, SessionBody, SetupBody, TokenBody } from '#schema/api.ts';
import type { AppDeps, AppEnv } from '../context.ts';
import { SESSION_COOKIE } from '../authenticate.ts';
import { readJson } from '../validate.ts';
import { createFailureLimiter } from '../rate-limit.ts';
import { AppError } from '#schema/errors.ts';

// Failed sign-ins: 5 per account and 30 per address in 15 minutes, then 429 until the window passes.
const WINDOW_MS = 15 * 60_000;

/** The caller's address as the socket saw it (a proxy in front makes this the proxy's). */
function address(c: Context): string {
  const incoming = (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming;
  return incoming?.socket?.remoteAddress ?? 'unknown';
}

/** Routes that work without a principal: first-run set-up and signing in. */
export function publicAccountRoutes(deps: AppDeps) {
  const perAccount = createFailureLimiter({ max: 5, windowMs: WINDOW_MS });
  const perAddress = createFailureLimiter({ max: 30, windowMs: WINDOW_MS });

  const startSession = async (c: Context, email: string, password: string) => {
    const wait = Math.max(perAccount.retryAfter(email), perAddress.retryAfter(address(c)));
    if (wait > 0) {
      c.header('Retry-After', String(wait));
      throw new AppError('too_many_attempts', `Too many failed sign-in attempts. Try again in ${Math.ceil(wait / 60)} minute${wait > 60 ? 's' : ''}.`);
    }
    let s;
    try {
      s = await deps.accounts.signIn(email, password);
    } catch (err) {
      if (err instanceof AppError && err.id === 'invalid_credentials') {
        perAccount.fail(email);
        perAddress.fail(address(c));
      }
      throw err;
    }
    perAccount.reset(email);
    // Secure behind https: configured, or the request came over https (directly or via a proxy).
    const https = deps.secureCookies || new URL(c.req.url).protocol === 'https:' || c.req.header('x-forwarded-proto') === 'https';
    setCookie(c, SESSION_COOKIE, s.sessionToken, {
      httpOnly: true,
      sameSite: 'Lax',
      path: '/',
      secure: https,
      maxAge: Math.floor(deps.sessionTtlMs / 1000),
    });
    return s.user;
  };

  return new Hono<AppEnv>()
    .get('/setup', (c) => c.json({ needed: deps.accounts.setupNeeded() }))
    .post('/setup', async (c) => {
      const body = await readJson(c, SetupBody);
      await deps.accounts.setup(body);
      // The new admin is signed in straight away.
      const user = await startSession(c, body.email, body.password);
      return c.json({ user }, 201);
    })
    .post('/session', async (c) => {
      const body = await readJson(c, SessionBody);
      const user = await startSession(c, body.email, body.password);
      return c.json({ user });
    })
    .get('/invitations/:token', (c) => c.json(deps.access.invitation(c.req.param('token'))))
    .post('/invitations/:token/accept', async (c) => {
      const { password } = await readJson(c, AcceptInvitationBody);
      const { email } = await deps.access.accept(c.req.param('token'), password);
      const user = await startSession(c, email, password);
      return c.json({ user }, 201);
    })
    .delete('/session', (c) => {
      const token = getCookie(c, SESSION_COOKIE);
      if (token) deps.accounts.signOut(token);
      deleteCookie(c, SESSION_COOKIE, { path: '/' });
      return c.body(null, 204);
    });
}

/** Routes for the signed-in principal. */
export function accountRoutes(deps: AppDeps) {
  return new Hono<AppEnv>()
    .get('/session', (c) => {
      const p = c.get('principal');
      return c.json({ user: p.user, isInstanceAdmin: p.isInstanceAdmin, via: p.via });
    })
    .post('/tokens', async (c) => {
      const body = await readJson(c, TokenBody);
      const t = deps.accounts.createToken(c.get('principal').user.id, body.name, body.expiresInDays);
      return c.json(t, 201);
    })
    .get('/tokens', (c) => c.json({ tokens: deps.accounts.listTokens(c.get('principal').user.id) }))
    .delete('/tokens/:id', (c) => {
      deps.accounts.revokeToken(c.get('principal').user.id, c.req.param('id'));
      return c.body(null, 204);
    });
}
