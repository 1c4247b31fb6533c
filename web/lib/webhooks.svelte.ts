import type {
  WebhookCreated,
  WebhookDeliveriesView,
  WebhookDeliveryResult,
  WebhookDeliveryView,
  WebhookResult,
  WebhooksView,
  WebhookView,
} from '#schema/api/webhooks.ts';
import { api } from './api.ts';
import { Pending } from './pending.svelte.ts';
import { eventsToSend, isAllEvents, nextCheckIn, urlProblem } from './webhook-words.ts';

/** One page of a delivery log; the server bounds `limit` too. */
const PAGE = 20;

/**
 * One endpoint's delivery log, newest first: the first page, older pages on demand, and a refresh
 * that re-reads as many as are shown (WH-23).
 */
export class DeliveryLog {
  items = $state<WebhookDeliveryView[] | null>(null);
  /** The cursor for older deliveries; null when there are none. */
  next = $state<string | null>(null);
  /** Keyed by 'older' or a delivery's id (its Redeliver button). */
  readonly pending = new Pending<string>();
  readonly #id: string;

  constructor(webhookId: string) {
    this.#id = webhookId;
  }

  #page = (query: string) =>
    api<WebhookDeliveriesView>(`/webhooks/${encodeURIComponent(this.#id)}/deliveries?${query}`);

  /** Reads started: an answer to an older one than the last (two in flight) is dropped. */
  #reads = 0;

  refresh = (): Promise<void> =>
    this.pending.load(async () => {
      const read = ++this.#reads;
      const shown = Math.min(Math.max(this.items?.length ?? 0, PAGE), 100);
      const page = await this.#page(`limit=${shown}`);
      if (read !== this.#reads) return;
      this.items = page.deliveries;
      this.next = page.next;
      this.pending.error = null;
    });

  older = (): Promise<boolean> =>
    this.pending.run(async () => {
      if (!this.next) return;
      const page = await this.#page(`before=${encodeURIComponent(this.next)}&limit=${PAGE}`);
      // A delivery made since the first page shifts the pages: one seen already is not repeated.
      const seen = (this.items ?? []).map((d) => d.id);
      this.items = [...(this.items ?? []), ...page.deliveries.filter((d) => !seen.includes(d.id))];
      this.next = page.next;
    }, 'older');

  redeliver = (d: WebhookDeliveryView): Promise<boolean> =>
    this.pending.run(async () => {
      const r = await api<WebhookDeliveryResult>(
        `/webhooks/${encodeURIComponent(this.#id)}/deliveries/${encodeURIComponent(d.id)}/redeliver`,
        { method: 'POST' },
      );
      this.#prepend(r.delivery);
    }, d.id);

  /** A delivery just made (a test, a redelivery) shows at once, before the next refresh. */
  #prepend(d: WebhookDeliveryView) {
    this.items = [d, ...(this.items ?? []).filter((x) => x.id !== d.id)];
  }

  add = (d: WebhookDeliveryView) => this.#prepend(d);
}

/**
 * The fields of an endpoint being added or edited (WH-21): the URL, the description and the
 * events ("All events", or the ticked ones); `body` checks them and says what is wrong in `error`.
 */
export class EndpointDraft {
  url = $state('');
  description = $state('');
  allEvents = $state(true);
  ticked = $state<string[]>([]);
  /** What is wrong with the form before anything is sent. */
  error = $state<string | null>(null);

  constructor(from?: WebhookView) {
    if (!from) return;
    this.url = from.url;
    this.description = from.description;
    this.allEvents = isAllEvents(from.events);
    this.ticked = from.events.filter((e) => e !== '*');
  }

  toggleEvent = (event: string, on: boolean) => {
    this.ticked = on
      ? [...this.ticked.filter((e) => e !== event), event]
      : this.ticked.filter((e) => e !== event);
  };

  /** What to send, or null (with `error` set) when the form is not ready. */
  body(): { url: string; events: string[]; description: string } | null {
    this.error = urlProblem(this.url);
    if (this.error) return null;
    const events = eventsToSend(this.allEvents, this.ticked);
    if (events.length === 0) {
      this.error = 'Tick at least one event, or “All events”.';
      return null;
    }
    return { url: this.url.trim(), events, description: this.description.trim() };
  }
}

/** What the secret box shows: a secret just made, once, with where it belongs. */
export interface FreshSecret {
  webhookId: string;
  url: string;
  secret: string;
  why: 'created' | 'rotated';
}

/**
 * A project's webhook endpoints (WH-20 … WH-24): the list with each one's last delivery, the create
 * form, the secret shown once after create or rotate, pause / resume, delete and rotate after a
 * confirmation, "Send test event", and per endpoint its delivery log. Writes are keyed
 * (`create`, `test:<id>` …) so each outcome shows by the button that caused it; none of the keys
 * or ids is ever shown.
 */
export class WebhooksState {
  list = $state<WebhookView[] | null>(null);
  /** Each endpoint's newest delivery (null: none yet), for its summary line. */
  last = $state<Record<string, WebhookDeliveryView | null>>({});
  /** The open delivery logs, by endpoint. */
  logs = $state<Record<string, DeliveryLog>>({});

  /** The create form. */
  draft = $state(new EndpointDraft());
  /** The endpoint being edited, with its form (one at a time). */
  editing = $state<{ id: string; draft: EndpointDraft } | null>(null);

  fresh = $state<FreshSecret | null>(null);
  confirming = $state<{ what: 'delete' | 'rotate'; webhook: WebhookView } | null>(null);
  /** What the last write did, by the key of its button ('list' for a deletion: the row is gone). */
  said = $state<{ key: string; text: string } | null>(null);
  readonly pending = new Pending<string>(() => this.load());
  readonly #projectId: () => string | undefined;

