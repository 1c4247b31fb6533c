import { afterEach, describe, expect, it, vi } from 'vitest';
import { createRuntimeReports } from '#server/domain/runtime-reports.ts';

afterEach(() => {
  vi.useRealTimers();
});

describe('SEC live red team: runtime reports', () => {
  it('[SEC-25] a runtime key holder cycling instance names cannot make every open board refetch twice a second: announcements are a small burst, then one per 10 s', () => {
    vi.useFakeTimers();
    const changed = vi.fn();
    const r = createRuntimeReports({ maxPerEnvironment: 100, changed });
    // A new name every 100 ms for a minute (600 names: the bound of 100 forgets the oldest).
    for (let i = 0; i < 600; i++) {
      r.report('env', `fake-${i}`, 's1');
      vi.advanceTimersByTime(100);
    }
    vi.advanceTimersByTime(20_000);
    // Burst of 5, then one per 10 s over ~80 s: at most ~13 (was 120: one per 500 ms).
    expect(changed.mock.calls.length).toBeLessThanOrEqual(13);
    expect(changed.mock.calls.length).toBeGreaterThanOrEqual(5);
    // Quiet for a while: the next change is announced within 500 ms again.
    vi.advanceTimersByTime(60_000);
    const before = changed.mock.calls.length;
    r.report('env', 'fresh', 's1');
    vi.advanceTimersByTime(500);
    expect(changed.mock.calls.length).toBe(before + 1);
  });
});
