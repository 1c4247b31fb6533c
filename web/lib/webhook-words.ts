import {
  WEBHOOK_EVENTS,
  type WebhookAttemptView,
  type WebhookDeliveryView,
  type WebhookDisabledReason,
  type WebhookEventType,
  type WebhookView,
} from '#schema/api/webhooks.ts';

/**
 * How the webhooks page says things (WH-20 … WH-24): pure, so the words are tested without a
 * browser. Event names stay as they are (a receiver switches on them); the rest is in words.
 */

/** What a person may subscribe to: every event but the test one, which only "Send test event" sends. */
export const SUBSCRIBABLE = WEBHOOK_EVENTS.filter((e) => e !== 'webhook.test');

export const EVENT_WORDS: Record<WebhookEventType, string> = {
  'snapshot.created': 'Sync froze the draft into a snapshot',
  'environment.synced': 'a stage received a snapshot by Sync',
  'environment.published': 'production went live with a snapshot',
  'environment.rolled_back': 'a stage was rolled back',
  'approval.requested': 'an approval was requested',
  'approval.approved': 'an approval request was approved',
  'approval.rejected': 'an approval request was rejected',
  'approval.voided': 'an approval request no longer applies',
  'hotfix.opened': 'a hotfix was opened in production',
  'hotfix.published': 'a hotfix went live',
  'hotfix.applied_to_dev': 'a hotfix was applied to the authoring stage',
  'overlay.changed': 'secrets or variables of a stage changed',
  'check.requested': 'a snapshot awaits its required checks',
  'release.scheduled': 'a release was scheduled',
  'release.schedule_failed': 'a scheduled release was refused at its time',
  'feedback.created': 'someone left feedback',
  'webhook.test': 'a test sent from this page',
};

/** `['*']` is every event, including those added later. */
export const isAllEvents = (events: readonly string[]): boolean => events.includes('*');

export function eventsInWords(events: readonly string[]): string {
  if (isAllEvents(events)) return 'All events';
  if (events.length === 0) return 'No events';
  return events.join(', ');
}

export const DISABLED_WORDS: Record<WebhookDisabledReason, string> = {
  gone: 'Stopped: the receiver answered 410 Gone',
  failing: 'Stopped: its deliveries failed for about three days',
  manual: 'Paused',
};

/** Whether it receives, and if not, why; `tone` picks the pill's color. */
export function endpointStatus(w: Pick<WebhookView, 'enabled' | 'disabledReason'>): {
  text: string;
  tone: 'ok' | 'paused' | 'stopped';
} {
  if (w.enabled) return { text: 'Receiving', tone: 'ok' };
  const reason = w.disabledReason ?? 'manual';
  return { text: DISABLED_WORDS[reason], tone: reason === 'manual' ? 'paused' : 'stopped' };
}

export function durationInWords(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
}

/** One attempt's outcome: the receiver's status, or why none came. */
export function attemptInWords(a: Pick<WebhookAttemptView, 'status' | 'error'>): string {
  if (a.status !== null) return `answered ${a.status}${a.status < 300 ? '' : ' (failed)'}`;
  return a.error ?? 'no answer';
}

export const STATE_WORDS: Record<WebhookDeliveryView['state'], string> = {
  pending: 'pending',
  succeeded: 'succeeded',
  failed: 'failed',
};

