import { describe, expect, it } from 'vitest';
import type {
  BoardView,
  FeedbackChanged,
  FeedbackListView,
  FeedbackPosted,
  SharedView,
} from '#schema/api.ts';
import { LIMITS } from '#server/domain/limits.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { stored } from '../helpers/dialect.ts';
import { adminOf, newProject, newUser, overTheWire, type Client } from '../helpers/fixture.ts';
import { testServer } from '../helpers/server.ts';

const cleanup = cleanupAfterEach();

type Refusal = { error: { id: string; details?: { limit: string; max: number } } };

/**
 * The sample release synced to UAT, two share links to UAT taking feedback, a viewer of UAT and an
 * admin of another project.
 */
async function reviewRound() {
  const server = await testServer(cleanup);
  const admin = await adminOf(server.url);
  const p = await newProject(admin, { name: 'Support bots', sample: true });
  const [dev, test, uat] = [p.environments[0]!, p.environments[1]!, p.environments[2]!];
  await admin.ok('POST', `/api/environments/${dev.id}/sync`, {});
  await admin.ok('POST', `/api/environments/${test.id}/sync`, {});
  const link = (label: string) =>
    admin.ok<{ id: string; token: string }>('POST', `/api/environments/${uat.id}/share-links`, {
      label,
      allowFeedback: true,
    });
  const board = await link('Board of directors');
  const legal = await link('Legal');
  const viewer = await newUser(admin, 'vic@example.com', 'Vic Viewer');
  await admin.ok('PUT', `/api/projects/${p.id}/members/${viewer.id}`, {
    roles: { [uat.id]: ['viewer'] },
  });
  const other = await newProject(admin, { name: 'Other' });
  const outsider = await newUser(admin, 'oz@example.com', 'Oz Other');
  await admin.ok('PUT', `/api/projects/${other.id}/members/${outsider.id}`, {
    roles: Object.fromEntries(
      other.environments.map((e) => [e.id, ['project_admin', 'environment_admin', 'viewer']]),
    ),
  });
  const anon = overTheWire(server.url, '');
  const post = (token: string, body: object) =>
    anon.call<FeedbackPosted & Refusal>('POST', `/api/share/${token}/feedback`, {
      section: 'agents',
      itemId: 'agt_support',
      author: 'Olga Owner',
      text: 'Warmer greeting, please.',
      ...body,
    });
  const share = (token: string) => anon.ok<SharedView>('GET', `/api/share/${token}`);
  const list = (who: Client, status = 'all') =>
    who.call<FeedbackListView & Refusal>(
      'GET',
      `/api/environments/${uat.id}/feedback?status=${status}`,
    );
  return {
    server,
    admin,
    p,
    dev,
    test,
    uat,
    board,
    legal,
    viewer,
    outsider,
    anon,
    post,
    share,
    list,
  };
}

