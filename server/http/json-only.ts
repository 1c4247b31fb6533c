import type { Context } from 'hono';
import { AppError } from '#schema/errors.ts';

/** `application/json`, with parameters such as `; charset=utf-8` allowed. */
export function isJson(contentType: string | undefined): boolean {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase() === 'application/json';
}

/**
 * Every API body is JSON, so any other Content-Type is refused (415) before a route reads it.
 * A browser sends a cross-site form or `fetch` without a preflight only as text/plain,
 * urlencoded or multipart: refusing those closes login CSRF and every "simple request" write
 * even where the Origin check does not apply. Requests without a body pass.
 */
export function jsonOnly() {
  return async function jsonOnly(c: Context, next: () => Promise<void>) {
    const type = c.req.header('content-type');
    const length = c.req.header('content-length');
    // A Content-Type, a length or a chunked body means a body (`fetch` with a string adds text/plain itself).
    const hasBody =
      length !== '0' &&
      (type !== undefined ||
        length !== undefined ||
        c.req.header('transfer-encoding') !== undefined);
    if (hasBody && !isJson(type)) throw new AppError('unsupported_media_type');
    await next();
  };
}