  constructor(projectId: () => string | undefined) {
    this.#projectId = projectId;
  }

  load = (): Promise<void> => {
    const projectId = this.#projectId();
    if (!projectId) return Promise.resolve();
    return this.pending.load(async () => {
      const { webhooks } = await api<WebhooksView>(
        `/projects/${encodeURIComponent(projectId)}/webhooks`,
      );
      // An endpoint that stopped since the last read (a 410, days of failures) was stopped by a
      // delivery its open log may still show as pending: read that log again, or it would say
      // "waiting until the endpoint is resumed" of a delivery already answered.
      const receiving = (this.list ?? []).filter((w) => w.enabled).map((w) => w.id);
      for (const w of webhooks)
        if (!w.enabled && receiving.includes(w.id)) void this.logs[w.id]?.refresh();
      this.list = webhooks;
      // Each endpoint's newest delivery comes with the list.
      this.last = Object.fromEntries(webhooks.map((w) => [w.id, w.lastDelivery ?? null]));
      this.pending.error = null;
    });
  };

  /**
   * Re-reads what deliveries change: the endpoints (a 410 or days of failures stop one), their
   * last deliveries and the open logs.
   */
  refreshDeliveries = async (): Promise<void> => {
    await Promise.all([this.load(), ...Object.values(this.logs).map((l) => l.refresh())]);
  };

  create = (event: SubmitEvent) => {
    event.preventDefault();
    const projectId = this.#projectId();
    const body = this.draft.body();
    if (!body || !projectId) return;
    this.said = null;
    this.fresh = null;
    void this.pending.run(async () => {
      const made = await api<WebhookCreated>(
        `/projects/${encodeURIComponent(projectId)}/webhooks`,
        { method: 'POST', body },
      );
      this.#showSecret(made, 'created');
      this.draft = new EndpointDraft();
    }, 'create');
  };

  startEdit = (w: WebhookView) => {
    this.said = null;
    this.editing = { id: w.id, draft: new EndpointDraft(w) };
  };

  /** Saves the endpoint being edited: its URL, description and events (the secret stays). */
  saveEdit = (event: SubmitEvent) => {
    event.preventDefault();
    const editing = this.editing;
    const body = editing?.draft.body();
    if (!editing || !body) return;
    const key = `edit:${editing.id}`;
    void this.pending
      .run(
        () =>
          api<WebhookResult>(`/webhooks/${encodeURIComponent(editing.id)}`, {
            method: 'PATCH',
            body,
          }),
        key,
      )
      .then((ok) => {
        if (!ok) return;
        this.editing = null;
        this.said = { key, text: 'Saved: the next deliveries go by these settings.' };
      });
  };

  rotate = (w: WebhookView) => {
    this.said = null;
    void this.pending
      .run(async () => {
        const made = await api<WebhookCreated>(
          `/webhooks/${encodeURIComponent(w.id)}/rotate-secret`,
          { method: 'POST' },
        );
        this.#showSecret(made, 'rotated');
      }, `rotate:${w.id}`)
      .then((ok) => {
        if (ok) this.confirming = null;
      });
  };

  remove = (w: WebhookView) => {
    this.said = null;
    void this.pending
      .run(
        () => api(`/webhooks/${encodeURIComponent(w.id)}`, { method: 'DELETE' }),
        `delete:${w.id}`,
      )
      .then((ok) => {
        if (!ok) return;
        this.confirming = null;
        if (this.fresh?.webhookId === w.id) this.fresh = null;
        delete this.logs[w.id];
        this.said = {
          key: 'list',
          text: `The endpoint ${w.url} is deleted: nothing is sent to it.`,
        };
      });
  };

  /** Pause, or resume (also after the server stopped it: 410 Gone, failing for days). */
  setEnabled = (w: WebhookView, enabled: boolean) => {
    this.said = null;
    const key = `toggle:${w.id}`;
    void this.pending
      .run(
        () => api(`/webhooks/${encodeURIComponent(w.id)}`, { method: 'PATCH', body: { enabled } }),
        key,
      )
      .then((ok) => {
        if (ok)
          this.said = {
            key,
            text: enabled ? 'Resumed: new events are delivered.' : 'Paused: nothing is sent.',
          };
      });
  };

  sendTest = (w: WebhookView) => {
    this.said = null;
    const key = `test:${w.id}`;
    void this.pending
      .run(async () => {
        const r = await api<WebhookDeliveryResult>(`/webhooks/${encodeURIComponent(w.id)}/test`, {
          method: 'POST',
        });
        this.openLog(w.id).add(r.delivery);
      }, key)
      .then((ok) => {
        if (ok) this.said = { key, text: 'Test event sent: its delivery is listed below.' };
      });
  };

  /** Opens an endpoint's delivery log (reading its first page) or returns the open one. */
  openLog = (webhookId: string): DeliveryLog => {
    let log = this.logs[webhookId];
    if (!log) {
      log = new DeliveryLog(webhookId);
      this.logs[webhookId] = log;
      void log.refresh();
    }
    return log;
  };

  closeLog = (webhookId: string) => {
    delete this.logs[webhookId];
  };

  /** When to ask again about the deliveries shown that are still being sent (WH-24). */
  checkAgainIn = (now = Date.now()): number | null =>
    nextCheckIn(
      (this.list ?? [])
        .filter((w) => w.enabled)
        .flatMap((w) => [this.last[w.id], ...(this.logs[w.id]?.items ?? [])]),
      now,
    );

  #showSecret(made: WebhookCreated, why: FreshSecret['why']) {
    this.fresh = { webhookId: made.webhook.id, url: made.webhook.url, secret: made.secret, why };
  }
}
