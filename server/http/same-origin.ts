import type { Context, MiddlewareHandler } from 'hono';
import { getCookie } from 'hono/cookie';
import { AppError } from '#schema/errors.ts';
import { originAllowed, SESSION_COOKIE } from '../request/authenticate.ts';
import { hopOfContext, requestScheme } from '../request/client.ts';

/** Whether the request's Origin is this server's own (scheme, host, port) or an allowed one. */
export function originOk(
  c: Context,
  opts: { allowedOrigins: readonly string[]; trustProxy: boolean },
): boolean {
  return originAllowed(
    c.req.header('origin'),
    c.req.header('host'),
    requestScheme(hopOfContext(c), opts.trustProxy),
    opts.allowedOrigins,
  );
}

/**
 * The Origin check for routes that set or end a session without one (set-up, sign-in,
 * invitation accept, password reset, sign-out): login CSRF signs a victim's browser into the
 * attacker's account. Browsers send Origin on every POST and DELETE, so a foreign one is
 * refused. A request WITHOUT Origin comes from a non-browser client (CLI, curl, tests): it
 * cannot be forged from a victim's browser, so it passes — except a sign-out that carries the
 * session cookie, which is checked like every cookie-authenticated write (Origin required).
 */
export function sameOrigin(opts: {
  allowedOrigins: readonly string[];
  trustProxy: boolean;
}): MiddlewareHandler {
  return async function sameOrigin(c, next) {
    const cookieWrite = getCookie(c, SESSION_COOKIE) !== undefined && c.req.method === 'DELETE';
    if ((c.req.header('origin') !== undefined || cookieWrite) && !originOk(c, opts))
      throw new AppError('bad_origin');
    await next();
  };
}
