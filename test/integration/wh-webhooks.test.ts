import { describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import {
  WebhookPayload,
  type WebhookCreated,
  type WebhookDeliveriesView,
  type WebhookDeliveryResult,
  type WebhookResult,
  type WebhooksView,
} from '#schema/api/webhooks.ts';
import { adminOf, newProject, newUser, type Client } from '../helpers/fixture.ts';
import { testServer } from '../helpers/server.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { webhookReceiver } from '../helpers/webhook-receiver.ts';

/** Signed webhooks (WH): endpoints, the test delivery, and who may touch them, through the real server. */
const cleanup = cleanupAfterEach();

type Err = { error: { id: string; message: string } };

/** A server whose webhooks may reach 127.0.0.1 (WEBHOOK_ALLOW_PRIVATE=1), an admin, a project. */
async function setup(env: Record<string, string> = {}) {
  const server = await testServer(cleanup, { WEBHOOK_ALLOW_PRIVATE: '1', ...env });
  const admin = await adminOf(server.url);
  const project = await newProject(admin);
  const receiver = await webhookReceiver(cleanup);
  return { server, admin, project, receiver };
}

const create = (api: Client, projectId: string, body: Record<string, unknown>) =>
  api.call<WebhookCreated & Err>('POST', `/api/projects/${projectId}/webhooks`, body);

describe('WH signed webhooks: endpoints', () => {
  it('WH-1 WH-2 an admin creates, lists, changes and deletes an endpoint; the secret is answered once and never again', async () => {
    const { admin, project, receiver } = await setup();
    const { status, body } = await create(admin, project.id, {
      url: `${receiver.url}/hook`,
      events: ['environment.published', 'approval.requested'],
      description: 'CI',
    });
    expect(status).toBe(201);
    expect(body.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(body.secret.slice(6), 'base64')).toHaveLength(32);
    expect(body.webhook).toMatchObject({
      projectId: project.id,
      url: `${receiver.url}/hook`,
      description: 'CI',
      events: ['environment.published', 'approval.requested'],
      enabled: true,
      disabledReason: null,
      previousSecretValidUntil: null,
    });
    const id = body.webhook.id;
    const list = await admin.ok<WebhooksView>('GET', `/api/projects/${project.id}/webhooks`);
    expect(list.webhooks.map((w) => w.id)).toEqual([id]);
    expect(JSON.stringify(list)).not.toContain(body.secret.slice(6));

    const paused = await admin.ok<WebhookResult>('PATCH', `/api/webhooks/${id}`, {
      enabled: false,
      events: ['*'],
    });
    expect(paused.webhook).toMatchObject({
      enabled: false,
      disabledReason: 'manual',
      events: ['*'],
    });
    const again = await admin.ok<WebhookResult>('PATCH', `/api/webhooks/${id}`, { enabled: true });
    expect(again.webhook).toMatchObject({ enabled: true, disabledReason: null });
    expect(JSON.stringify([paused, again])).not.toContain(body.secret.slice(6));

    expect((await admin.call('DELETE', `/api/webhooks/${id}`)).status).toBe(204);
    expect(
      (await admin.ok<WebhooksView>('GET', `/api/projects/${project.id}/webhooks`)).webhooks,
    ).toEqual([]);
    expect(
      (await admin.call<Err>('PATCH', `/api/webhooks/${id}`, { enabled: true })).body.error.id,
    ).toBe('webhook_not_found');
  });

  it('WH-2 a member who is not a project admin gets 403; someone of another project (and any id of it) 404', async () => {
    const { admin, project, receiver } = await setup();
    const editor = await newUser(admin, 'eve@example.com', 'Eve');
    await admin.ok('PUT', `/api/projects/${project.id}/members/${editor.id}`, {
      roles: { [project.environments[0]!.id]: ['editor'] },
    });
    // A project admin of another project.
    const stranger = await newUser(admin, 'sam@example.com', 'Sam');
    const own = await newProject(admin, { name: 'Sam’s' });
    await admin.ok('PUT', `/api/projects/${own.id}/members/${stranger.id}`, {
      roles: { '*': ['project_admin'] },
    });
    const { body } = await create(admin, project.id, { url: receiver.url, events: ['*'] });
    const id = body.webhook.id;
    const list = `/api/projects/${project.id}/webhooks`;
    expect((await editor.call<Err>('GET', list)).status).toBe(403);
    expect((await create(editor, project.id, { url: receiver.url, events: ['*'] })).status).toBe(
      403,
    );
    expect((await editor.call('PATCH', `/api/webhooks/${id}`, { enabled: false })).status).toBe(
      403,
    );
    expect((await editor.call('GET', `/api/webhooks/${id}/deliveries`)).status).toBe(403);
    expect((await stranger.call('GET', list)).status).toBe(404);
    for (const [method, path] of [
      ['PATCH', `/api/webhooks/${id}`],
      ['DELETE', `/api/webhooks/${id}`],
      ['POST', `/api/webhooks/${id}/rotate-secret`],
      ['POST', `/api/webhooks/${id}/test`],
      ['GET', `/api/webhooks/${id}/deliveries`],
    ] as const) {
      const r = await stranger.call<Err>(
        method,
        path,
        method === 'PATCH' ? { enabled: false } : undefined,
      );
      expect([r.status, r.body.error.id]).toEqual([404, 'webhook_not_found']);
    }
    // Even the instance admin finds no project that does not exist.
    for (const r of [
      await admin.call<Err>('GET', '/api/projects/prj_nope/webhooks'),
      await create(admin, 'prj_nope', { url: receiver.url, events: ['*'] }),
    ])
      expect([r.status, r.body.error.id]).toEqual([404, 'project_not_found']);
    // The stranger's own project is theirs to hook.
    expect((await create(stranger, own.id, { url: receiver.url, events: ['*'] })).status).toBe(201);
    expect((await admin.ok<WebhooksView>('GET', list)).webhooks[0]!.enabled).toBe(true);
  });

  it('WH-3 bodies are validated: https URL of at most 2048 characters without credentials, known and unique events', async () => {
    const { admin, project, receiver } = await setup();
    const bad: Record<string, unknown>[] = [
      { url: 'ftp://example.com/x', events: ['*'] },
      { url: 'https://user:pw@example.com/x', events: ['*'] },
      { url: `https://example.com/${'a'.repeat(2048)}`, events: ['*'] },
      { url: 'not a url', events: ['*'] },
      { url: receiver.url, events: [] },
      { url: receiver.url, events: ['environment.published', 'environment.published'] },
      { url: receiver.url, events: ['environment.exploded'] },
      { url: receiver.url, events: ['*', 'environment.published'] },
      { url: receiver.url, events: ['*'], secret: 'mine' },
    ];
    for (const b of bad) {
      const r = await create(admin, project.id, b);
      expect([r.status, r.body.error.id], JSON.stringify(b).slice(0, 80)).toEqual([
        400,
        'invalid_body',
      ]);
    }
    expect(
      (await admin.ok<WebhooksView>('GET', `/api/projects/${project.id}/webhooks`)).webhooks,
    ).toEqual([]);
  });

  it('WH-3 without WEBHOOK_ALLOW_PRIVATE a plain http URL is refused', async () => {
    const server = await testServer(cleanup);
    const admin = await adminOf(server.url);
    const project = await newProject(admin);
    const r = await create(admin, project.id, { url: 'http://example.com/hook', events: ['*'] });
    expect([r.status, r.body.error.id]).toEqual([422, 'webhook_url_not_allowed']);
  });

  it('WH-13 a project holds at most 20 endpoints', async () => {
    const { admin, project, receiver } = await setup();
    for (let i = 0; i < 20; i++)
      expect(
        (await create(admin, project.id, { url: `${receiver.url}/${i}`, events: ['*'] })).status,
      ).toBe(201);
    const r = await create(admin, project.id, { url: receiver.url, events: ['*'] });
    expect([r.status, r.body.error.id]).toEqual([409, 'too_many_webhooks']);
  });

  it('WH-7 WH-12 the test delivery arrives signed (verified by the standardwebhooks library) and is listed without the secret, also as the endpoint’s last delivery', async () => {
    const { admin, project, receiver } = await setup();
    const { body } = await create(admin, project.id, {
      url: `${receiver.url}/in`,
      events: ['feedback.created'],
    });
    const sent = await admin.call<WebhookDeliveryResult>(
      'POST',
      `/api/webhooks/${body.webhook.id}/test`,
    );
    expect(sent.status).toBe(202);
    expect(sent.body.delivery).toMatchObject({
      event: 'webhook.test',
      state: 'pending',
      attempts: [],
    });
    const got = await receiver.nth(1);
    expect(got.method).toBe('POST');
    expect(got.url).toBe('/in');
    expect(got.headers['content-type']).toBe('application/json');
    expect(got.headers['user-agent']).toBe('Stagecoach-Webhooks');
    expect(got.headers['webhook-id']).toBe(sent.body.delivery.messageId);
    expect(got.headers['webhook-id']).toMatch(/^msg_/);
    const verified = new Webhook(body.secret).verify(
      got.body,
      got.headers as Record<string, string>,
    );
    const payload = WebhookPayload.parse(verified);
    expect(payload).toMatchObject({
      type: 'webhook.test',
      data: { projectId: project.id, projectName: project.name, actor: { name: 'Ada' } },
    });
    expect(payload.data.url).toMatch(new RegExp(`/projects/${project.id}$`));
    // Another secret does not verify it.
    expect(() =>
      new Webhook(`whsec_${Buffer.alloc(32, 1).toString('base64')}`).verify(
        got.body,
        got.headers as Record<string, string>,
      ),
    ).toThrow();
    await expect
      .poll(async () => {
        const d = await admin.ok<WebhookDeliveriesView>(
          'GET',
          `/api/webhooks/${body.webhook.id}/deliveries`,
        );
        return d.deliveries[0]?.state;
      })
      .toBe('succeeded');
    const page = await admin.ok<WebhookDeliveriesView>(
      'GET',
      `/api/webhooks/${body.webhook.id}/deliveries`,
    );
    expect(page.next).toBeNull();
    expect(page.deliveries[0]!.attempts).toEqual([
      expect.objectContaining({ status: 200, error: null, responseExcerpt: 'ok' }),
    ]);
    expect(JSON.stringify(page)).not.toContain(body.secret.slice(6));
    // The list carries each endpoint's newest delivery: the page asks nothing per endpoint.
    const list = await admin.ok<WebhooksView>('GET', `/api/projects/${project.id}/webhooks`);
    expect(list.webhooks[0]!.lastDelivery).toMatchObject({
      id: page.deliveries[0]!.id,
      state: 'succeeded',
    });
    expect(JSON.stringify(list)).not.toContain(body.secret.slice(6));
  });

  it('WH-14 an answer holding the secret is never kept for Idempotency-Key: a repeat runs nothing and is 409 idempotency_unavailable', async () => {
    const { admin, project, receiver } = await setup();
    const path = `/api/projects/${project.id}/webhooks`;
    const headers = { 'idempotency-key': 'create-hook-1' };
    const body = { url: receiver.url, events: ['*'] };
    const first = await admin.call<WebhookCreated>('POST', path, body, { headers });
    expect(first.status).toBe(201);
    const again = await admin.call<Err>('POST', path, body, { headers });
    expect([again.status, again.body.error.id]).toEqual([409, 'idempotency_unavailable']);
    expect(JSON.stringify(again.body)).not.toContain(first.body.secret.slice(6));
    const rotate = `/api/webhooks/${first.body.webhook.id}/rotate-secret`;
    const h2 = { 'idempotency-key': 'rotate-1' };
    expect((await admin.call('POST', rotate, undefined, { headers: h2 })).status).toBe(200);
    expect((await admin.call<Err>('POST', rotate, undefined, { headers: h2 })).body.error.id).toBe(
      'idempotency_unavailable',
    );
    expect((await admin.ok<WebhooksView>('GET', path)).webhooks).toHaveLength(1);
  });
});
