import { describe, expect, it } from 'vitest';
import type {
  InvitationCreated,
  NotificationsRead,
  NotificationsView,
  ProjectView,
  ShareLinkCreated,
} from '#schema/api.ts';
import { addItem, itemText, sectionMap } from '#schema/content/ydoc.ts';
import {
  createNotifications,
  NOTIFICATIONS_KEPT_PER_PERSON,
} from '#server/domain/notifications.ts';
import { createProjectEvents } from '#server/domain/events.ts';
import { openDatabase } from '#server/store/db.ts';
import { createEventStore } from '#server/store/events.ts';
import { createNotificationStore } from '#server/store/notifications.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { onPostgres } from '../helpers/dialect.ts';
import { connect, synced, until } from '../helpers/clients.ts';
import {
  inProcessInstance,
  newUser,
  overTheWire,
  type Client,
  type Instance,
} from '../helpers/fixture.ts';
import { setupAdmin, tempDataDir, testServer } from '../helpers/server.ts';
import { PASSPHRASE, postJson } from '../helpers/users.ts';

/**
 * REV-70 … REV-77: people are told. Each kind of notification reaches exactly the people it is
 * for (never the actor, never someone who may not see the thing), through the real server.
 */
const cleanup = cleanupAfterEach();

const inbox = async (c: Client) => await c.ok<NotificationsView>('GET', '/api/notifications');
const kindsOf = async (c: Client) => (await inbox(c)).notifications.map((n) => n.kind);

/**
 * A five-stage sample project: Ada (instance admin, creator: every role), Dev (edits and Syncs
 * DEV), Quinn (approves into TEST), Vera (views TEST only), Otto (a member with a role in PROD
 * only) and Nora (no member at all).
 */
async function world(env: Record<string, string> = {}) {
  const server = await testServer(cleanup, { REPLICATION_DELAY_MS: '10', ...env });
  const admin = overTheWire(server.url, (await setupAdmin(server.url)).token);
  const project = await admin.ok<ProjectView>('POST', '/api/projects', {
    name: 'Support bots',
    sample: true,
  });
  const [dev, test, uat, staging, prod] = project.environments.map((e) => e.id) as [
    string,
    string,
    string,
    string,
    string,
  ];
  const member = async (email: string, name: string, roles: Record<string, string[]>) => {
    const u = await newUser(admin, email, name);
    await admin.ok('PUT', `/api/projects/${project.id}/members/${u.id}`, { roles });
    return u;
  };
  const devUser = await member('dev@example.com', 'Dev Dana', {
    [dev]: ['viewer', 'editor', 'promoter'],
    [test]: ['viewer'],
  });
  const quinn = await member('quinn@example.com', 'Quinn QA', {
    [test]: ['viewer', 'promoter', 'approver'],
  });
  const vera = await member('vera@example.com', 'Vera Viewer', { [test]: ['viewer'] });
  const otto = await member('otto@example.com', 'Otto Ops', { [prod]: ['viewer'] });
  const nora = await newUser(admin, 'nora@example.com', 'Nora Nobody');
  return {
    server,
    admin,
    project,
    dev,
    test,
    uat,
    staging,
    prod,
    devUser,
    quinn,
    vera,
    otto,
    nora,
  };
}
type World = Awaited<ReturnType<typeof world>>;

async function gateTest(w: World) {
  await w.admin.ok('PUT', `/api/environments/${w.test}/gate`, {
    requiredApprovals: 1,
    allowSelfApproval: false,
  });
}

