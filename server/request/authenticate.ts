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
  /** The scheme the request arrived with (`requestScheme`): an Origin must match scheme, host and port. */
  scheme: 'http' | 'https';
  /** Cookie credentials on a state-changing request must come from our own origin. */
  needsOriginCheck: boolean;
}

/**
 * An Origin is ours when it is exactly (scheme, host and port) the origin the request was sent
 * to, or one configured in ALLOWED_ORIGINS (PUBLIC_URL's origin is added there at start-up).
 * Comparing the host alone let a page on http://host post to https://host, or another port's.
 */
export function originAllowed(
  origin: string | undefined,
  host: string | undefined,
  scheme: 'http' | 'https',
  allowed: readonly string[],
): boolean {
  if (!origin) return false;
  let url: URL;
  let own: URL;
  try {
    url = new URL(origin);
    if (allowed.includes(url.origin)) return true;
    if (host === undefined) return false;
    own = new URL(`${scheme}://${host}`);
  } catch {
    return false;
  }
  return url.origin === own.origin;
}

/**
 * Who is calling: a bearer token, a `?token=` (websocket), or the session cookie. Used by the
 * HTTP API and the websocket upgrade alike, so both refuse the same things the same way.
 */
export async function authenticate(
  accounts: Accounts,
  c: Credentials,
  allowedOrigins: readonly string[],
): Promise<Principal> {
  const bearer = /^Bearer\s+(\S+)$/i.exec(c.authorization ?? '')?.[1];
  if (c.authorization !== undefined && !bearer)
    throw new AppError('unauthenticated', 'Malformed Authorization header: use "Bearer <token>".');
  const token = bearer ?? c.queryToken;
  if (token !== undefined) {
    const p = await accounts.fromApiToken(token);
    if (!p) throw new AppError('unauthenticated', 'Unknown or revoked API token.');
    return p;
  }
  const session = c.cookie ? parseCookies(c.cookie, SESSION_COOKIE)[SESSION_COOKIE] : undefined;
  if (!session) throw new AppError('unauthenticated');
  const p = await accounts.fromSession(session);
  if (!p) throw new AppError('unauthenticated', 'Your session has ended: sign in again.');
  if (c.needsOriginCheck && !originAllowed(c.origin, c.host, c.scheme, allowedOrigins))
    throw new AppError('bad_origin');
  return p;
}
