import { describe, expect, it } from 'vitest';
import { createRuntimeReports } from '#server/domain/runtime-reports.ts';
import { duration } from '#web/lib/format.ts';

describe('[RTC-9] the slowest pickup since a Publish', () => {
  it('RTC-9 counts from the Publish to the first report of the last instance on it; one that already had it counts 0; none on it: null', () => {
    let now = 1_000_000;
    const r = createRuntimeReports({ maxPerEnvironment: 10, now: () => now });
    r.report('env', 'early', 's1');
    const published = (now += 5000);
    expect(r.summary('env', 's2', published)).toEqual({ total: 1, onIt: 0, oldestPickupMs: null });
    now += 1200;
    r.report('env', 'a', 's2');
    now += 3000;
    r.report('env', 'b', 's2');
    now += 10_000;
    // Reporting it again is not a new pickup.
    r.report('env', 'a', 's2');
    expect(r.summary('env', 's2', published)).toEqual({ total: 3, onIt: 2, oldestPickupMs: 4200 });
    expect(r.summary('env', 's2', null)).toEqual({ total: 3, onIt: 2, oldestPickupMs: null });
    // A rollback to what `early` still has: it was on it before the move.
    expect(r.summary('env', 's1', now)).toEqual({ total: 3, onIt: 1, oldestPickupMs: 0 });
    expect(r.list('env').map((i) => [i.instance, i.snapshotId, i.pickedUpAt])).toEqual([
      ['a', 's2', published + 1200],
      ['b', 's2', published + 4200],
      ['early', 's1', 1_000_000],
    ]);
  });
});

describe('[RTC-9] the board writes the pickup for people', () => {
  it('RTC-9 seconds, then minutes, then hours', () => {
    expect([0, 400, 4000, 59_400, 60_000, 754_000, 3_600_000, 10_000_000].map(duration)).toEqual([
      '0 s',
      '0 s',
      '4 s',
      '59 s',
      '1 min',
      '12 min',
      '1 h',
      '2 h',
    ]);
  });
});
