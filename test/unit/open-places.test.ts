import { describe, expect, it } from 'vitest';
import { AppError } from '#schema/errors.ts';
import { OpenPlaces } from '#server/http/open-places.ts';

describe('[REV-63] [SEC-26] [SEC-30] open places of long-lived connections', () => {
  const places = () =>
    new OpenPlaces([
      { limit: 'PER_USER', max: 2, message: (n) => `${n} open` },
      { limit: 'PER_PROJECT', max: 3 },
      { limit: 'IN_ALL', max: 4 },
    ]);
  const refusal = (fn: () => unknown): [string, unknown, string] | null => {
    try {
      fn();
    } catch (err) {
      if (err instanceof AppError) return [err.id, err.details, err.message];
      throw err;
    }
    return null;
  };

  it('REV-63 refuses one past the first bound it meets, naming it, and a refusal counts nothing', () => {
    const open = places();
    open.take(['ada', 'p1', '']);
    open.take(['ada', 'p1', '']);
    expect(refusal(() => open.take(['ada', 'p1', '']))).toEqual([
      'too_many_connections',
      { limit: 'PER_USER', max: 2 },
      '2 open',
    ]);
    open.take(['bob', 'p1', '']);
    expect(refusal(() => open.take(['cyd', 'p1', '']))?.[1]).toEqual({
      limit: 'PER_PROJECT',
      max: 3,
    });
    open.take(['cyd', 'p2', '']);
    expect(refusal(() => open.take(['dan', 'p3', '']))?.[1]).toEqual({ limit: 'IN_ALL', max: 4 });
  });

  it('REV-63 a release frees its place once, however often it runs', () => {
    const open = places();
    const release = open.take(['ada', 'p1', '']);
    open.take(['ada', 'p1', '']);
    release();
    release();
    open.take(['ada', 'p1', '']);
    expect(refusal(() => open.take(['ada', 'p1', '']))?.[1]).toEqual({ limit: 'PER_USER', max: 2 });
  });
});
