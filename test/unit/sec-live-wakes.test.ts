import { describe, expect, it } from 'vitest';
import { createProjectEvents } from '#server/domain/events.ts';
import type { EventStore, ProjectEventRow } from '#server/store/events.ts';

/** An in-memory log: enough for emit and subscribe. */
function memoryStore(): EventStore {
  const rows: ProjectEventRow[] = [];
  return {
    insert: async (row) => {
      const r = { ...row, seq: rows.length + 1 } as ProjectEventRow;
      rows.push(r);
      return r;
    },
    after: async (projectId, seq, limit) =>
      rows.filter((r) => r.projectId === projectId && r.seq > seq).slice(0, limit),
    lastSeq: async () => rows.length,
    firstSeq: async () => (rows.length ? 1 : 0),
    prune: async () => 0,
  } satisfies EventStore;
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('SEC live red team: wake-ups', () => {
  it('[SEC-27] a storm of events (each in its own request) wakes a project’s readers a bounded number of times (a burst of 20, then one per 100 ms), and the last event still wakes them', async () => {
    const events = createProjectEvents(memoryStore());
    let wakes = 0;
    const stop = events.subscribe('p', () => wakes++);
    const started = performance.now();
    for (let i = 0; i < 300; i++) {
      await events.emit({ projectId: 'p', environmentId: null, kind: 'local', actorId: 'u' });
      await turn();
      await turn();
    }
    const elapsed = performance.now() - started;
    // Before: one wake per event (300), each a log read per open stream and waiting request.
    expect(wakes).toBeLessThanOrEqual(20 + Math.ceil(elapsed / 100) + 2);
    // The trailing one comes: nothing emitted is left unannounced.
    const before = wakes;
    await events.emit({ projectId: 'p', environmentId: null, kind: 'local', actorId: 'u' });
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(wakes).toBeGreaterThan(before);
    stop();
  });
});
