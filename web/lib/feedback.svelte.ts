import type { FeedbackChanged, FeedbackListView, FeedbackView } from '#schema/api.ts';
import { api } from './api.ts';
import { Pending } from './pending.svelte.ts';

export type FeedbackFilter = 'open' | 'resolved' | 'all';

/** Comments on one item, newest conversation first. */
export interface FeedbackGroup {
  key: string;
  section: string;
  itemId: string;
  itemName: string;
  comments: FeedbackView[];
}

/**
 * An environment's Feedback tab: stakeholders' comments grouped by the item they are on, a reply
 * box per comment, Resolve / Reopen, and a filter (open by default: what still needs an answer).
 */
export class FeedbackState {
  filter = $state<FeedbackFilter>('open');
  list = $state<FeedbackView[] | null>(null);
  counts = $state({ open: 0, resolved: 0 });
  truncated = $state(false);
  canRespond = $state(false);
  /** Reply drafts by feedback id. */
  drafts = $state<Record<string, string>>({});
  /** Keyed by feedback id: that comment's buttons say what runs and show its failure. */
  readonly pending = new Pending<string>(() => this.load());
  readonly #envId: () => string;

  constructor(envId: () => string) {
    this.#envId = envId;
  }

  readonly groups = $derived.by((): FeedbackGroup[] => {
    const groups: FeedbackGroup[] = [];
    const by: Record<string, FeedbackGroup> = {};
    for (const f of this.list ?? []) {
      const key = `${f.section}/${f.itemId}`;
      const g = by[key];
      if (g) g.comments.push(f);
      else
        groups.push(
          (by[key] = {
            key,
            section: f.section,
            itemId: f.itemId,
            itemName: f.itemName,
            comments: [f],
          }),
        );
    }
    return groups;
  });

  load(): Promise<void> {
    const envId = this.#envId();
    const filter = this.filter;
    return this.pending.load(async () => {
      const view = await api<FeedbackListView>(`/environments/${envId}/feedback?status=${filter}`);
      // A newer filter may have been chosen while this one loaded.
      if (filter !== this.filter || envId !== this.#envId()) return;
      this.list = view.feedback;
      this.counts = view.counts;
      this.truncated = view.truncated;
      this.canRespond = view.canRespond;
    });
  }

  show = (filter: FeedbackFilter) => {
    this.filter = filter;
    void this.load();
  };

  reply = (f: FeedbackView) => {
    const text = (this.drafts[f.id] ?? '').trim();
    if (!text) return;
    void this.pending
      .run(async () => {
        await api<FeedbackChanged>(`/feedback/${f.id}/replies`, {
          method: 'POST',
          body: { text },
        });
      }, f.id)
      .then((ok) => {
        if (ok) this.drafts[f.id] = '';
      });
  };

  setResolved = (f: FeedbackView, resolved: boolean) => {
    void this.pending.run(async () => {
      await api<FeedbackChanged>(`/feedback/${f.id}/resolve`, {
        method: 'POST',
        body: { resolved },
      });
    }, f.id);
  };
}
