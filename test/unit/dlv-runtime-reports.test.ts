import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  createRuntimeReports,
  RUNTIME_FRESH_MS,
  RUNTIME_NAME,
  RUNTIMES_CHANGED_MS,
} from '#server/domain/runtime-reports.ts';

afterEach(() => vi.useRealTimers());

describe('[DLV-6] runtime reports (in memory)', () => {
  it('DLV-6 counts fresh instances and those on a snapshot; one quiet for two minutes drops out, one holding a stream stays', () => {
    let now = 1_000_000;
    const r = createRuntimeReports({ maxPerEnvironment: 10, now: () => now });
    r.report('env', 'a', 's1');
    r.report('env', 'b', 's1');
    const closeC = r.connect('env', 'c');
    r.report('env', 'c', 's2');
    expect(r.summary('env', 's1')).toMatchObject({ total: 3, onIt: 2 });
    expect(r.summary('env', 's2')).toMatchObject({ total: 3, onIt: 1 });
    expect(r.summary('env', null)).toMatchObject({ total: 3, onIt: 0 });
    // A report without a snapshot keeps what it had.
    r.report('env', 'a', null);
    expect(r.summary('env', 's1')).toMatchObject({ total: 3, onIt: 2 });

    now += RUNTIME_FRESH_MS + 1;
    r.report('env', 'b', 's1');
    expect(r.summary('env', 's1')).toMatchObject({ total: 2, onIt: 1 });
    closeC();
    closeC();
    now += RUNTIME_FRESH_MS + 1;
    expect(r.summary('env', 's1')).toMatchObject({ total: 0, onIt: 0 });
    expect(r.summary('other', 's1')).toMatchObject({ total: 0, onIt: 0 });
  });

  it('DLV-6 bounded per environment: the least recently heard from goes first, an idle one before one holding a stream', () => {
    const r = createRuntimeReports({ maxPerEnvironment: 2 });
    r.connect('env', 'streaming');
    r.report('env', 'idle', 's1');
    r.report('env', 'new', 's1');
    expect(r.summary('env', 's1')).toMatchObject({ total: 2, onIt: 1 });
    r.report('env', 'newer', 's1');
    expect(r.summary('env', 's1')).toMatchObject({ total: 2, onIt: 1 });
  });

  it('DLV-6 announces a new instance or another snapshot, coalesced per environment', () => {
    vi.useFakeTimers();
    const changed = vi.fn();
    const r = createRuntimeReports({ maxPerEnvironment: 10, changed });
    r.report('env', 'a', 's1');
    r.report('env', 'b', 's1');
    r.report('env', 'a', 's1');
    vi.advanceTimersByTime(RUNTIMES_CHANGED_MS);
    expect(changed.mock.calls).toEqual([['env']]);
    r.report('env', 'a', 's1');
    vi.advanceTimersByTime(RUNTIMES_CHANGED_MS);
    expect(changed).toHaveBeenCalledTimes(1);
    r.report('env', 'a', 's2');
    vi.advanceTimersByTime(RUNTIMES_CHANGED_MS);
    expect(changed).toHaveBeenCalledTimes(2);
  });

  it('DLV-6 instance names: 1–64 letters, digits, ".", "_", ":" or "-"', () => {
    for (const ok of ['a', 'web-1', 'pod_7.eu-west:3', 'x'.repeat(64)])
      expect(RUNTIME_NAME.test(ok)).toBe(true);
    for (const bad of ['', 'x'.repeat(65), '-a', 'a b', 'a/b', 'ü', 'a\n'])
      expect(RUNTIME_NAME.test(bad)).toBe(false);
  });
});
