import { describe, expect, it } from 'vitest';
import type { WebhookCreated, WebhookDeliveriesView } from '#schema/api/webhooks.ts';
import { PENDING_PER_WEBHOOK } from '#server/domain/webhooks.ts';
import { inProcessInstance, newProject } from '../helpers/fixture.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';

/** Signed webhooks (WH-13): the outbox is bounded per endpoint and pruned after 30 days. */
const cleanup = cleanupAfterEach();

type Err = { error: { id: string } };

/** An instance in this process (its worker not started: deliveries stay queued) with one endpoint. */
async function instance() {
  const api = await inProcessInstance({ WEBHOOK_ALLOW_PRIVATE: '1' });
  cleanup.push(() => api.close());
  const project = await newProject(api);
  const { webhook } = await api.ok<WebhookCreated>('POST', `/api/projects/${project.id}/webhooks`, {
    url: 'http://127.0.0.1:9/hook',
    events: ['*'],
  });
  return { api, project, webhook, db: api.services.stored };
}

describe('WH-13 bounds', () => {
  it('WH-13 an endpoint holds at most PENDING_PER_WEBHOOK deliveries waiting; past it nothing more is queued', async () => {
    const { api, webhook, db } = await instance();
    await api.ok('POST', `/api/webhooks/${webhook.id}/test`);
    // Copies of the queued one fill the outbox up to its bound.
    await db.run(
      `INSERT INTO webhook_deliveries
         (id, webhook_id, project_id, message_id, event, payload, state, attempts, next_attempt_at, lease_until, created_at)
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < CAST(? AS INTEGER))
         SELECT id || '_' || i, webhook_id, project_id, message_id, event, payload, state,
                attempts, next_attempt_at, lease_until, created_at
         FROM webhook_deliveries, n`,
      PENDING_PER_WEBHOOK - 1,
    );
    const r = await api.call<Err>('POST', `/api/webhooks/${webhook.id}/test`);
    expect([r.status, r.body.error.id]).toEqual([409, 'too_many_webhook_deliveries']);
    const n = (await db.get<{ n: number }>('SELECT count(*) AS n FROM webhook_deliveries'))!;
    expect(n.n).toBe(PENDING_PER_WEBHOOK);
  });

  it('WH-13 deliveries older than 30 days are deleted by the retention sweep; newer ones stay', async () => {
    const { api, webhook, db } = await instance();
    for (let i = 0; i < 2; i++) await api.ok('POST', `/api/webhooks/${webhook.id}/test`);
    const [newer, older] = (
      await api.ok<WebhookDeliveriesView>('GET', `/api/webhooks/${webhook.id}/deliveries`)
    ).deliveries;
    await db.run(
      'UPDATE webhook_deliveries SET created_at = ? WHERE id = ?',
      Date.now() - 31 * 86_400_000,
      older!.id,
    );
    expect(await api.services.webhooks.prune()).toBe(1);
    const left = (
      await api.ok<WebhookDeliveriesView>('GET', `/api/webhooks/${webhook.id}/deliveries`)
    ).deliveries;
    expect(left.map((d) => d.id)).toEqual([newer!.id]);
  });

  it('WH-14 the signing secret is sealed at rest: the database never holds it in clear', async () => {
    const api = await inProcessInstance({ WEBHOOK_ALLOW_PRIVATE: '1' });
    cleanup.push(() => api.close());
    const project = await newProject(api);
    const { secret } = await api.ok<WebhookCreated>(
      'POST',
      `/api/projects/${project.id}/webhooks`,
      { url: 'http://127.0.0.1:9/hook', events: ['*'] },
    );
    const rows = await api.services.stored.all('SELECT * FROM webhooks');
    const dump = JSON.stringify(rows, (_, v: unknown) =>
      Buffer.isBuffer(v) ? v.toString('latin1') : v,
    );
    expect(dump).not.toContain(secret);
    expect(dump).not.toContain(secret.slice(6));
    const raw = Buffer.from(secret.slice(6), 'base64').toString('latin1');
    expect(dump).not.toContain(raw);
  });

  it('WH-1 WH-14 changes to endpoints are audited with the receiver’s origin only, never its path or the secret', async () => {
    const api = await inProcessInstance({ WEBHOOK_ALLOW_PRIVATE: '1' });
    cleanup.push(() => api.close());
    const project = await newProject(api);
    const { webhook, secret } = await api.ok<WebhookCreated>(
      'POST',
      `/api/projects/${project.id}/webhooks`,
      { url: 'http://127.0.0.1:9/hooks/their-own-token', events: ['*'] },
    );
    const { secret: rotated } = await api.ok<WebhookCreated>(
      'POST',
      `/api/webhooks/${webhook.id}/rotate-secret`,
    );
    await api.ok('PATCH', `/api/webhooks/${webhook.id}`, { enabled: false });
    await api.call('DELETE', `/api/webhooks/${webhook.id}`);
    const rows = await api.services.stored.all<{ kind: string; subject: string }>(
      "SELECT kind, subject FROM audit_events WHERE kind LIKE 'webhook.%' ORDER BY seq",
    );
    expect(rows.map((r) => r.kind)).toEqual([
      'webhook.created',
      'webhook.secret_rotated',
      'webhook.changed',
      'webhook.deleted',
    ]);
    for (const r of rows)
      expect(JSON.parse(r.subject)).toMatchObject({
        webhookId: webhook.id,
        origin: 'http://127.0.0.1:9',
      });
    const all = JSON.stringify(rows);
    for (const never of ['their-own-token', secret.slice(6), rotated.slice(6)])
      expect(all).not.toContain(never);
  });
});
