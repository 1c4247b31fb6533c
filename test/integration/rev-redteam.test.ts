import { describe, expect, it } from 'vitest';
import type {
  FeedbackListView,
  NotificationsView,
  ProjectView,
  ShareLinkCreated,
} from '#schema/api.ts';
import { itemJson, patchItem, sectionMap } from '#schema/content/ydoc.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { connect, synced } from '../helpers/clients.ts';
import { inProcessInstance, newUser, overTheWire, type Client } from '../helpers/fixture.ts';
import { setupAdmin, testServer } from '../helpers/server.ts';
import { postJson } from '../helpers/users.ts';
import { NOTIFICATIONS_KEPT_PER_PERSON } from '#server/domain/notifications.ts';

/**
 * REV-80 …: the reviews' additions (feedback, inbox, board health) attacked by an anonymous share-link holder and by the weakest
 * roles (feedback, notifications, the board's health data).
 */
const cleanup = cleanupAfterEach();

const inbox = async (c: Client) => await c.ok<NotificationsView>('GET', '/api/notifications');

/** A sample project with TEST synced, and a share link for TEST that takes feedback. */
async function world(env: Record<string, string> = {}) {
  const server = await testServer(cleanup, { REPLICATION_DELAY_MS: '10', ...env });
  const token = (await setupAdmin(server.url)).token;
  const admin = overTheWire(server.url, token);
  const project = await admin.ok<ProjectView>('POST', '/api/projects', {
    name: 'Support bots',
    sample: true,
  });
  const [dev, test] = project.environments as [
    ProjectView['environments'][number],
    ProjectView['environments'][number],
  ];
  const link = async () =>
    await admin.ok<ShareLinkCreated>('POST', `/api/environments/${test.id}/share-links`, {
      label: 'For Olga',
      allowFeedback: true,
    });
  const post = async (t: string, body: Record<string, unknown>) =>
    await postJson(
      `${server.url}/api/share/${t}/feedback`,
      { section: 'agents', itemId: 'agt_support', author: 'Olga Owner', text: 'Hm.', ...body },
      { origin: server.url },
    );
  return { server, token, admin, project, dev, test, link, post };
}