describe('REV notifications', () => {
  it('[REV-70] an approval request reaches the approvers of the target only: not the requester, a viewer, another stage’s member or an outsider', async () => {
    const w = await world();
    await gateTest(w);
    const req = await w.devUser.ok<{ id: string }>('POST', `/api/environments/${w.dev}/requests`, {
      message: 'Ready for TEST',
    });
    for (const who of [w.admin, w.quinn]) {
      const { notifications, unread } = await inbox(who);
      expect(unread).toBe(1);
      expect(notifications).toEqual([
        {
          id: expect.any(Number),
          kind: 'approval_requested',
          read: false,
          createdAt: expect.any(String),
          projectId: w.project.id,
          environmentId: w.test,
          title: 'Dev Dana asks for your approval: a Sync DEV → TEST',
          href: `/projects/${w.project.id}#request-${req.id}`,
          requestId: req.id,
        },
      ]);
    }
    for (const who of [w.devUser, w.vera, w.otto, w.nora])
      expect(await inbox(who)).toEqual({ notifications: [], unread: 0 });
  });

  it('[REV-70] a refused request tells no one', async () => {
    const w = await world();
    await gateTest(w);
    // Vera may not Sync out of TEST; Otto may not even read DEV.
    expect((await w.vera.call('POST', `/api/environments/${w.test}/requests`, {})).status).toBe(
      403,
    );
    expect((await w.otto.call('POST', `/api/environments/${w.dev}/requests`, {})).status).toBe(403);
    // A request from a stale board is refused before anything is written.
    expect(
      (
        await w.devUser.call('POST', `/api/environments/${w.dev}/requests`, {
          expectedSourceSnapshotId: 'f'.repeat(64),
        })
      ).status,
    ).toBe(409);
    for (const who of [w.admin, w.quinn, w.devUser, w.vera, w.otto])
      expect((await inbox(who)).unread).toBe(0);
  });

  it('[REV-71] an approval or a rejection reaches the requester only', async () => {
    const w = await world();
    await gateTest(w);
    const req = await w.devUser.ok<{ id: string }>(
      'POST',
      `/api/environments/${w.dev}/requests`,
      {},
    );
    await w.quinn.ok('POST', `/api/requests/${req.id}/approve`, { comment: 'Fine' });
    const mine = (await inbox(w.devUser)).notifications;
    expect(mine.map((n) => [n.kind, n.title, n.href])).toEqual([
      [
        'request_decided',
        'Quinn QA approved your request: a Sync DEV → TEST',
        `/projects/${w.project.id}#request-${req.id}`,
      ],
    ]);
    // Quinn acted; Ada was only asked (her approval_requested stays, nothing more).
    expect(await kindsOf(w.quinn)).toEqual(['approval_requested']);
    expect(await kindsOf(w.admin)).toEqual(['approval_requested']);
    expect(await kindsOf(w.vera)).toEqual([]);

    // A new request, rejected by Ada.
    const edit = await w.admin.ok<Record<string, unknown>>(
      'GET',
      `/api/environments/${w.dev}/content`,
    );
    (edit.variables as Record<string, { defaultValue: string }>).var_max_refund!.defaultValue =
      '99';
    await w.admin.ok('PUT', `/api/environments/${w.dev}/content`, edit);
    const second = await w.devUser.ok<{ id: string }>(
      'POST',
      `/api/environments/${w.dev}/requests`,
      {},
    );
    await w.admin.ok('POST', `/api/requests/${second.id}/reject`, { comment: 'Not yet' });
    const latest = (await inbox(w.devUser)).notifications[0]!;
    expect([latest.kind, latest.title, latest.href]).toEqual([
      'request_decided',
      'Ada rejected your request: a Sync DEV → TEST',
      `/projects/${w.project.id}`,
    ]);
    // Ada was asked again, and told nothing of her own rejection.
    expect(await kindsOf(w.admin)).toEqual(['approval_requested', 'approval_requested']);
    // Both requests closed (the second replaced the first, then was rejected): neither waits for
    // Quinn any more, so their notices are read.
    const quinns = await inbox(w.quinn);
    expect(quinns.notifications.map((n) => [n.requestId, n.read])).toEqual([
      [second.id, true],
      [req.id, true],
    ]);
  });

  it('[REV-72] a published hotfix asks the editors of the authoring stage to bring it there; not its publisher or others', async () => {
    const w = await world();
    for (const e of [w.dev, w.test, w.uat, w.staging])
      await w.admin.ok('POST', `/api/environments/${e}/sync`, { confirmMissingSecrets: true });
    await w.admin.ok('POST', `/api/environments/${w.prod}/publish`, {
      confirmMissingSecrets: true,
    });
    // Otto is the release manager here: he hotfixes production.
    await w.admin.ok('PUT', `/api/projects/${w.project.id}/members/${w.otto.id}`, {
      roles: { [w.prod]: ['viewer', 'editor', 'publisher'] },
    });
    const { draftId } = await w.otto.ok<{ draftId: string }>(
      'POST',
      `/api/environments/${w.prod}/hotfix`,
    );
    const c = connect(w.server.url, draftId, { token: w.otto.token });
    cleanup.push(() => c.destroy());
    await synced(c);
    itemText(sectionMap(c.doc, 'channels').get('ch_widget'), 'greeting')!.insert(0, 'Closed. ');
    await expect
      .poll(async () =>
        JSON.stringify(
          await w.otto.ok('GET', `/api/diff?from=live:${w.prod}&to=draft:${draftId}`),
        ).includes('Closed.'),
      )
      .toBe(true);
    await w.otto.ok('POST', `/api/environments/${w.prod}/hotfix/publish`, { message: 'closed' });

    for (const who of [w.admin, w.devUser]) {
      const [n] = (await inbox(who)).notifications;
      expect([n?.kind, n?.title, n?.href, n?.environmentId]).toEqual([
        'hotfix_to_port',
        'Otto Ops published a hotfix in PRODUCTION: bring it to DEV',
        `/projects/${w.project.id}#divergence`,
        w.prod,
      ]);
    }
    for (const who of [w.otto, w.quinn, w.vera, w.nora]) expect(await kindsOf(who)).toEqual([]);
  });

  it('[REV-73] stakeholder feedback reaches the people who manage that stage, not its viewers', async () => {
    const w = await world();
    await w.admin.ok('POST', `/api/environments/${w.dev}/sync`, { confirmMissingSecrets: true });
    await w.admin.ok('PUT', `/api/projects/${w.project.id}/members/${w.quinn.id}`, {
      roles: { [w.test]: ['viewer', 'environment_admin'] },
    });
    const link = await w.quinn.ok<ShareLinkCreated>(
      'POST',
      `/api/environments/${w.test}/share-links`,
      { label: 'For Olga', allowFeedback: true },
    );
    const posted = await postJson(
      `${w.server.url}/api/share/${link.token}/feedback`,
      { section: 'agents', itemId: 'agt_support', author: 'Olga Owner', text: 'Friendlier?' },
      { origin: w.server.url },
    );
    expect(posted.status).toBe(201);
    for (const who of [w.admin, w.quinn]) {
      const [n] = (await inbox(who)).notifications;
      expect([n?.kind, n?.title, n?.href]).toEqual([
        'feedback',
        'Feedback on TEST from “Olga Owner” about the agent “Support agent”',
        `/projects/${w.project.id}/environments/${w.test}?tab=feedback`,
      ]);
    }
    for (const who of [w.devUser, w.vera, w.otto, w.nora]) expect(await kindsOf(who)).toEqual([]);
  });

  it('[REV-74] a replication conflict reaches the editors of the stage it is in', async () => {
    const server = await testServer(cleanup, { REPLICATION_DELAY_MS: '10' });
    const adminToken = (await setupAdmin(server.url)).token;
    const admin = overTheWire(server.url, adminToken);
    const project = await admin.ok<ProjectView>('POST', '/api/projects', {
      name: 'Cluster',
      preset: 'three-stage',
    });
    const [staging, uat, production] = project.environments;
    const editor = await newUser(admin, 'ed@example.com', 'Ed Editor');
    const viewer = await newUser(admin, 'vi@example.com', 'Vi Viewer');
    await admin.ok('PUT', `/api/projects/${project.id}/members/${editor.id}`, {
      roles: { [uat!.id]: ['viewer', 'editor'] },
    });
    await admin.ok('PUT', `/api/projects/${project.id}/members/${viewer.id}`, {
      roles: { [uat!.id]: ['viewer'], [staging!.id]: ['viewer', 'editor'] },
    });
    const client = (draftId: string) => {
      const c = connect(server.url, draftId, { token: adminToken });
      cleanup.push(() => c.destroy());
      return c;
    };
    const inProduction = client(production!.draftId!);
    await synced(inProduction);
    const id = addItem(inProduction.doc, 'knowledge', { title: 'Refunds', body: 'In 30 days.' });
    const inUat = client(uat!.draftId!);
    await synced(inUat);
    await until(inUat.doc, (d) => sectionMap(d, 'knowledge').has(id));
    itemText(sectionMap(inUat.doc, 'knowledge').get(id), 'body')!.insert(0, 'UAT: ');
    await expect
      .poll(
        async () =>
          (
            await admin.ok<{ knowledge: Record<string, { body: string }> }>(
              'GET',
              `/api/environments/${uat!.id}/content`,
            )
          ).knowledge[id]?.body,
      )
      .toBe('UAT: In 30 days.');
    itemText(sectionMap(inProduction.doc, 'knowledge').get(id), 'body')!.insert(0, 'Prod: ');
    await expect.poll(async () => (await inbox(editor)).unread).toBe(1);
    const [n] = (await inbox(editor)).notifications;
    expect([n?.kind, n?.title, n?.href]).toEqual([
      'conflict',
      'Replication conflict in UAT: an article changed both here and in Production',
      `/projects/${project.id}/environments/${uat!.id}?tab=editor`,
    ]);
    expect(await kindsOf(admin)).toEqual(['conflict']);
    expect(await kindsOf(viewer)).toEqual([]);
    // Resolving tells no one.
    await editor.ok('POST', `/api/environments/${uat!.id}/conflicts/resolve`, {
      section: 'knowledge',
      itemId: id,
      take: 'local',
    });
    expect(await kindsOf(admin)).toEqual(['conflict']);
  });

  it('[REV-75] an accepted invitation tells the person who invited, not other admins', async () => {
    const w = await world();
    // Quinn becomes a project admin, and invites.
    await w.admin.ok('PUT', `/api/projects/${w.project.id}/members/${w.quinn.id}`, {
      roles: { '*': ['viewer', 'project_admin'] },
    });
    const inv = await w.quinn.ok<InvitationCreated>('POST', '/api/invitations', {
      email: 'new@example.com',
      name: 'Nadia New',
      projectId: w.project.id,
      template: 'qa',
    });
    expect(await kindsOf(w.quinn)).toEqual([]);
    const accepted = await postJson(
      `${w.server.url}/api/invitations/${inv.token}/accept`,
      { password: PASSPHRASE },
      { origin: w.server.url },
    );
    expect(accepted.status).toBe(201);
    const [n] = (await inbox(w.quinn)).notifications;
    expect([n?.kind, n?.title, n?.href]).toEqual([
      'invitation_accepted',
      'Nadia New accepted your invitation to Support bots',
      `/projects/${w.project.id}/members`,
    ]);
    for (const who of [w.admin, w.devUser, w.vera]) expect(await kindsOf(who)).toEqual([]);
  });
});

