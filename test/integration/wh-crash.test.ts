import type { ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import type { WebhookCreated } from '#schema/api/webhooks.ts';
import { newProject, overTheWire } from '../helpers/fixture.ts';
import { setupAdmin, tempDataDir } from '../helpers/server.ts';
import { exited, spawnServer } from '../helpers/process.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { webhookReceiver } from '../helpers/webhook-receiver.ts';

/** Signed webhooks (WH-10): nothing is lost when the server dies mid-send. */
const cleanup = cleanupAfterEach();
const children: ChildProcess[] = [];
afterEach(() => {
  for (const ch of children.splice(0)) ch.kill('SIGKILL');
});

/** Short timeouts, so the lease of a send the dead process held ends within seconds. */
const ENV = { WEBHOOK_ALLOW_PRIVATE: '1', WEBHOOK_TIMEOUT_MS: '1500' };

async function serve(dataDir: string) {
  const s = await spawnServer(dataDir, ENV);
  children.push(s.child);
  return s;
}

describe('WH-10 nothing lost across kill -9', () => {
  it('WH-10 a publish whose delivery was in flight when the server was killed is delivered after the restart, with the same webhook-id', async () => {
    const receiver = await webhookReceiver(cleanup);
    receiver.answer((_, n) => (n === 1 ? 'hold' : { status: 200 }));
    const dataDir = tempDataDir();
    const first = await serve(dataDir);
    const admin = await setupAdmin(first.url);
    const api = overTheWire(first.url, admin.token);
    const project = await newProject(api, { sample: true });
    const [dev, test, uat, staging, prod] = project.environments.map((e) => e.id);
    for (const e of [dev, test, uat]) await api.ok('POST', `/api/environments/${e}/sync`, {});
    await api.ok('POST', `/api/environments/${staging}/sync`, { confirmMissingSecrets: true });
    const { secret } = await api.ok<WebhookCreated>(
      'POST',
      `/api/projects/${project.id}/webhooks`,
      { url: `${receiver.url}/deploys`, events: ['environment.published'] },
    );
    await api.ok('POST', `/api/environments/${prod}/publish`, {
      confirmMissingSecrets: true,
      message: 'go live',
    });
    const inFlight = await receiver.nth(1);

    first.child.kill('SIGKILL');
    expect((await exited(first.child)).signal).toBe('SIGKILL');
    receiver.release(200);

    await serve(dataDir);
    const arrived = await receiver.nth(2);
    expect(arrived.headers['webhook-id']).toBe(inFlight.headers['webhook-id']);
    expect(arrived.body).toBe(inFlight.body);
    const payload = new Webhook(secret).verify(
      arrived.body,
      arrived.headers as Record<string, string>,
    ) as { type: string; data: { environmentId: string; message: string } };
    expect(payload).toMatchObject({
      type: 'environment.published',
      data: { environmentId: prod, message: 'go live' },
    });
  });
});
