import type { FreezeView, ScheduledList, ScheduledResult } from '#schema/api.ts';
import { api } from './api.ts';
import { Pending } from './pending.svelte.ts';
import { localToIso } from './format.ts';

/** A production stage's scheduled publishes and freeze windows (SCHED), for its History tab. */
export class SchedulePage {
  list = $state<ScheduledList | null>(null);
  freeze = $state<FreezeView | null>(null);
  /** The `datetime-local` value of the publish being scheduled. */
  at = $state('');
  /** The scheduled release whose cancel is being confirmed. */
  cancelling = $state<string | null>(null);
  readonly pending: Pending;
  readonly envId: string;

  constructor(envId: string) {
    this.envId = envId;
    this.pending = new Pending(() => this.load());
  }

  load = async (): Promise<void> => {
    const [list, freeze] = await Promise.all([
      api<ScheduledList>(`/environments/${this.envId}/scheduled`),
      api<FreezeView>(`/environments/${this.envId}/freeze`),
    ]);
    this.list = list;
    this.freeze = freeze;
  };

  /** Freeze windows not yet over. */
  get windows() {
    const now = Date.now();
    return (this.freeze?.windows ?? []).filter((w) => Date.parse(w.to) > now);
  }

  /** Schedules the Publish of what production holds now at `at` (local time). */
  schedule(expectedSourceSnapshotId: string | null): Promise<boolean> {
    const at = localToIso(this.at);
    return this.pending.run(async () => {
      await api<ScheduledResult>(`/environments/${this.envId}/publish`, {
        method: 'POST',
        body: { at, ...(expectedSourceSnapshotId ? { expectedSourceSnapshotId } : {}) },
      });
      this.at = '';
    });
  }

  cancel(id: string): Promise<boolean> {
    this.cancelling = null;
    return this.pending.run(() => api(`/scheduled/${id}`, { method: 'DELETE' }));
  }
}
