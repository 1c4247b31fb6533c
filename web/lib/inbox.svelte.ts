import type {
  NotificationView,
  NotificationsRead,
  NotificationsView,
  RequestView,
} from '#schema/api.ts';
import { api } from './api.ts';
import { Pending } from './pending.svelte.ts';

/** What the event stream dispatches on window for every event of the open project (i15-events). */
export const PROJECT_EVENT = 'stagecoach:project-event';

/**
 * The signed-in person's inbox in the header: the newest notifications and the unread count,
 * refreshed on load, when the window regains focus, and when the project's event stream says a
 * notification arrived for them. Approving a request from here uses the approval routes the board
 * uses; what each write said stays next to its row (`said`).
 */
export class InboxState {
  list = $state<NotificationView[]>([]);
  unread = $state(0);
  loaded = $state(false);
  open = $state(false);
  /** What the last write on a notification said (approved, or why not). */
  said = $state<{ id: number; text: string; ok: boolean } | null>(null);
  /** Keyed by notification id ('all' for "Mark all read"). */
  readonly pending = new Pending<number | 'all'>();

  async load(): Promise<void> {
    await this.pending.load(async () => {
      const view = await api<NotificationsView>('/notifications');
      this.list = view.notifications;
      this.unread = view.unread;
      this.loaded = true;
    });
  }

  /** Starts refreshing on focus and on a `notification` event; returns the stop. */
  watch(): () => void {
    const refresh = () => void this.load();
    const onEvent = (e: Event) => {
      if ((e as CustomEvent<{ kind?: string }>).detail?.kind === 'notification') refresh();
    };
    // A new person (sign-in as another account): nothing of the last one shows meanwhile.
    this.list = [];
    this.unread = 0;
    this.loaded = false;
    this.open = false;
    window.addEventListener('focus', refresh);
    window.addEventListener(PROJECT_EVENT, onEvent);
    void this.load();
    return () => {
      window.removeEventListener('focus', refresh);
      window.removeEventListener(PROJECT_EVENT, onEvent);
    };
  }

  toggle = () => {
    this.open = !this.open;
    if (this.open) void this.load();
  };

  #markLocally(ids: readonly number[] | 'all'): void {
    this.list = this.list.map((n) =>
      ids === 'all' || ids.includes(n.id) ? { ...n, read: true } : n,
    );
  }

  /** Marks one read (following its link, or acting on it). */
  markRead = async (n: NotificationView): Promise<void> => {
    if (n.read) return;
    this.#markLocally([n.id]);
    try {
      this.unread = (
        await api<NotificationsRead>('/notifications/read', {
          method: 'POST',
          body: { ids: [n.id] },
        })
      ).unread;
    } catch {
      // Shown read here; the next refresh says how it stands.
    }
  };

  markAllRead = () =>
    void this.pending.run(async () => {
      this.unread = (
        await api<NotificationsRead>('/notifications/read', {
          method: 'POST',
          body: { all: true },
        })
      ).unread;
      this.#markLocally('all');
    }, 'all');

  /** Approves the request an `approval_requested` notification names, and marks it read. */
  approve = (n: NotificationView) => {
    if (!n.requestId) return;
    const requestId = n.requestId;
    this.said = null;
    void this.pending
      .run(async () => {
        const r = await api<RequestView>(`/requests/${requestId}/approve`, {
          method: 'POST',
          body: {},
        });
        this.said = {
          id: n.id,
          ok: true,
          text: r.approved
            ? 'Approved: it may move now.'
            : `Approved: ${r.approvals.filter((a) => a.decision === 'approve').length} of ${r.required}.`,
        };
        await this.markRead(n);
      }, n.id)
      .then((ok) => {
        if (!ok) this.said = { id: n.id, ok: false, text: this.pending.error ?? 'Not approved.' };
      });
  };
}
