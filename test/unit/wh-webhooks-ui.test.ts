import { describe, expect, it } from 'vitest';
import { WEBHOOK_EVENTS } from '#schema/api/webhooks.ts';
import {
  EVENT_WORDS,
  LATEST_MS,
  OVERDUE_WAIT_MS,
  SOON_MS,
  SUBSCRIBABLE,
  attemptInWords,
  deliveryInWords,
  durationInWords,
  endpointStatus,
  eventsInWords,
  eventsToSend,
  lastDeliveryInWords,
  nextCheckIn,
  urlProblem,
} from '#web/lib/webhook-words.ts';

/** WH-21 … WH-24: what the webhooks page says and sends, without a browser. */
const now = Date.parse('2026-11-30T12:00:00Z');
const at = (s: number) => new Date(now + s * 1000).toISOString();

describe('WH webhooks page words', () => {
  it('[WH-21] the form sends "All events" as ["*"], else the ticked events in catalogue order; the test event is not offered', () => {
    expect(eventsToSend(true, ['hotfix.opened'])).toEqual(['*']);
    expect(eventsToSend(false, ['hotfix.opened', 'snapshot.created', 'nonsense'])).toEqual([
      'snapshot.created',
      'hotfix.opened',
    ]);
    expect(eventsToSend(false, [])).toEqual([]);
    expect(SUBSCRIBABLE).not.toContain('webhook.test');
    expect(SUBSCRIBABLE).toHaveLength(WEBHOOK_EVENTS.length - 1);
    // Every event has words for the checklist.
    for (const e of WEBHOOK_EVENTS) expect(EVENT_WORDS[e]).toBeTruthy();
  });

  it('[WH-21] a receiver URL is checked before it is sent: absolute http(s), no credentials in it', () => {
    expect(urlProblem('https://ci.example.com/hooks')).toBeNull();
    expect(urlProblem('  https://ci.example.com/hooks  ')).toBeNull();
    expect(urlProblem('')).toMatch(/Enter the receiver/);
    expect(urlProblem('ci.example.com/hooks')).toMatch(/full URL/);
    expect(urlProblem('ftp://ci.example.com/')).toMatch(/https:\/\//);
    expect(urlProblem('javascript:alert(1)')).toMatch(/https:\/\//);
    expect(urlProblem('https://bot:hunter2@ci.example.com/')).toMatch(/user name and password/);
  });

  it('[WH-22] an endpoint says whether it receives, and if not why: paused, 410 Gone, failing', () => {
    expect(endpointStatus({ enabled: true, disabledReason: null })).toEqual({
      text: 'Receiving',
      tone: 'ok',
    });
    expect(endpointStatus({ enabled: false, disabledReason: 'manual' }).text).toBe('Paused');
    expect(endpointStatus({ enabled: false, disabledReason: 'gone' })).toEqual({
      text: 'Stopped: the receiver answered 410 Gone',
      tone: 'stopped',
    });
    expect(endpointStatus({ enabled: false, disabledReason: 'failing' }).text).toMatch(
      /failed for about three days/,
    );
    expect(eventsInWords(['*'])).toBe('All events');
    expect(eventsInWords(['snapshot.created', 'hotfix.opened'])).toBe(
      'snapshot.created, hotfix.opened',
    );
  });

  it('[WH-23] a delivery reads as its state with what explains it: the answer, the error, the next attempt', () => {
    const ok = { at: at(-5), status: 204, durationMs: 38, error: null, responseExcerpt: null };
    const timeout = {
      at: at(-60),
      status: null,
      durationMs: 15_000,
      error: 'timeout after 15 s',
      responseExcerpt: null,
    };
    const refused = { ...ok, status: 500, responseExcerpt: 'boom' };
    expect(attemptInWords(ok)).toBe('answered 204');
    expect(attemptInWords(refused)).toBe('answered 500 (failed)');
    expect(attemptInWords(timeout)).toBe('timeout after 15 s');
    expect(durationInWords(38)).toBe('38 ms');
    expect(durationInWords(15_000)).toBe('15 s');
    expect(durationInWords(1234)).toBe('1.2 s');
    expect(
      deliveryInWords({ state: 'succeeded', attempts: [timeout, ok], nextAttemptAt: null }),
    ).toBe('succeeded (answered 204)');
    expect(deliveryInWords({ state: 'failed', attempts: [refused], nextAttemptAt: null })).toBe(
      'failed after 1 attempt: answered 500 (failed)',
    );
    expect(
      deliveryInWords({ state: 'pending', attempts: [timeout], nextAttemptAt: at(300) }, now),
    ).toBe('next attempt in 5 min (1 attempt so far: timeout after 15 s)');
    expect(deliveryInWords({ state: 'pending', attempts: [], nextAttemptAt: null }, now)).toBe(
      'sending',
    );
    expect(deliveryInWords({ state: 'pending', attempts: [], nextAttemptAt: at(0) }, now)).toBe(
      'sending',
    );
    expect(
      deliveryInWords({ state: 'pending', attempts: [timeout], nextAttemptAt: at(-2) }, now),
    ).toBe('retrying now (1 attempt so far: timeout after 15 s)');
    // A paused or stopped endpoint's pending deliveries wait for it to be resumed.
    expect(
      deliveryInWords({ state: 'pending', attempts: [timeout], nextAttemptAt: at(-2) }, now, false),
    ).toBe('waiting until the endpoint is resumed');
    expect(lastDeliveryInWords(null)).toBe('Nothing delivered yet');
    expect(
      lastDeliveryInWords({
        event: 'webhook.test',
        state: 'succeeded',
        attempts: [ok],
        nextAttemptAt: null,
      }),
    ).toBe('Last delivery: webhook.test, succeeded (answered 204)');
  });

  it('[WH-24] deliveries still being sent are asked about again: soon, or just after the next attempt, within bounds; settled ones never', () => {
    const settled = { state: 'succeeded' as const, nextAttemptAt: null };
    expect(nextCheckIn([settled, null], now)).toBeNull();
    expect(nextCheckIn([settled, { state: 'pending', nextAttemptAt: null }], now)).toBe(SOON_MS);
    expect(nextCheckIn([{ state: 'pending', nextAttemptAt: at(10) }], now)).toBe(10_500);
    // Due already, or far away: never sooner than SOON_MS, never later than LATEST_MS.
    expect(nextCheckIn([{ state: 'pending', nextAttemptAt: at(-3) }], now)).toBe(SOON_MS);
    // Long overdue (the server is busy or stopped): asked about less often.
    expect(nextCheckIn([{ state: 'pending', nextAttemptAt: at(-120) }], now)).toBe(OVERDUE_WAIT_MS);
    expect(nextCheckIn([{ state: 'pending', nextAttemptAt: at(3600) }], now)).toBe(LATEST_MS);
    expect(
      nextCheckIn(
        [
          { state: 'pending', nextAttemptAt: at(3600) },
          { state: 'pending', nextAttemptAt: at(20) },
        ],
        now,
      ),
    ).toBe(20_500);
  });
});
