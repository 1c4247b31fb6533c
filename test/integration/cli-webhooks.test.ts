import { Webhook } from 'standardwebhooks';
import { describe, expect, it, vi } from 'vitest';
import { adminOf, newProject } from '../helpers/fixture.ts';
import { testServer } from '../helpers/server.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { webhookReceiver } from '../helpers/webhook-receiver.ts';
import { cli, resultOf } from '../helpers/cli.ts';

// Each test runs the CLI as a dozen processes against a real server: room for a busy machine.
vi.setConfig({ testTimeout: 90_000 });

/** `stagecoach webhooks …` (CLI-14) against a real server whose receivers may be on 127.0.0.1. */
const cleanup = cleanupAfterEach();

describe('CLI webhooks', () => {
  it('CLI-14 webhooks create (secret once, on stdout) | list | test | deliveries | redeliver; a test delivery verifies with the secret', async () => {
    const server = await testServer(cleanup, { WEBHOOK_ALLOW_PRIVATE: '1' });
    const admin = await adminOf(server.url);
    await newProject(admin, { name: 'Hooks', sample: true });
    const receiver = await webhookReceiver(cleanup);
    const target = { url: server.url, token: admin.token, project: 'hooks' };

    // Here --url is the receiver's: the server comes from STAGECOACH_URL.
    const created = await cli(target, [
      'webhooks',
      'create',
      '--url',
      `${receiver.url}/hooks`,
      '--events',
      'environment.synced,environment.published',
      '--description',
      'CI receiver',
    ]);
    expect(created.code, created.stderr).toBe(0);
    const secret = created.stdout.trim();
    expect(secret).toMatch(/^whsec_/);
    expect(created.stderr).not.toContain(secret);

    const listed = await cli(target, ['webhooks', 'list', '--json']);
    const [hook] = resultOf<{ webhooks: { id: string; url: string; events: string[] }[] }>(
      listed,
    ).webhooks;
    expect(hook).toMatchObject({
      url: `${receiver.url}/hooks`,
      events: ['environment.synced', 'environment.published'],
    });
    expect(listed.stdout).not.toContain(secret);

    const tested = await cli(target, ['webhooks', 'test', hook!.id.slice(0, 10), '--json']);
    expect(tested.code, tested.stderr).toBe(0);
    const delivery = resultOf<{ delivery: { id: string; messageId: string } }>(tested).delivery;
    const got = await receiver.nth(1);
    const verified = new Webhook(secret).verify(got.body, {
      'webhook-id': String(got.headers['webhook-id']),
      'webhook-timestamp': String(got.headers['webhook-timestamp']),
      'webhook-signature': String(got.headers['webhook-signature']),
    });
    expect(verified).toMatchObject({ type: 'webhook.test' });
    expect(got.headers['webhook-id']).toBe(delivery.messageId);

    const redelivered = await cli(target, [
      'webhooks',
      'redeliver',
      hook!.id,
      delivery.id,
      '--json',
    ]);
    expect(redelivered.code, redelivered.stderr).toBe(0);
    const again = await receiver.nth(2);
    expect(again.headers['webhook-id']).toBe(delivery.messageId);

    const log = await cli(target, ['webhooks', 'deliveries', hook!.id, '--json']);
    expect(log.code).toBe(0);
    expect(resultOf<{ deliveries: { id: string }[] }>(log).deliveries.map((d) => d.id)).toContain(
      delivery.id,
    );

    const [unknown, refused] = await Promise.all([
      cli(target, ['webhooks', 'test', 'wh_nope', '--json']),
      cli(target, ['webhooks', 'create', '--url', 'ftp://example.com', '--json']),
    ]);
    expect(unknown.code).toBe(5);
    expect(unknown.json).toMatchObject({ ok: false, error: { id: 'webhook_not_found' } });
    expect(refused.code).toBe(2);
  });
});