describe('REV-80 … red team of the reviews', () => {
  it('[REV-80] an anonymous link holder cannot flood an inbox: one unread feedback notice per stage', async () => {
    const w = await world({ FEEDBACK_PER_LINK_PER_MINUTE: '1000' });
    await w.admin.ok('POST', `/api/environments/${w.dev.id}/sync`, { confirmMissingSecrets: true });
    // Thirty posts in a row (each would have been a notice to every environment admin, and a
    // person keeps 500: a link holder could have pushed out their approval requests).
    const { token } = await w.link();
    for (let i = 0; i < 30; i++)
      expect((await w.post(token, { text: `Spam ${i}` })).status).toBe(201);
    let box = await inbox(w.admin);
    expect(box.notifications.filter((n) => n.kind === 'feedback')).toHaveLength(1);
    expect(box.unread).toBe(1);
    // Once read, the next comment tells again (one more, not thirty).
    await w.admin.ok('POST', '/api/notifications/read', { all: true });
    for (let i = 0; i < 5; i++)
      expect((await w.post(token, { text: `More ${i}` })).status).toBe(201);
    box = await inbox(w.admin);
    expect(box.notifications.filter((n) => n.kind === 'feedback')).toHaveLength(2);
    expect(box.unread).toBe(1);
    // The team still has every comment in the Feedback tab.
    const tab = await w.admin.ok<FeedbackListView>(
      'GET',
      `/api/environments/${w.test.id}/feedback?status=open`,
    );
    expect(tab.counts.open).toBe(35);
  });

  it('[REV-80] conflicts, which an editor of two stages makes at will, are told once per stage while unread', async () => {
    const inst = await inProcessInstance();
    cleanup.push(() => inst.close());
    const project = await inst.ok<ProjectView>('POST', '/api/projects', {
      name: 'Bound',
      sample: true,
    });
    const [, test, uat] = project.environments.map((e) => e.id) as [string, string, string];
    const { events, atomically } = inst.services;
    const conflicts = (envId: string, n: number) =>
      atomically(async () => {
        for (let i = 0; i < n; i++)
          await events.emit({
            projectId: project.id,
            environmentId: envId,
            kind: 'conflict',
            actorId: 'system',
            subject: { section: 'knowledge', itemId: `kn_${i}`, action: 'detected' },
          });
      });
    await conflicts(test, 40);
    await conflicts(uat, 3);
    const kinds = async () =>
      (await inbox(inst)).notifications.map((n) => [n.kind, n.environmentId, n.read]);
    expect(await kinds()).toEqual([
      ['conflict', uat, false],
      ['conflict', test, false],
    ]);
    await inst.ok('POST', '/api/notifications/read', { all: true });
    await conflicts(test, 40);
    expect(await kinds()).toEqual([
      ['conflict', test, false],
      ['conflict', uat, true],
      ['conflict', test, true],
    ]);
  });

  it('[REV-85] notices already read go first: a flood of closed requests cannot push out an unread notice', async () => {
    const inst = await inProcessInstance();
    cleanup.push(() => inst.close());
    const project = await inst.ok<ProjectView>('POST', '/api/projects', {
      name: 'Bound',
      sample: true,
    });
    const [dev, test] = project.environments.map((e) => e.id) as [string, string];
    await inst.ok('PUT', `/api/environments/${test}/gate`, {
      requiredApprovals: 1,
      allowSelfApproval: false,
    });
    const requester = await newUser(inst, 'r@example.com', 'Rita');
    await inst.ok('PUT', `/api/projects/${project.id}/members/${requester.id}`, {
      roles: { [dev]: ['viewer', 'promoter'] },
    });
    const req = await requester.ok<{ id: string }>('POST', `/api/environments/${dev}/requests`, {});
    const { events, atomically } = inst.services;
    const emit = async (kind: 'conflict' | 'request' | 'request.decided', subject: object) =>
      await events.emit({
        projectId: project.id,
        environmentId: test,
        kind,
        actorId: requester.id,
        subject: { ...subject },
      });
    // Something to act on, then a promoter asking again and again (each new request voids the
    // one before, whose notice is marked read).
    await emit('conflict', { section: 'knowledge', itemId: 'kn_1', action: 'detected' });
    await atomically(async () => {
      for (let i = 0; i < NOTIFICATIONS_KEPT_PER_PERSON + 50; i++) {
        await emit('request', { requestId: req.id });
        await emit('request.decided', { requestId: req.id, decision: 'voided' });
      }
    });
    const unread = (await inbox(inst)).unread;
    expect(unread).toBe(1);
    let page = await inst.ok<NotificationsView>('GET', '/api/notifications');
    const all: NotificationsView['notifications'] = [];
    while (page.notifications.length > 0) {
      all.push(...page.notifications);
      page = await inst.ok<NotificationsView>('GET', `/api/notifications?before=${all.at(-1)!.id}`);
    }
    expect(all).toHaveLength(NOTIFICATIONS_KEPT_PER_PERSON);
    expect(all.filter((n) => n.kind === 'conflict').map((n) => n.read)).toEqual([false]);
  });

  it('[REV-81] an item id naming an inherited property (constructor, __proto__) is no item: no name', async () => {
    const w = await world();
    await w.admin.ok('POST', `/api/environments/${w.dev.id}/sync`, { confirmMissingSecrets: true });
    const { token } = await w.link();
    for (const itemId of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      const res = await w.post(token, { itemId });
      expect(res.status).toBe(201);
      expect(((await res.json()) as { itemName: string }).itemName).toBe('');
    }
    const tab = await w.admin.ok<FeedbackListView>(
      'GET',
      `/api/environments/${w.test.id}/feedback`,
    );
    expect(tab.feedback.map((f) => f.itemName)).toEqual(['', '', '', '']);
    const [n] = (await inbox(w.admin)).notifications;
    expect(n?.title).toBe('Feedback on TEST from “Olga Owner” about an agent');
  });

  it('[REV-82] an item name with bidi controls or invisible characters does not reach a notice title', async () => {
    const w = await world();
    const c = connect(w.server.url, w.dev.draftId!, { token: w.token });
    cleanup.push(() => c.destroy());
    await synced(c);
    const id = 'agt_support';
    const agent = sectionMap(c.doc, 'agents').get(id)!;
    c.doc.transact(() =>
      patchItem('agents', agent, { ...itemJson(agent), name: 'Refunds\u202E\u200Bnimda\u2066 🐻‍❄️' }),
    );
    await expect
      .poll(
        async () =>
          (
            await w.admin.ok<{ agents: Record<string, { name: string }> }>(
              'GET',
              `/api/environments/${w.dev.id}/content`,
            )
          ).agents[id]?.name,
      )
      .toContain('nimda');
    await w.admin.ok('POST', `/api/environments/${w.dev.id}/sync`, { confirmMissingSecrets: true });
    const { token } = await w.link();
    expect((await w.post(token, { itemId: id })).status).toBe(201);
    const [n] = (await inbox(w.admin)).notifications;
    expect(n?.title).toBe('Feedback on TEST from “Olga Owner” about the agent “Refundsnimda 🐻‍❄️”');
  });
});
