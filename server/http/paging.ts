import { AppError } from '#schema/errors.ts';

/**
 * Query parameters of pageable lists (VH-1, VH-4), refused as a bad request (`invalid_body`, as
 * every malformed query) when they are not what they say: never clamped silently.
 */

/** `?limit=`: a whole number from 1 to `max`; absent: `fallback`. */
export function limitParam(v: string | undefined, fallback: number, max: number): number {
  if (v === undefined || v === '') return fallback;
  if (!/^[0-9]{1,6}$/.test(v) || Number(v) < 1 || Number(v) > max)
    throw new AppError('invalid_body', `“limit” is a whole number from 1 to ${max}.`, {
      param: 'limit',
      max,
    });
  return Number(v);
}

/** A record's sequence number as a cursor (`?after=`); absent: `fallback`. */
export function seqParam(name: string, v: string | undefined, fallback: number): number {
  if (v === undefined || v === '') return fallback;
  if (!/^(0|[1-9][0-9]{0,15})$/.test(v) || !Number.isSafeInteger(Number(v)))
    throw new AppError('invalid_body', `“${name}” is a record’s sequence number.`, {
      param: name,
    });
  return Number(v);
}
