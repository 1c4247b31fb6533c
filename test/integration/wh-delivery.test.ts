import { describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import type { ReleaseView, SyncResult } from '#schema/api.ts';
import {
  WebhookPayload,
  type WebhookCreated,
  type WebhookDeliveriesView,
  type WebhookDeliveryResult,
  type WebhookDeliveryView,
  type WebhookResult,
  type WebhooksView,
} from '#schema/api/webhooks.ts';
import { adminOf, newProject, type Client } from '../helpers/fixture.ts';
import { testServer } from '../helpers/server.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { webhookReceiver, type Received } from '../helpers/webhook-receiver.ts';

/**
 * Signed webhooks (WH): the outbox written with each change, signing, retries, 410, redirects,
 * timeouts, rotation and redelivery, through the real server and a real receiver.
 */
const cleanup = cleanupAfterEach();

type Err = { error: { id: string; message: string } };

/** A sample project on a server whose webhooks may reach 127.0.0.1, short retries unless `env` says otherwise. */
async function setup(env: Record<string, string> = {}) {
  const server = await testServer(cleanup, {
    WEBHOOK_ALLOW_PRIVATE: '1',
    WEBHOOK_RETRY_SCHEDULE_MS: '50,50',
    ...env,
  });
  const admin = await adminOf(server.url);
  const project = await newProject(admin, { sample: true });
  const receiver = await webhookReceiver(cleanup);
  const envs = project.environments.map((e) => e.id) as [string, string, string, string, string];
  return { server, admin, project, receiver, envs };
}

async function hook(api: Client, projectId: string, url: string, events: string[] = ['*']) {
  return await api.ok<WebhookCreated>('POST', `/api/projects/${projectId}/webhooks`, {
    url,
    events,
  });
}

const deliveries = async (api: Client, webhookId: string) =>
  (await api.ok<WebhookDeliveriesView>('GET', `/api/webhooks/${webhookId}/deliveries?limit=100`))
    .deliveries;

/** Polls until the webhook's newest delivery is in `state`; answers it. */
async function settled(api: Client, webhookId: string, state: WebhookDeliveryView['state']) {
  let last: WebhookDeliveryView | undefined;
  await expect
    .poll(async () => (last = (await deliveries(api, webhookId))[0])?.state, { timeout: 10_000 })
    .toBe(state);
  return last!;
}

const verify = (secret: string, r: Received) =>
  WebhookPayload.parse(new Webhook(secret).verify(r.body, r.headers as Record<string, string>));

describe('WH signed webhooks: deliveries', () => {
  it('WH-4 WH-5 WH-7 a Sync out of DEV sends snapshot.created and environment.synced, signed, with the release record’s sequence number and hash', async () => {
    const { admin, project, receiver, envs } = await setup();
    const { webhook, secret } = await hook(admin, project.id, receiver.url);
    const sync = await admin.ok<SyncResult>('POST', `/api/environments/${envs[0]}/sync`, {
      message: 'first cut',
    });
    const [first, second] = await Promise.all([receiver.nth(1), receiver.nth(2)]);
    const payloads = [verify(secret, first), verify(secret, second)].sort((a, b) =>
      a.type.localeCompare(b.type),
    );
    const test = project.environments[1]!;
    expect(payloads.map((p) => p.type)).toEqual(['environment.synced', 'snapshot.created']);
    const [synced, created] = payloads;
    expect(synced!.data).toMatchObject({
      projectId: project.id,
      projectName: project.name,
      environmentId: test.id,
      environmentName: test.name,
      snapshotId: sync.snapshotId,
      previousSnapshotId: null,
      releaseSeq: 1,
      recordHash: sync.release!.hash,
      actor: { name: 'Ada' },
      message: 'first cut',
    });
    expect(synced!.data.url).toMatch(
      new RegExp(`/projects/${project.id}/environments/${test.id}$`),
    );
    expect(created!.data).toMatchObject({ snapshotId: sync.snapshotId });
    expect(first.headers['webhook-id']).not.toBe(second.headers['webhook-id']);
    // The release record's hash is the one in the project's chain.
    const { history } = await admin.ok<{ history: ReleaseView[] }>(
      'GET',
      `/api/environments/${test.id}/history`,
    );
    expect(history.map((h) => h.hash)).toContain(synced!.data.recordHash);
    await expect
      .poll(async () => (await deliveries(admin, webhook.id)).map((d) => d.state))
      .toEqual(['succeeded', 'succeeded']);
  });

  it('WH-5 WH-15 an endpoint receives only what it subscribed to; a paused one gets nothing queued', async () => {
    const { admin, project, receiver, envs } = await setup();
    const published = await hook(admin, project.id, `${receiver.url}/published`, [
      'environment.published',
    ]);
    const paused = await hook(admin, project.id, `${receiver.url}/paused`);
    await admin.ok('PATCH', `/api/webhooks/${paused.webhook.id}`, { enabled: false });
    const synced = await hook(admin, project.id, `${receiver.url}/synced`, ['environment.synced']);
    await admin.ok('POST', `/api/environments/${envs[0]}/sync`, {});
    const got = await receiver.nth(1);
    expect(got.url).toBe('/synced');
    expect(verify(synced.secret, got).type).toBe('environment.synced');
    await settled(admin, synced.webhook.id, 'succeeded');
    expect(await deliveries(admin, published.webhook.id)).toEqual([]);
    expect(await deliveries(admin, paused.webhook.id)).toEqual([]);
    expect(receiver.received).toHaveLength(1);
  });

  it('WH-4 a refused move queues nothing: a Sync refused with target_moved has no delivery', async () => {
    const { admin, project, receiver, envs } = await setup();
    const { webhook } = await hook(admin, project.id, receiver.url);
    const r = await admin.call<Err>('POST', `/api/environments/${envs[0]}/sync`, {
      expectedTargetSnapshotId: 'f'.repeat(64),
    });
    expect([r.status, r.body.error.id]).toEqual([409, 'target_moved']);
    // The test delivery queued after it is the only one.
    await admin.ok('POST', `/api/webhooks/${webhook.id}/test`);
    const only = await receiver.nth(1);
    expect(JSON.parse(only.body).type).toBe('webhook.test');
    expect((await deliveries(admin, webhook.id)).map((d) => d.event)).toEqual(['webhook.test']);
  });

  it('WH-9 a 500 is retried with the same webhook-id until a 2xx', async () => {
    const { admin, project, receiver } = await setup();
    receiver.answer((_, n) => (n === 1 ? { status: 500, body: 'down' } : { status: 204 }));
    const { webhook, secret } = await hook(admin, project.id, receiver.url);
    await admin.ok('POST', `/api/webhooks/${webhook.id}/test`);
    const [first, second] = await Promise.all([receiver.nth(1), receiver.nth(2)]);
    expect(second.headers['webhook-id']).toBe(first.headers['webhook-id']);
    expect(second.body).toBe(first.body);
    verify(secret, second);
    const d = await settled(admin, webhook.id, 'succeeded');
    expect(d.attempts.map((a) => [a.status, a.responseExcerpt])).toEqual([
      [500, 'down'],
      [204, null],
    ]);
    expect(d.nextAttemptAt).toBeNull();
  });

  it('WH-9 after the last retry a delivery is failed, and an endpoint that delivered nothing since is disabled (failing)', async () => {
    const { admin, project, receiver } = await setup({ WEBHOOK_RETRY_SCHEDULE_MS: '20,20' });
    receiver.answer(() => ({ status: 503 }));
    const { webhook } = await hook(admin, project.id, receiver.url);
    await admin.ok('POST', `/api/webhooks/${webhook.id}/test`);
    const d = await settled(admin, webhook.id, 'failed');
    expect(d.attempts.map((a) => a.status)).toEqual([503, 503, 503]);
    expect(d.nextAttemptAt).toBeNull();
    expect(receiver.received).toHaveLength(3);
    const { webhooks } = await admin.ok<WebhooksView>(
      'GET',
      `/api/projects/${project.id}/webhooks`,
    );
    expect(webhooks[0]).toMatchObject({ enabled: false, disabledReason: 'failing' });
  });

  it('WH-9 a 410 disables the endpoint (gone): nothing more is queued until an admin re-enables it', async () => {
    const { admin, project, receiver, envs } = await setup();
    receiver.answer(() => ({ status: 410 }));
    const { webhook } = await hook(admin, project.id, receiver.url);
    await admin.ok('POST', `/api/webhooks/${webhook.id}/test`);
    const d = await settled(admin, webhook.id, 'failed');
    expect(d.attempts.map((a) => a.status)).toEqual([410]);
    const { webhooks } = await admin.ok<WebhooksView>(
      'GET',
      `/api/projects/${project.id}/webhooks`,
    );
    expect(webhooks[0]).toMatchObject({ enabled: false, disabledReason: 'gone' });
    await admin.ok('POST', `/api/environments/${envs[0]}/sync`, {});
    expect(await deliveries(admin, webhook.id)).toHaveLength(1);
    receiver.answer(() => ({ status: 200 }));
    const on = await admin.ok<WebhookResult>('PATCH', `/api/webhooks/${webhook.id}`, {
      enabled: true,
    });
    expect(on.webhook).toMatchObject({ enabled: true, disabledReason: null });
  });

  it('WH-8 a redirect is not followed: the 3xx is a failed attempt and the other place is never asked', async () => {
    const { admin, project, receiver } = await setup({ WEBHOOK_RETRY_SCHEDULE_MS: '3600000' });
    receiver.answer((r) =>
      r.url === '/in' ? { status: 307, headers: { location: '/elsewhere' } } : { status: 200 },
    );
    const { webhook } = await hook(admin, project.id, `${receiver.url}/in`);
    await admin.ok('POST', `/api/webhooks/${webhook.id}/test`);
    await expect
      .poll(async () => (await deliveries(admin, webhook.id))[0]!.attempts.length)
      .toBe(1);
    const [d] = await deliveries(admin, webhook.id);
    expect(d!.state).toBe('pending');
    expect(d!.attempts[0]).toMatchObject({ status: 307, error: 'redirect not followed' });
    expect(d!.nextAttemptAt).not.toBeNull();
    expect(receiver.received.map((r) => r.url)).toEqual(['/in']);
  });

  it('WH-8 an answer slower than the timeout is a failed attempt; at most 1 KB of an answer is kept', async () => {
    const { admin, project, receiver } = await setup({
      WEBHOOK_TIMEOUT_MS: '300',
      WEBHOOK_RETRY_SCHEDULE_MS: '20',
    });
    receiver.answer((_, n) => (n === 1 ? 'hold' : { status: 200, body: 'x'.repeat(100_000) }));
    const { webhook } = await hook(admin, project.id, receiver.url);
    await admin.ok('POST', `/api/webhooks/${webhook.id}/test`);
    const d = await settled(admin, webhook.id, 'succeeded');
    expect(d.attempts[0]).toMatchObject({ status: null, error: 'timeout after 0.3 s' });
    expect(d.attempts[0]!.durationMs).toBeGreaterThanOrEqual(250);
    expect(d.attempts[1]!.status).toBe(200);
    expect(d.attempts[1]!.responseExcerpt).toBe('x'.repeat(1024));
    receiver.release();
  });

  it('WH-6 after a rotation deliveries carry both signatures: the new secret and the previous one verify', async () => {
    const { admin, project, receiver } = await setup();
    const { webhook, secret: old } = await hook(admin, project.id, receiver.url);
    const rotated = await admin.call<WebhookCreated>(
      'POST',
      `/api/webhooks/${webhook.id}/rotate-secret`,
    );
    expect(rotated.status).toBe(200);
    const fresh = rotated.body.secret;
    expect(fresh).not.toBe(old);
    const until = Date.parse(rotated.body.webhook.previousSecretValidUntil!);
    expect(until - Date.now()).toBeGreaterThan(23.9 * 3600_000);
    expect(until - Date.now()).toBeLessThanOrEqual(24 * 3600_000);
    await admin.ok('POST', `/api/webhooks/${webhook.id}/test`);
    const got = await receiver.nth(1);
    expect(String(got.headers['webhook-signature']).split(' ')).toHaveLength(2);
    expect(verify(fresh, got).type).toBe('webhook.test');
    expect(verify(old, got).type).toBe('webhook.test');
    const list = await admin.ok<WebhooksView>('GET', `/api/projects/${project.id}/webhooks`);
    const all = JSON.stringify([list, await deliveries(admin, webhook.id)]);
    for (const s of [old, fresh]) expect(all).not.toContain(s.slice(6));
  });

  it('WH-12 a redelivery sends the same payload with the same webhook-id as a new delivery', async () => {
    const { admin, project, receiver } = await setup();
    const { webhook, secret } = await hook(admin, project.id, receiver.url);
    const sent = await admin.ok<WebhookDeliveryResult>('POST', `/api/webhooks/${webhook.id}/test`);
    const first = await receiver.nth(1);
    await settled(admin, webhook.id, 'succeeded');
    const again = await admin.call<WebhookDeliveryResult>(
      'POST',
      `/api/webhooks/${webhook.id}/deliveries/${sent.delivery.id}/redeliver`,
    );
    expect(again.status).toBe(202);
    expect(again.body.delivery.id).not.toBe(sent.delivery.id);
    expect(again.body.delivery.messageId).toBe(sent.delivery.messageId);
    const second = await receiver.nth(2);
    expect(second.headers['webhook-id']).toBe(first.headers['webhook-id']);
    expect(second.body).toBe(first.body);
    verify(secret, second);
    const other = await hook(admin, project.id, receiver.url);
    const r = await admin.call<Err>(
      'POST',
      `/api/webhooks/${other.webhook.id}/deliveries/${sent.delivery.id}/redeliver`,
    );
    expect([r.status, r.body.error.id]).toEqual([404, 'webhook_delivery_not_found']);
  });

  it('WH-12 deliveries are listed newest first in pages', async () => {
    const { admin, project, receiver } = await setup();
    const { webhook } = await hook(admin, project.id, receiver.url);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++)
      ids.push(
        (await admin.ok<WebhookDeliveryResult>('POST', `/api/webhooks/${webhook.id}/test`)).delivery
          .id,
      );
    const path = `/api/webhooks/${webhook.id}/deliveries`;
    const p1 = await admin.ok<WebhookDeliveriesView>('GET', `${path}?limit=2`);
    const p2 = await admin.ok<WebhookDeliveriesView>('GET', `${path}?limit=2&before=${p1.next}`);
    const p3 = await admin.ok<WebhookDeliveriesView>('GET', `${path}?limit=2&before=${p2.next}`);
    expect([...p1.deliveries, ...p2.deliveries, ...p3.deliveries].map((d) => d.id)).toEqual(
      [...ids].reverse(),
    );
    expect(p3.next).toBeNull();
    for (const q of ['?limit=0', '?limit=101', '?limit=x', '?before=whd_nope'])
      expect((await admin.call('GET', `${path}${q}`)).status).toBe(400);
  });

  it('WH-15 a paused endpoint sends nothing, not even a due retry; enabled again, it sends what waited', async () => {
    const { admin, project, receiver } = await setup({ WEBHOOK_RETRY_SCHEDULE_MS: '1500' });
    receiver.answer((_, n) => (n === 1 ? { status: 500 } : { status: 200 }));
    const { webhook } = await hook(admin, project.id, receiver.url);
    await admin.ok('POST', `/api/webhooks/${webhook.id}/test`);
    await receiver.nth(1);
    let d: WebhookDeliveryView | undefined;
    await expect
      .poll(async () => (d = (await deliveries(admin, webhook.id))[0])?.attempts.length)
      .toBe(1);
    await admin.ok('PATCH', `/api/webhooks/${webhook.id}`, { enabled: false });
    const due = Date.parse(d!.nextAttemptAt!);
    await expect.poll(() => Date.now() > due + 300, { timeout: 5000 }).toBe(true);
    expect(receiver.received).toHaveLength(1);
    await admin.ok('PATCH', `/api/webhooks/${webhook.id}`, { enabled: true });
    await receiver.nth(2);
    expect((await settled(admin, webhook.id, 'succeeded')).attempts).toHaveLength(2);
  });

  it('WH-13 at most two sends to one endpoint at a time; another endpoint is not held up by a slow one', async () => {
    const { admin, project, receiver } = await setup({ WEBHOOK_TIMEOUT_MS: '10000' });
    receiver.answer((r) => (r.url === '/slow' ? 'hold' : { status: 200 }));
    const slow = await hook(admin, project.id, `${receiver.url}/slow`);
    const fast = await hook(admin, project.id, `${receiver.url}/fast`);
    for (let i = 0; i < 5; i++) await admin.ok('POST', `/api/webhooks/${slow.webhook.id}/test`);
    await receiver.nth(2);
    await admin.ok('POST', `/api/webhooks/${fast.webhook.id}/test`);
    expect((await receiver.nth(3)).url).toBe('/fast');
    await settled(admin, fast.webhook.id, 'succeeded');
    const toSlow = () => receiver.received.filter((r) => r.url === '/slow').length;
    expect(toSlow()).toBe(2);
    receiver.answer(() => ({ status: 200 }));
    receiver.release();
    await expect.poll(toSlow).toBe(5);
    await expect
      .poll(async () => (await deliveries(admin, slow.webhook.id)).map((d) => d.state))
      .toEqual(Array(5).fill('succeeded'));
  });
});
