import { describe, expect, it } from 'vitest';
import type {
  WebhookCreated,
  WebhookDeliveriesView,
  WebhookDeliveryView,
} from '#schema/api/webhooks.ts';
import { publicAddress } from '#server/domain/webhooks.ts';
import { adminOf, newProject, overTheWire, type Client } from '../helpers/fixture.ts';
import { setupAdmin, tempDataDir, testServer } from '../helpers/server.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { webhookReceiver } from '../helpers/webhook-receiver.ts';

/** Signed webhooks (WH-11): receivers at private addresses are refused at creation and at each send. */
const cleanup = cleanupAfterEach();

type Err = { error: { id: string; message: string } };

const create = (api: Client, projectId: string, url: string) =>
  api.call<WebhookCreated & Err>('POST', `/api/projects/${projectId}/webhooks`, {
    url,
    events: ['*'],
  });

describe('WH-11 private addresses', () => {
  it('WH-11 only unicast addresses are public: loopback, private, link-local, unique-local, mapped, unspecified, multicast are not', () => {
    for (const a of ['93.184.216.34', '8.8.8.8', '2606:4700:4700::1111'])
      expect(publicAddress(a), a).toBe(true);
    for (const a of [
      '127.0.0.1',
      '127.1.2.3',
      '10.0.0.1',
      '172.16.0.1',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '255.255.255.255',
      '224.0.0.1',
      '::1',
      '::',
      'fe80::1',
      'fd00::1',
      'ff02::1',
      '::ffff:127.0.0.1',
      '::ffff:7f00:1',
      '::ffff:169.254.169.254',
      '::ffff:10.0.0.1',
      '2002:7f00:1::',
      'not an address',
    ])
      expect(publicAddress(a), a).toBe(false);
  });

  it('WH-11 without WEBHOOK_ALLOW_PRIVATE an endpoint at a private address or a name of one is refused at creation', async () => {
    const server = await testServer(cleanup);
    const admin = await adminOf(server.url);
    const project = await newProject(admin);
    for (const url of [
      'https://127.0.0.1/hook',
      'https://[::1]/hook',
      'https://[::ffff:127.0.0.1]/hook',
      'http://[::ffff:127.0.0.1]/hook',
      'https://169.254.169.254/latest/meta-data',
      'https://10.1.2.3/hook',
      'https://192.168.0.10/hook',
      'https://[fd00::1]/hook',
      'https://[fe80::1]/hook',
      'https://0.0.0.0/hook',
      'https://0x7f.1/hook',
      'https://localhost/hook',
      'https://api.localhost/hook',
    ]) {
      const r = await create(admin, project.id, url);
      expect([r.status, r.body.error.id], url).toEqual([422, 'webhook_url_not_allowed']);
    }
    const ok = await create(admin, project.id, 'https://93.184.216.34/hook');
    expect(ok.status).toBe(201);
    const moved = await admin.call<Err>('PATCH', `/api/webhooks/${ok.body.webhook.id}`, {
      url: 'https://[::ffff:169.254.169.254]/',
    });
    expect([moved.status, moved.body.error.id]).toEqual([422, 'webhook_url_not_allowed']);
  });

  it('WH-11 each send checks again: an endpoint on 127.0.0.1 or localhost made while allowed is not sent to once the flag is off', async () => {
    const receiver = await webhookReceiver(cleanup);
    const dataDir = tempDataDir();
    const allowed = await testServer(cleanup, { WEBHOOK_ALLOW_PRIVATE: '1' }, dataDir);
    const admin = await setupAdmin(allowed.url);
    let api = overTheWire(allowed.url, admin.token);
    const project = await newProject(api);
    const ids: string[] = [];
    for (const url of [`${receiver.url}/ip`, `http://localhost:${receiver.port}/name`])
      ids.push((await create(api, project.id, url)).body.webhook.id);
    await allowed.close();

    const strict = await testServer(cleanup, {}, dataDir);
    api = overTheWire(strict.url, admin.token);
    for (const id of ids) {
      await api.ok('POST', `/api/webhooks/${id}/test`);
      let d: WebhookDeliveryView | undefined;
      await expect
        .poll(async () => {
          d = (await api.ok<WebhookDeliveriesView>('GET', `/api/webhooks/${id}/deliveries`))
            .deliveries[0];
          return d?.attempts.length;
        })
        .toBe(1);
      expect(d!.attempts[0]).toMatchObject({ status: null, error: 'address not allowed' });
    }
    expect(receiver.received).toEqual([]);
  });
});
