import type { AuditEventView, HistoryView, ReleaseView } from '#schema/api.ts';
import { api } from './api.ts';

/**
 * An environment's History tab (VH-6): the newest page, then older pages appended by "Load
 * older". A refresh (someone moved something) reloads the newest page and keeps the older entries
 * already shown, so reading back in time is not lost.
 */
export class HistoryPages {
  history = $state<ReleaseView[] | null>(null);
  events = $state<AuditEventView[]>([]);
  users = $state<Record<string, string>>({});
  /** The cursor of the next older page; null: the first entry is shown. */
  next = $state<string | null>(null);
  /** The environment shown; older pages were loaded for it. */
  #envId: string | null = null;
  #older = false;

  /** The newest page of `envId` (another environment: starts over). */
  async refresh(envId: string): Promise<void> {
    const r = await api<HistoryView>(`/environments/${envId}/history`);
    const keep = this.#older && this.#envId === envId && r.next !== null;
    this.#envId = envId;
    if (!keep) {
      this.#older = false;
      this.history = r.history;
      this.events = r.events;
      this.users = r.users;
      this.next = r.next;
      return;
    }
    // The older entries already shown stay below the fresh page, each once.
    this.history = [...r.history, ...olderThan(this.history ?? [], r.history)];
    this.events = [...r.events, ...olderThan(this.events, r.events)];
    this.users = { ...this.users, ...r.users };
  }

  /** Appends the next older page. */
  async older(): Promise<void> {
    const envId = this.#envId;
    if (!envId || this.next === null) return;
    const r = await api<HistoryView>(
      `/environments/${envId}/history?before=${encodeURIComponent(this.next)}`,
    );
    if (envId !== this.#envId) return;
    this.history = [...(this.history ?? []), ...olderThan(this.history ?? [], r.history, true)];
    this.events = [...this.events, ...olderThan(this.events, r.events, true)];
    this.users = { ...this.users, ...r.users };
    this.next = r.next;
    this.#older = true;
  }

  /** Everything back to the environment's first entry is shown. */
  get reachedFirst(): boolean {
    return this.history !== null && this.next === null;
  }
}

/**
 * Entries of `list` older than every entry of `than` (newest first, by seq); `appending`: the
 * entries of `than` older than every entry of `list` instead.
 */
function olderThan<T extends { seq: number }>(list: T[], than: T[], appending = false): T[] {
  const [from, bound] = appending ? [than, list] : [list, than];
  if (bound.length === 0) return appending ? from : [];
  const oldest = Math.min(...bound.map((e) => e.seq));
  return from.filter((e) => e.seq < oldest);
}
