import { afterEach, describe, expect, it, vi } from 'vitest';
import { createDraftPolicy } from '#server/domain/flow-rules.ts';
import type { ProjectStore } from '#server/store/projects.ts';

afterEach(() => void vi.useRealTimers());

/** A project store whose draft lookups fail (a full PostgreSQL pool) until `healthy` is set. */
function projectsThat() {
  const state = { asked: 0, healthy: false };
  const projects = {
    getDraft: async () => {
      state.asked++;
      if (!state.healthy) throw new Error('timeout exceeded when trying to connect');
      return { draft: { projectId: 'prj_1' } };
    },
    getProject: async () => ({
      project: { id: 'prj_1', flowRules: JSON.stringify({ knowledge: { direction: 'down' } }) },
    }),
  } as unknown as ProjectStore;
  return { projects, state };
}

describe('FLOW-4: a durable change asks for its draft’s replication without flooding the database', () => {
  it('FLOW-4 a thousand appends while the question is open ask it once; a failed question is logged once and asked again by itself 5 s later (scheduling the replication it owed), not at every append', async () => {
    vi.useFakeTimers();
    const { projects, state } = projectsThat();
    const logged: string[] = [];
    const scheduled: string[] = [];
    const policy = createDraftPolicy({
      projects,
      replication: { schedule: async (projectId) => void scheduled.push(projectId) },
      log: (msg) => logged.push(msg),
    });
    await Promise.all(Array.from({ length: 1000 }, () => policy.onDurable('dft_1')));
    expect([state.asked, logged.length, scheduled.length]).toEqual([1, 1, 0]);

    // Appends within the next 5 s do not ask again.
    await Promise.all(Array.from({ length: 1000 }, () => policy.onDurable('dft_1')));
    expect(state.asked).toBe(1);

    // 5 s later it is asked again by itself, for the changes that could not ask: their
    // replication is scheduled without waiting for another append.
    state.healthy = true;
    await vi.advanceTimersByTimeAsync(5000);
    expect([state.asked, logged.length, scheduled]).toEqual([2, 1, ['prj_1']]);
    await Promise.all(Array.from({ length: 10 }, () => policy.onDurable('dft_1')));
    expect([state.asked, scheduled.length]).toEqual([2, 11]);

    // A rule change asks again, once.
    policy.rulesChanged();
    await Promise.all(Array.from({ length: 10 }, () => policy.onDurable('dft_1')));
    expect(state.asked).toBe(3);
  });
});