describe('REV-20..29 stakeholders’ feedback is a conversation', () => {
  it('REV-20 a comment is on one item and keeps the name the stakeholder read; the share page lists only that link’s comments, under their item', async () => {
    const r = await reviewRound();
    const a = await r.post(r.board.token, {});
    expect(a.status).toBe(201);
    expect(a.body).toMatchObject({ section: 'agents', itemId: 'agt_support' });
    expect(a.body.itemName).toBe('Support agent');
    await r.post(r.board.token, {
      section: 'workflows',
      itemId: 'wf_ticket',
      text: 'Ask for the order number first.',
    });
    await r.post(r.legal.token, { author: 'Lee Legal', text: 'Check the disclaimer.' });

    const seen = await r.share(r.board.token);
    expect(seen.feedback.map((f) => [f.section, f.itemId, f.author, f.text])).toEqual([
      ['workflows', 'wf_ticket', 'Olga Owner', 'Ask for the order number first.'],
      ['agents', 'agt_support', 'Olga Owner', 'Warmer greeting, please.'],
    ]);
    expect(seen.feedback.every((f) => !f.resolved && f.replies.length === 0)).toBe(true);
    // A link is a review round: Legal's holders see Legal's comment only.
    expect((await r.share(r.legal.token)).feedback.map((f) => f.author)).toEqual(['Lee Legal']);

    // The team sees all of the environment's, each naming its item and its link.
    const { body: team } = await r.list(r.admin);
    expect(team.feedback.map((f) => [f.itemName, f.link.label])).toEqual([
      ['Support agent', 'Legal'],
      ['Open a ticket', 'Board of directors'],
      ['Support agent', 'Board of directors'],
    ]);
    expect(team.counts).toEqual({ open: 3, resolved: 0 });
    expect(team.canRespond).toBe(true);
  });

  it('REV-20 comments made before names were kept are named from what the environment shows now; a name never becomes an id', async () => {
    const r = await reviewRound();
    const insert = (...row: unknown[]) =>
      stored(r.server).run(
        'INSERT INTO feedback (id, environment_id, share_link_id, section, item_id, author, text, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
        ...row,
      );
    await insert('fbk_old', r.uat.id, r.board.id, 'workflows', 'wf_ticket', 'Olga', 'old', 1);
    await insert('fbk_gone', r.uat.id, r.board.id, 'agents', 'agt_gone', 'Olga', 'gone', 2);
    const { body } = await r.list(r.admin);
    expect(body.feedback.map((f) => [f.id, f.itemName])).toEqual([
      ['fbk_gone', ''],
      ['fbk_old', 'Open a ticket'],
    ]);
  });

  it('REV-21 the team replies and resolves; the link’s holders read the reply and the resolved state under the item; audit events record both', async () => {
    const r = await reviewRound();
    const { body: fb } = await r.post(r.board.token, {});
    const replied = await r.admin.call<FeedbackChanged>('POST', `/api/feedback/${fb.id}/replies`, {
      text: 'Done in the next release.',
    });
    expect(replied.status).toBe(201);
    expect(replied.body.feedback.replies).toMatchObject([
      { author: 'Ada', text: 'Done in the next release.' },
    ]);
    const resolved = await r.admin.ok<FeedbackChanged>('POST', `/api/feedback/${fb.id}/resolve`, {
      resolved: true,
    });
    expect(resolved.feedback.resolved).toMatchObject({ by: 'Ada' });

    const seen = await r.share(r.board.token);
    expect(seen.feedback).toMatchObject([
      {
        itemId: 'agt_support',
        resolved: true,
        replies: [{ author: 'Ada', text: 'Done in the next release.' }],
      },
    ]);
    // Nothing of the team's ids reaches a stakeholder.
    expect(JSON.stringify(seen.feedback)).not.toMatch(/usr_|shr_/);

    expect((await r.list(r.admin, 'open')).body.feedback).toEqual([]);
    expect((await r.list(r.admin, 'resolved')).body.feedback.map((f) => f.id)).toEqual([fb.id]);
    const reopened = await r.admin.ok<FeedbackChanged>('POST', `/api/feedback/${fb.id}/resolve`, {
      resolved: false,
    });
    expect(reopened.feedback.resolved).toBeNull();
    expect((await r.list(r.admin, 'open')).body.counts).toEqual({ open: 1, resolved: 0 });

    const { body: history } = await r.admin.call<{ events: { kind: string; subject: object }[] }>(
      'GET',
      `/api/environments/${r.uat.id}/history`,
    );
    const kinds = (history.events ?? [])
      .map((e) => e.kind)
      .filter((k) => k.startsWith('feedback.'));
    expect(kinds).toEqual(['feedback.reopened', 'feedback.resolved', 'feedback.replied']);
    expect(
      (history.events ?? []).find((e) => e.kind === 'feedback.replied')?.subject,
    ).toMatchObject({ itemName: 'Support agent' });
  });

  it('REV-22 a viewer reads but may not reply or resolve (403); another project’s admin is told the feedback does not exist (404); a share link is no credential', async () => {
    const r = await reviewRound();
    const { body: fb } = await r.post(r.board.token, {});
    const { body: seen } = await r.list(r.viewer);
    expect(seen.feedback.map((f) => f.id)).toEqual([fb.id]);
    expect(seen.canRespond).toBe(false);
    for (const [path, body] of [
      [`/api/feedback/${fb.id}/replies`, { text: 'Me too' }],
      [`/api/feedback/${fb.id}/resolve`, { resolved: true }],
    ] as const) {
      expect((await r.viewer.call(`POST`, path, body)).status, path).toBe(403);
      expect((await r.outsider.call('POST', path, body)).status, path).toBe(404);
      expect((await r.anon.call('POST', path, body)).status, path).toBe(401);
      expect((await r.anon.as(r.board.token).call('POST', path, body)).status, path).toBe(401);
    }
    expect((await r.outsider.call('GET', `/api/environments/${r.uat.id}/feedback`)).status).toBe(
      404,
    );
    expect(
      (await r.admin.call('POST', '/api/feedback/fbk_nothing/replies', { text: 'x' })).status,
    ).toBe(404);
    // Nothing changed.
    expect((await r.list(r.admin)).body.feedback).toMatchObject([{ resolved: null, replies: [] }]);
  });

  it('REV-23 bounds: a reply is 1–2,000 characters; a comment keeps at most MAX_REPLIES_PER_FEEDBACK replies (409 limit_reached)', async () => {
    const r = await reviewRound();
    const { body: fb } = await r.post(r.board.token, {});
    const reply = (text: string) =>
      r.admin.call<Refusal>('POST', `/api/feedback/${fb.id}/replies`, { text });
    expect((await reply('x'.repeat(2001))).status).toBe(400);
    expect((await reply('   ')).status).toBe(400);
    expect(
      (
        await r.admin.call('POST', `/api/feedback/${fb.id}/resolve`, {
          resolved: true,
          extra: 1,
        })
      ).status,
    ).toBe(400);
    const max = LIMITS.MAX_REPLIES_PER_FEEDBACK;
    for (let i = 0; i < max; i++) expect((await reply(`reply ${i}`)).status).toBe(201);
    const refused = await reply('one more');
    expect([refused.status, refused.body.error.id, refused.body.error.details]).toEqual([
      409,
      'limit_reached',
      { limit: 'MAX_REPLIES_PER_FEEDBACK', max },
    ]);
    expect((await r.share(r.board.token)).feedback[0]!.replies).toHaveLength(max);
  });

  it('REV-24 the board counts open feedback per stage, to readers of the stage only', async () => {
    const r = await reviewRound();
    const { body: a } = await r.post(r.board.token, {});
    await r.post(r.legal.token, {});
    await r.admin.ok('POST', `/api/feedback/${a.id}/resolve`, { resolved: true });
    const count = async (who: Client) =>
      Object.fromEntries(
        (await who.ok<BoardView>('GET', `/api/projects/${r.p.id}/board`)).stages.map((s) => [
          s.environmentId,
          s.openFeedback,
        ]),
      );
    expect(await count(r.admin)).toMatchObject({ [r.dev.id]: 0, [r.test.id]: 0, [r.uat.id]: 1 });
    expect((await count(r.viewer))[r.uat.id]).toBe(1);
    // A member who may not read UAT sees 0 there.
    const devOnly = await newUser(r.admin, 'dee@example.com', 'Dee Dev');
    await r.admin.ok('PUT', `/api/projects/${r.p.id}/members/${devOnly.id}`, {
      roles: { [r.dev.id]: ['viewer'] },
    });
    expect((await count(devOnly))[r.uat.id]).toBe(0);
  });

  it('REV-25 feedback stays in its environment: a Sync onward carries none of it', async () => {
    const r = await reviewRound();
    await r.post(r.board.token, {});
    const uatBefore = (await r.list(r.admin)).body.feedback;
    expect(uatBefore).toHaveLength(1);
    const sync = await r.admin.call('POST', `/api/environments/${r.uat.id}/sync`, {});
    expect(sync.status).toBeLessThan(300);
    const staging = r.p.environments[3]!;
    const { body: there } = await r.admin.call<FeedbackListView>(
      'GET',
      `/api/environments/${staging.id}/feedback`,
    );
    expect([there.feedback, there.counts]).toEqual([[], { open: 0, resolved: 0 }]);
    const link = await r.admin.ok<{ token: string }>(
      'POST',
      `/api/environments/${staging.id}/share-links`,
      { label: 'Staging look', allowFeedback: true },
    );
    expect((await r.share(link.token)).feedback).toEqual([]);
    expect((await r.list(r.admin)).body.feedback).toEqual(uatBefore);
  });
});
