import { describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import type {
  ReleaseView,
  RequestView,
  ScheduledResult,
  ShareLinkCreated,
  SyncResult,
} from '#schema/api.ts';
import { WebhookPayload, type WebhookCreated } from '#schema/api/webhooks.ts';
import { adminOf, newProject } from '../helpers/fixture.ts';
import { testServer } from '../helpers/server.ts';
import { postJson } from '../helpers/users.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { webhookReceiver } from '../helpers/webhook-receiver.ts';

/** Signed webhooks (WH-5, WH-16): which project events become which webhook events, and what they say. */
const cleanup = cleanupAfterEach();

describe('WH events', () => {
  it('WH-5 WH-16 syncs, required checks, approvals, overlays, feedback and schedules each send their event; never a value, a name of a secret or feedback text', async () => {
    const server = await testServer(cleanup, { WEBHOOK_ALLOW_PRIVATE: '1' });
    const admin = await adminOf(server.url);
    const project = await newProject(admin, { sample: true });
    const [dev, test, uat, , prod] = project.environments.map((e) => e.id) as [
      string,
      string,
      string,
      string,
      string,
    ];
    const receiver = await webhookReceiver(cleanup);
    await admin.ok('PUT', `/api/environments/${uat}/gate`, {
      requiredApprovals: 1,
      allowSelfApproval: true,
      requiredChecks: ['ci'],
    });
    const { secret } = await admin.ok<WebhookCreated>(
      'POST',
      `/api/projects/${project.id}/webhooks`,
      { url: receiver.url, events: ['*'] },
    );
    const payloads = () =>
      receiver.received.map((r) =>
        WebhookPayload.parse(
          new Webhook(secret).verify(r.body, r.headers as Record<string, string>),
        ),
      );
    const ofType = async (type: string, count = 1) => {
      await expect
        .poll(() => payloads().filter((p) => p.type === type).length, { timeout: 10_000 })
        .toBe(count);
      return payloads().filter((p) => p.type === type)[count - 1]!;
    };

    // A Sync into TEST: TEST's snapshot is now what UAT's required check must look at.
    const sync = await admin.ok<SyncResult>('POST', `/api/environments/${dev}/sync`, {});
    expect((await ofType('check.requested')).data).toMatchObject({
      environmentId: uat,
      environmentName: 'UAT',
      snapshotId: sync.snapshotId,
      checkNames: ['ci'],
    });

    const request = await admin.ok<RequestView>('POST', `/api/environments/${test}/requests`, {
      message: 'please',
    });
    expect((await ofType('approval.requested')).data).toMatchObject({
      environmentId: uat,
      requestId: request.id,
      actor: { name: 'Ada' },
    });
    expect((await ofType('approval.requested')).data.url).toMatch(
      new RegExp(`/projects/${project.id}#request-${request.id}$`),
    );
    await admin.ok('POST', `/api/requests/${request.id}/approve`, {});
    expect((await ofType('approval.approved')).data).toMatchObject({ requestId: request.id });

    await admin.ok('PUT', `/api/environments/${prod}/secrets/PAYMENTS_API_KEY`, {
      value: 'sup3r-s3cret-value',
    });
    expect((await ofType('overlay.changed')).data).toMatchObject({
      environmentId: prod,
      environmentName: 'PRODUCTION',
    });

    const link = await admin.ok<ShareLinkCreated>('POST', `/api/environments/${test}/share-links`, {
      label: 'For Olga',
      allowFeedback: true,
    });
    const posted = await postJson(
      `${server.url}/api/share/${link.token}/feedback`,
      { section: 'agents', itemId: 'agt_support', author: 'Olga Owner', text: 'Friendlier tone?' },
      { origin: server.url },
    );
    expect(posted.status).toBe(201);
    const feedback = await ofType('feedback.created');
    expect(feedback.data).toMatchObject({ environmentId: test, actor: null });
    expect(feedback.data.feedbackId).toEqual(expect.any(String));
    expect(feedback.data.url).toMatch(/\?tab=feedback$/);

    const at = new Date(Date.now() + 3600_000).toISOString();
    const scheduled = await admin.ok<ScheduledResult>('POST', `/api/environments/${test}/sync`, {
      at,
    });
    expect((await ofType('release.scheduled')).data).toMatchObject({
      scheduledId: scheduled.scheduled.id,
    });

    const raw = receiver.received.map((r) => r.body).join('\n');
    for (const never of [
      'sup3r-s3cret-value',
      'PAYMENTS_API_KEY',
      'Friendlier tone?',
      'Olga Owner',
      'please',
      link.token,
    ])
      expect(raw).not.toContain(never);
    expect(new Set(payloads().map((p) => p.type))).toEqual(
      new Set([
        'snapshot.created',
        'environment.synced',
        'check.requested',
        'approval.requested',
        'approval.approved',
        'overlay.changed',
        'feedback.created',
        'release.scheduled',
      ]),
    );
  });

  it('WH-5 a Publish sends environment.published with the live record’s place in the chain; a hotfix opened sends hotfix.opened', async () => {
    const server = await testServer(cleanup, { WEBHOOK_ALLOW_PRIVATE: '1' });
    const admin = await adminOf(server.url);
    const project = await newProject(admin, { sample: true });
    const [dev, test, uat, staging, prod] = project.environments.map((e) => e.id) as [
      string,
      string,
      string,
      string,
      string,
    ];
    for (const e of [dev, test, uat]) await admin.ok('POST', `/api/environments/${e}/sync`, {});
    await admin.ok('POST', `/api/environments/${staging}/sync`, { confirmMissingSecrets: true });
    const receiver = await webhookReceiver(cleanup);
    const { secret } = await admin.ok<WebhookCreated>(
      'POST',
      `/api/projects/${project.id}/webhooks`,
      { url: receiver.url, events: ['environment.published', 'hotfix.opened'] },
    );
    await admin.ok('POST', `/api/environments/${prod}/publish`, {
      confirmMissingSecrets: true,
      message: 'Friday',
    });
    const published = WebhookPayload.parse(
      new Webhook(secret).verify(
        (await receiver.nth(1)).body,
        (await receiver.nth(1)).headers as Record<string, string>,
      ),
    );
    const { history } = await admin.ok<{ history: ReleaseView[] }>(
      'GET',
      `/api/environments/${prod}/history`,
    );
    const live = history.find((h) => h.kind === 'publish')!;
    expect(published).toMatchObject({
      type: 'environment.published',
      data: {
        environmentId: prod,
        snapshotId: live.toSnapshotId,
        previousSnapshotId: null,
        releaseSeq: history.length,
        recordHash: live.hash,
        message: 'Friday',
        actor: { name: 'Ada' },
      },
    });
    expect((await admin.call('POST', `/api/environments/${prod}/hotfix`)).status).toBe(201);
    const opened = JSON.parse((await receiver.nth(2)).body) as { type: string; data: object };
    expect(opened).toMatchObject({ type: 'hotfix.opened', data: { environmentId: prod } });
  });

  it('WH-5 a scheduled Sync refused at its time sends release.schedule_failed with the error id', async () => {
    const server = await testServer(cleanup, { WEBHOOK_ALLOW_PRIVATE: '1' });
    const admin = await adminOf(server.url);
    const project = await newProject(admin, { sample: true });
    const [dev, test] = project.environments.map((e) => e.id) as [string, string];
    await admin.ok('POST', `/api/environments/${dev}/sync`, {});
    const receiver = await webhookReceiver(cleanup);
    await admin.ok('POST', `/api/projects/${project.id}/webhooks`, {
      url: receiver.url,
      events: ['release.scheduled', 'release.schedule_failed'],
    });
    const { scheduled } = await admin.ok<ScheduledResult>(
      'POST',
      `/api/environments/${test}/sync`,
      { at: new Date(Date.now() + 1500).toISOString() },
    );
    // The same move made by hand first: at its time there is nothing left to move.
    await admin.ok('POST', `/api/environments/${test}/sync`, {});
    const failed = JSON.parse((await receiver.nth(2)).body) as {
      type: string;
      data: { scheduledId: string; errorId: string };
    };
    expect(JSON.parse((await receiver.nth(1)).body).type).toBe('release.scheduled');
    expect(failed.type).toBe('release.schedule_failed');
    expect(failed.data.scheduledId).toBe(scheduled.id);
    expect(failed.data.errorId).toMatch(/^[a-z_]+$/);
    // Who scheduled it is the actor of the scheduling; the failure at its time is the scheduler's.
    expect(JSON.parse((await receiver.nth(1)).body).data.actor).toMatchObject({ name: 'Ada' });
    expect((failed.data as { actor?: unknown }).actor).toBeNull();
  });
});