describe('REV-76 reading the inbox', () => {
  it('[REV-76] marks read by id (others’ ids ignored alike) or all at once; only the caller’s, only of projects they still belong to', async () => {
    const w = await world();
    // TEST holds a release; then both TEST and UAT are gated and DEV changes.
    await w.admin.ok('POST', `/api/environments/${w.dev}/sync`, { confirmMissingSecrets: true });
    await gateTest(w);
    await w.admin.ok('PUT', `/api/environments/${w.uat}/gate`, {
      requiredApprovals: 1,
      allowSelfApproval: false,
    });
    const content = await w.admin.ok<{ variables: Record<string, { defaultValue: string }> }>(
      'GET',
      `/api/environments/${w.dev}/content`,
    );
    content.variables.var_max_refund!.defaultValue = '77';
    await w.admin.ok('PUT', `/api/environments/${w.dev}/content`, content);
    // Two open requests: DEV → TEST (Ada and Quinn approve), TEST → UAT by Quinn (Ada approves).
    await w.devUser.ok('POST', `/api/environments/${w.dev}/requests`, {});
    await w.quinn.ok('POST', `/api/environments/${w.test}/requests`, {});

    const before = await inbox(w.admin);
    expect(before.unread).toBe(2);
    const [newest, oldest] = before.notifications;
    expect(newest!.id).toBeGreaterThan(oldest!.id);
    const quinns = (await inbox(w.quinn)).notifications.map((n) => n.id);
    expect(quinns).toHaveLength(1);

    // Another person's id and an unknown one are ignored: same answer, nothing of theirs changes.
    const r = await w.admin.call<NotificationsRead>('POST', '/api/notifications/read', {
      ids: [newest!.id, quinns[0]!, 999_999],
    });
    expect(r).toEqual({ status: 200, body: { unread: 1 } });
    expect((await inbox(w.quinn)).unread).toBe(1);
    const after = await inbox(w.admin);
    expect(after.notifications.map((n) => n.read)).toEqual([true, false]);

    // Paging: older than the newest.
    const older = await w.admin.ok<NotificationsView>(
      'GET',
      `/api/notifications?before=${newest!.id}`,
    );
    expect(older.notifications.map((n) => n.id)).toEqual([oldest!.id]);
    expect((await w.admin.call('GET', '/api/notifications?before=x')).status).toBe(400);

    expect(
      await w.admin.ok<NotificationsRead>('POST', '/api/notifications/read', { all: true }),
    ).toEqual({ unread: 0 });
    expect((await inbox(w.quinn)).unread).toBe(1);

    // Bodies: a list of at most 500 ids, or all: true; nothing else.
    for (const body of [
      {},
      { ids: [] },
      { ids: Array.from({ length: 501 }, (_, i) => i + 1) },
      { all: false },
      { ids: ['1'] },
    ])
      expect((await w.admin.call('POST', '/api/notifications/read', body)).status).toBe(400);
    expect((await w.admin.as('').call('GET', '/api/notifications')).status).toBe(401);

    // Removed from the project: its notifications are no longer shown or counted.
    await w.admin.ok('DELETE', `/api/projects/${w.project.id}/members/${w.quinn.id}`);
    expect(await inbox(w.quinn)).toEqual({ notifications: [], unread: 0 });
  });

  it(`[REV-77] keeps at most ${NOTIFICATIONS_KEPT_PER_PERSON} per person: the oldest go as new ones arrive; a page holds 100`, async () => {
    const inst: Instance = await inProcessInstance();
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
    // Many more requests than are kept (the request route itself is rate limited per stage).
    const { events, atomically } = inst.services;
    await atomically(async () => {
      for (let i = 0; i < NOTIFICATIONS_KEPT_PER_PERSON + 20; i++)
        await events.emit({
          projectId: project.id,
          environmentId: test,
          kind: 'request',
          actorId: requester.id,
          subject: { requestId: req.id },
        });
    });
    const ids: number[] = [];
    let page = await inst.ok<NotificationsView>('GET', '/api/notifications');
    expect(page.notifications).toHaveLength(100);
    expect(page.unread).toBe(NOTIFICATIONS_KEPT_PER_PERSON);
    while (page.notifications.length > 0) {
      ids.push(...page.notifications.map((n) => n.id));
      page = await inst.ok<NotificationsView>('GET', `/api/notifications?before=${ids.at(-1)!}`);
    }
    expect(ids).toHaveLength(NOTIFICATIONS_KEPT_PER_PERSON);
    expect([...ids].sort((a, b) => b - a)).toEqual(ids);
  });
});

