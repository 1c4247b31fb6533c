import { afterEach, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import WebSocket from 'ws';
import { startTestServer } from '../helpers/server.ts';
import { stored } from '../helpers/dialect.ts';
import { adminOf, overTheWire } from '../helpers/fixture.ts';
import { wsUrl } from '../helpers/clients.ts';

type Server = Awaited<ReturnType<typeof startTestServer>>;
let server: Server;
afterEach(() => server?.close());

const SECRET = 'sk-share-SECRET-9999';

/** A sample release synced to UAT, a UAT secret and override, and a share link to UAT. */
async function shared(body: object = {}) {
  server = await startTestServer();
  const admin = await adminOf(server.url);
  const { body: p } = await admin.call<{
    id: string;
    environments: { id: string; draftId?: string }[];
  }>('POST', '/api/projects', { name: 'Shared', sample: true });
  const [dev, test, uat] = p.environments as [
    { id: string; draftId: string },
    { id: string },
    { id: string },
  ];
  await admin.call('POST', `/api/environments/${dev.id}/sync`, {});
  await admin.call('POST', `/api/environments/${test.id}/sync`, {});
  await admin.call('PUT', `/api/environments/${uat.id}/secrets/ORDERS_API_TOKEN`, {
    value: SECRET,
  });
  await admin.call('PUT', `/api/environments/${uat.id}/variables/company`, { value: 'Acme UAT' });
  const { status, body: link } = await admin.call<{
    id: string;
    url: string;
    token: string;
    path: string;
    expiresAt: string;
  }>('POST', `/api/environments/${uat.id}/share-links`, { label: 'Business review', ...body });
  expect(status).toBe(201);
  return { admin, p, dev, uat, link };
}
const open = (token: string, init: RequestInit = {}) =>
  fetch(`${server.url}/api/share/${token}`, init);

describe('share links for stakeholders', () => {
  it('[SHARE-2] shows the environment without any account: content, effective variables, banner facts — never secrets', async () => {
    const { link } = await shared();
    expect(link.url).toMatch(/\/share\/scl_[\w-]{43}$/);
    expect(Date.parse(link.expiresAt) - Date.now()).toBeGreaterThan(13.9 * 86_400_000);
    const res = await open(link.token);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).not.toContain(SECRET);
    const view = JSON.parse(text) as {
      environment: { name: string; color: string };
      snapshot: { id: string };
      content: { agents: object };
      variables: { name: string; value: string }[];
    };
    expect(view.environment.name).toBe('UAT');
    expect(view.snapshot.id).toMatch(/^[0-9a-f]{64}$/);
    expect(Object.keys(view.content.agents)).toHaveLength(2);
    expect(view.variables.find((v) => v.name === 'company')!.value).toBe('Acme UAT');
  });

  it('[SHARE-3] stores only the token hash, expires, and can be revoked (410 with a clear reason)', async () => {
    const { admin, uat, link } = await shared({ expiresInDays: 1 });
    const list = await admin.call<{ links: object[] }>(
      'GET',
      `/api/environments/${uat.id}/share-links`,
    );
    expect(JSON.stringify(list.body)).not.toContain(link.token);
    const rows = JSON.stringify(await stored(server).all('SELECT * FROM share_links'));
    expect(rows).not.toContain(link.token);
    expect(rows).toContain(createHash('sha256').update(link.token).digest('hex'));
    expect((await admin.call('DELETE', `/api/share-links/${link.id}`)).status).toBe(204);
    const revoked = await open(link.token);
    expect(revoked.status).toBe(410);
    expect(((await revoked.json()) as { error: { id: string } }).error.id).toBe(
      'share_link_revoked',
    );
    expect((await open('scl_unknown')).status).toBe(404);
    const { body: history } = await admin.call<{ events: { kind: string }[] }>(
      'GET',
      `/api/environments/${uat.id}/history`,
    );
    expect(history.events.map((e) => e.kind)).toEqual(['share_link.revoked', 'share_link.created']);
  });

  it('[SHARE-1] a link can never write: no mutating API with it, no websocket with it', async () => {
    const { dev, uat, link } = await shared({ allowFeedback: false });
    for (const [method, path] of [
      ['PUT', `/environments/${dev.id}/content`],
      ['POST', `/environments/${uat.id}/sync`],
      ['PUT', `/environments/${uat.id}/variables/company`],
      ['GET', `/environments/${uat.id}/secrets`],
    ] as const) {
      const res = await overTheWire(server.url, link.token).call(
        method,
        `/api${path}`,
        method === 'GET' ? undefined : {},
      );
      expect(res.status, `${method} ${path}`).toBe(401);
    }
    const status = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`${wsUrl(server.url)}/${dev.draftId}?token=${link.token}`);
      ws.once('unexpected-response', (_q, r) => resolve(r.statusCode ?? 0));
      ws.once('open', () => resolve(101));
      ws.once('error', () => undefined);
    });
    expect(status).toBe(401);
    expect(
      (
        await open(link.token, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{}',
        })
      ).status,
    ).toBe(401);
    const fb = await fetch(`${server.url}/api/share/${link.token}/feedback`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        section: 'agents',
        itemId: 'agt_support',
        author: 'Olga',
        text: 'Tone is off',
      }),
    });
    expect(fb.status).toBe(403);
  });

  it('[SHARE-4] takes feedback when the link allows it; the team sees it in that environment only', async () => {
    const { admin, dev, uat, link } = await shared({ allowFeedback: true });
    const fb = await fetch(`${server.url}/api/share/${link.token}/feedback`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        section: 'agents',
        itemId: 'agt_support',
        author: 'Olga Owner',
        text: 'The greeting should be warmer.',
      }),
    });
    expect(fb.status).toBe(201);
    const { body: mine } = await admin.call<{ feedback: { author: string; text: string }[] }>(
      'GET',
      `/api/environments/${uat.id}/feedback`,
    );
    expect(mine.feedback).toMatchObject([
      { author: 'Olga Owner', text: 'The greeting should be warmer.' },
    ]);
    expect(
      (await admin.call<{ feedback: unknown[] }>('GET', `/api/environments/${dev.id}/feedback`))
        .body.feedback,
    ).toEqual([]);
    const bad = await fetch(`${server.url}/api/share/${link.token}/feedback`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ section: 'robots', itemId: 'x', author: 'a', text: 'b' }),
    });
    expect(bad.status).toBe(400);
  });

  it('[SHARE-2] the authoring environment has no link to give: 409 authoring_not_shareable, nothing created', async () => {
    const { admin, dev } = await shared();
    const { status, body } = await admin.call<{ error: { id: string } }>(
      'POST',
      `/api/environments/${dev.id}/share-links`,
      { label: 'Early look' },
    );
    expect([status, body.error.id]).toEqual([409, 'authoring_not_shareable']);
    const { body: links } = await admin.call<{ links: unknown[] }>(
      'GET',
      `/api/environments/${dev.id}/share-links`,
    );
    expect(links.links).toEqual([]);
  });

  it('[SHARE-5] pins one snapshot from the environment’s history, and refuses others', async () => {
    const { admin, p, uat } = await shared();
    const { body: proj } = await admin.call<{ environments: { snapshotId: string }[] }>(
      'GET',
      `/api/projects/${p.id}`,
    );
    const { status: ok, body: pinned } = await admin.call<{ token: string; snapshotId: string }>(
      'POST',
      `/api/environments/${uat.id}/share-links`,
      { label: 'Pinned', snapshotId: proj.environments[2]!.snapshotId },
    );
    expect(ok).toBe(201);
    const view = (await (await open(pinned.token)).json()) as {
      pinned: boolean;
      snapshot: { id: string };
    };
    expect(view).toMatchObject({
      pinned: true,
      snapshot: { id: proj.environments[2]!.snapshotId },
    });
    expect(
      (
        await admin.call('POST', `/api/environments/${uat.id}/share-links`, {
          label: 'Bad',
          snapshotId: 'f'.repeat(64),
        })
      ).status,
    ).toBe(409);
  });
});
