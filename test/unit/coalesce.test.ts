import { describe, expect, it } from 'vitest';
import { coalesced } from '#server/lib/coalesce.ts';

describe('PG-113: coalesced runs (the resync sweep)', () => {
  it('PG-113 never two runs at once: asks during a run, also from inside it, make exactly one more', async () => {
    let running = 0;
    let most = 0;
    let runs = 0;
    let release!: () => void;
    const c = coalesced(
      async () => {
        runs++;
        running++;
        most = Math.max(most, running);
        if (runs === 1) {
          c.ask(); // from inside a run: queues, never starts a second run beside this one
          await new Promise<void>((r) => (release = r));
        }
        running--;
      },
      { onError: (err) => expect.unreachable(String(err)) },
    );
    c.ask();
    await expect.poll(() => runs).toBe(1);
    for (let i = 0; i < 1000; i++) c.ask();
    release();
    await c.idle();
    expect([runs, most]).toEqual([2, 1]);
  });

  it('PG-113 a run that fails is reported and the runs asked for after it still happen', async () => {
    const errors: unknown[] = [];
    let runs = 0;
    const c = coalesced(
      async () => {
        if (++runs === 1) throw new Error('database gone');
      },
      { onError: (err) => errors.push(err) },
    );
    c.ask();
    await c.idle();
    c.ask();
    await c.idle();
    expect(runs).toBe(2);
    expect(errors.map((e) => (e as Error).message)).toEqual(['database gone']);
  });

  it('PG-113 stop ends the gap before the next run at once: idle resolves without that run', async () => {
    let runs = 0;
    let release!: () => void;
    const c = coalesced(
      async () => {
        runs++;
        await new Promise<void>((r) => (release = r));
      },
      { gapMs: 60_000, onError: () => {} },
    );
    c.ask();
    await expect.poll(() => runs).toBe(1);
    c.ask(); // one more, a minute after the first ends
    release();
    // The loop is now in the minute's gap (every microtask ran); without stop, idle waits it out.
    await new Promise((r) => setImmediate(r));
    c.stop();
    await c.idle();
    c.ask();
    await c.idle();
    expect(runs).toBe(1);
  });
});