describe('REV-77 a notice that fails', () => {
  it('[REV-77] is undone alone and logged: the change that emitted it still commits', async ({
    skip,
  }) => {
    skip(onPostgres, "store-level, on openDatabase (SQLite's stores)");
    const database = openDatabase(tempDataDir(), 'normal');
    cleanup.push(() => database.close());
    const events = createProjectEvents(database.transactions.port(createEventStore(database.db)));
    const logged: string[] = [];
    createNotifications({
      events,
      store: database.transactions.port(createNotificationStore(database.db)),
      projects: {
        getProject: () => Promise.reject(new Error('the project store failed')),
      } as unknown as Parameters<typeof createNotifications>[0]['projects'],
      members: { members: async () => [], memberships: async () => [] },
      accounts: { findUserById: async () => undefined },
      requests: { request: async () => undefined },
      invitations: { invitationById: async () => undefined },
      feedback: { feedbackById: async () => undefined },
      log: (msg) => logged.push(msg),
      atomically: database.transactions.atomically,
    });
    await database.transactions.atomically(async () => {
      await events.emit({ projectId: 'p1', environmentId: 'e1', kind: 'request', actorId: 'u1' });
    });
    expect((await events.after('p1', 0, 10)).map((e) => e.kind)).toEqual(['request']);
    expect(logged).toEqual([
      'notifying of a request event failed; the change stands, nobody was told',
    ]);
  });
});