/** A delivery's state with what explains it: the last attempt, or when the next one is due. */
export function deliveryInWords(
  d: Pick<WebhookDeliveryView, 'state' | 'attempts' | 'nextAttemptAt'>,
  now = Date.now(),
  receiving = true,
): string {
  const last = d.attempts.at(-1);
  const tries = d.attempts.length === 1 ? '1 attempt' : `${d.attempts.length} attempts`;
  if (d.state === 'succeeded') return last ? `succeeded (${attemptInWords(last)})` : 'succeeded';
  if (d.state === 'failed')
    return `failed after ${tries}${last ? `: ${attemptInWords(last)}` : ''}`;
  // A paused or stopped endpoint's deliveries wait; they go out when it is resumed (WH-15).
  if (!receiving) return 'waiting until the endpoint is resumed';
  const due = d.nextAttemptAt === null || Date.parse(d.nextAttemptAt) - now <= 5000;
  if (d.attempts.length === 0)
    return due ? 'sending' : `first attempt ${untilInWords(d.nextAttemptAt!, now)}`;
  const next = due ? 'retrying now' : `next attempt ${untilInWords(d.nextAttemptAt!, now)}`;
  return `${next} (${tries} so far: ${attemptInWords(last!)})`;
}

/** The last delivery of an endpoint, for its summary line. */
export function lastDeliveryInWords(
  d: Pick<WebhookDeliveryView, 'event' | 'state' | 'attempts' | 'nextAttemptAt'> | null,
  now = Date.now(),
  receiving = true,
): string {
  if (!d) return 'Nothing delivered yet';
  return `Last delivery: ${d.event}, ${deliveryInWords(d, now, receiving)}`;
}

export function untilInWords(iso: string, now = Date.now()): string {
  const s = Math.round((Date.parse(iso) - now) / 1000);
  if (s <= 5) return 'now';
  if (s < 60) return `in ${s} s`;
  if (s < 3600) return `in ${Math.round(s / 60)} min`;
  if (s < 86_400) return `in ${Math.round(s / 3600)} h`;
  return `on ${new Date(iso).toLocaleString()}`;
}

/**
 * What is wrong with a receiver URL before it is sent: an absolute http(s) URL without credentials
 * in it. The server checks it again (https, and the addresses it resolves to): plain http to a
 * private address is only allowed where the instance allows private receivers
 * (WEBHOOK_ALLOW_PRIVATE), which the page cannot know, so the server's answer decides that.
 */
export function urlProblem(raw: string): string | null {
  const text = raw.trim();
  if (!text) return 'Enter the receiver’s URL.';
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'Enter a full URL, e.g. https://ci.example.com/hooks/stagecoach.';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    return 'The URL must start with https://.';
  if (url.username || url.password)
    return 'Leave the user name and password out of the URL: the signature proves who sends.';
  return null;
}

/** The events a create form sends: `['*']` for "All events", else the ticked ones in catalogue order. */
export function eventsToSend(all: boolean, ticked: readonly string[]): string[] {
  if (all) return ['*'];
  return SUBSCRIBABLE.filter((e) => ticked.includes(e));
}

/** How soon a delivery still being sent is asked about again (WH-24), and the longest wait. */
export const SOON_MS = 1500;
export const LATEST_MS = 60_000;
/** An attempt overdue by more than this (a busy or stopped server) is asked about less often. */
export const OVERDUE_MS = 30_000;
export const OVERDUE_WAIT_MS = 15_000;

/**
 * When to ask again about deliveries still being sent (WH-24): soon for one whose attempt is due
 * (being sent), else just after its next attempt is due, never sooner than SOON_MS nor later than
 * LATEST_MS; every OVERDUE_WAIT_MS for one long overdue; null when none is pending (nothing is
 * asked). The caller leaves out paused and stopped endpoints: theirs wait for a resume.
 */
export function nextCheckIn(
  shown: readonly (Pick<WebhookDeliveryView, 'state' | 'nextAttemptAt'> | null | undefined)[],
  now = Date.now(),
): number | null {
  let wait: number | null = null;
  for (const d of shown) {
    if (!d || d.state !== 'pending') continue;
    const due = d.nextAttemptAt ? Date.parse(d.nextAttemptAt) - now : 0;
    const ms =
      due < -OVERDUE_MS ? OVERDUE_WAIT_MS : Math.min(Math.max(due + 500, SOON_MS), LATEST_MS);
    wait = wait === null ? ms : Math.min(wait, ms);
  }
  return wait;
}
