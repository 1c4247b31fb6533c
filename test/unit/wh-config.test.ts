import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '#server/config.ts';
import { sign } from '#server/domain/webhooks.ts';
import { Webhook } from 'standardwebhooks';

describe('WH configuration and signing', () => {
  it('WH-8 WH-9 WH-11 defaults: private addresses refused, 15 s per attempt, about three days of retries', () => {
    const c = loadConfig({}, '/srv/app');
    expect(c.webhookAllowPrivate).toBe(false);
    expect(c.webhookTimeoutMs).toBe(15_000);
    expect(c.webhookRetryScheduleMs).toEqual([
      5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000, 50_400_000,
      72_000_000,
    ]);
    const total = c.webhookRetryScheduleMs.reduce((a, b) => a + b, 0);
    expect(total / 86_400_000).toBeGreaterThan(2.5);
    expect(total / 86_400_000).toBeLessThan(3.5);
  });

  it('WH-9 WH-11 reads WEBHOOK_ALLOW_PRIVATE, WEBHOOK_TIMEOUT_MS and WEBHOOK_RETRY_SCHEDULE_MS; refuses bad values', () => {
    const c = loadConfig(
      {
        WEBHOOK_ALLOW_PRIVATE: '1',
        WEBHOOK_TIMEOUT_MS: '500',
        WEBHOOK_RETRY_SCHEDULE_MS: '50, 100',
      },
      '/srv/app',
    );
    expect([c.webhookAllowPrivate, c.webhookTimeoutMs, c.webhookRetryScheduleMs]).toEqual([
      true,
      500,
      [50, 100],
    ]);
    for (const [key, value] of [
      ['WEBHOOK_ALLOW_PRIVATE', 'yes'],
      ['WEBHOOK_TIMEOUT_MS', '10'],
      ['WEBHOOK_RETRY_SCHEDULE_MS', '5,x'],
      ['WEBHOOK_RETRY_SCHEDULE_MS', '0'],
      ['WEBHOOK_RETRY_SCHEDULE_MS', Array(21).fill('1').join(',')],
    ] as const) {
      let err: unknown;
      try {
        loadConfig({ [key]: value }, '/srv/app');
      } catch (e) {
        err = e;
      }
      expect(err, `${key}=${value}`).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).problems.join('\n')).toContain(key);
    }
  });

  it('WH-7 the signature is the Standard Webhooks one: the reference library verifies it', () => {
    const secret = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
    const body = JSON.stringify({ type: 'webhook.test', timestamp: 'now', data: {} });
    const ts = Math.floor(Date.now() / 1000);
    const headers = {
      'webhook-id': 'msg_1',
      'webhook-timestamp': String(ts),
      'webhook-signature': sign(secret, 'msg_1', ts, body),
    };
    expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
    expect(() => new Webhook(secret).verify(`${body} `, headers)).toThrow();
  });
});
