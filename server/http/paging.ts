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

/**
 * An environment history cursor (VH-4): `<release seq>.<event seq>`, the oldest of each list shown
 * so far (0: that list is done). Absent: from the newest of both (nulls).
 */
export interface HistoryCursor {
  releases: number | null;
  events: number | null;
}

export function historyCursorParam(v: string | undefined): HistoryCursor {
  if (v === undefined || v === '') return { releases: null, events: null };
  const m = /^(0|[1-9][0-9]{0,15})\.(0|[1-9][0-9]{0,15})$/.exec(v);
  if (!m || !Number.isSafeInteger(Number(m[1])) || !Number.isSafeInteger(Number(m[2])))
    throw new AppError('invalid_body', '“before” is the “next” of an earlier page.', {
      param: 'before',
    });
  return { releases: Number(m[1]), events: Number(m[2]) };
}

/**
 * The next cursor after a page: each list's oldest entry shown, or 0 once it is done; null when
 * neither has more.
 */
export function nextHistoryCursor(
  releases: { seqs: number[]; more: boolean },
  events: { seqs: number[]; more: boolean },
): string | null {
  if (!releases.more && !events.more) return null;
  const at = (l: { seqs: number[]; more: boolean }) => (l.more ? l.seqs.at(-1)! : 0);
  return `${at(releases)}.${at(events)}`;
}
