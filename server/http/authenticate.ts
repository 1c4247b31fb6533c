import { parse as parseCookies } from 'hono/utils/cookie';
import { AppError } from '#schema/errors.ts';
import type { Accounts, Principal } from '../domain/accounts.ts';

export const SESSION_COOKIE = 'stagecoach_session';

export interface Credentials {
  authorization: string | undefined;
  cookie: string | undefined;
  /** A token from the query string (websocket clients cannot set headers). */
  queryToken: string | undefined;
  origin: string | undefined;
  host: string | undefined;
  /** Cookie credentials on a state-changing request must come from our own origin. */
  needsOriginCheck: boolean;
}

/** An Origin is ours when it names the host the request was sent to, or one configured in ALLOWED_ORIGINS. */
export function originAllowed(origin: string | undefined, host: string | undefined, allowed: readonly string[]): boolean {
  if (!origin) return false;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  if (allowed.includes(url.origin)) return true;
  return host !== undefined && url.host === host;
}

/**
 * Who is calling: a bearer token, a `?token=` (websocket), or the session cookie. Used by the
 * HTTP API and the websocket upgrade alike, so both refuse the same things the same way.
 */
export function authenticate(accounts: Accounts, c: Credentials, allowedOrigins: readonly string[]): Principal {
  const bearer = /^Bearer\s+(\S+)$/i.exec(c.authorization ?? '')?.[1];
  if (c.authorization !== undefined && !bearer) throw new AppError('unauthenticated', 'Malformed Authorization header: use "Bearer <token>".');
  const token = bearer ?? c.queryToken;
  if (token !== undefined) {
    const p = accounts.fromApiToken(token);
    if (!p) throw new AppError('unauthenticated', 'Unknown or revoked API token.');
    return p;
  }
  const session = c.cookie ? parseCookies(c.cookie, SESSION_COOKIE)[SESSION_COOKIE] : undefined;
  if (!session) throw new AppError('unauthenticated');
  const p = accounts.fromSession(session);
  if (!p) throw new AppError('unauthenticated', 'Your session has ended: sign in again.');
  if (c.needsOriginCheck && !originAllowed(c.origin, c.host, allowedOrigins)) throw new AppError('bad_origin');
  return p;
}
