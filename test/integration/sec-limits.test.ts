import { afterEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { sampleContent } from '#schema/content/sample.ts';
import { setItemJson } from '#schema/content/ydoc.ts';
import { encodeUpdate } from '#server/collab/protocol.ts';
import { CLOSE } from '#schema/errors.ts';
import { rawSocket } from '../helpers/raw-socket.ts';
import { ADMIN, setupAdmin, startTestServer, type TestServer } from '../helpers/server.ts';
import { cookieOf, postJson, signIn } from '../helpers/users.ts';
import { inProcessInstance, overTheWire, type Env, type Instance } from '../helpers/fixture.ts';
import { createRetention } from '#server/domain/retention.ts';
import { createRetentionStore } from '#server/store/retention.ts';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

type Refusal = { error: { id: string; details?: { limit: string; max: number } } };

/**
 * A server (with these limits) and a five-stage project; returns the admin token, a client as the
 * admin and environment ids.
 */
async function project(env: Record<string, string> = {}) {
  server = await startTestServer(undefined, env);
  const admin = (await setupAdmin(server.url)).token;
  const { body: p } = await overTheWire(server.url, admin).call<{
    id: string;
    environments: { id: string }[];
  }>('POST', '/api/projects', { name: 'Limits', sample: true });
  const [dev, test, uat] = p.environments.map((e) => e.id) as [string, string, string];
  return {
    url: server.url,
    admin,
    api: overTheWire(server.url, admin),
    projectId: p.id,
    dev,
    test,
    uat,
  };
}

const count = (table: string, where = '1', ...params: unknown[]) =>
  (
    server!.sqlite.prepare(`SELECT count(*) AS n FROM ${table} WHERE ${where}`).get(...params) as {
      n: number;
    }
  ).n;

describe('SEC-8 limits on what a user can multiply', () => {
  it('SEC-8 the 201st active share link of an environment is refused (409 limit_reached) and nothing is stored; revoking makes room', async () => {
    const { api, uat } = await project();
    for (let i = 0; i < 200; i++)
      expect(
        (await api.call('POST', `/api/environments/${uat}/share-links`, { label: `link ${i}` }))
          .status,
      ).toBe(201);
    const { status, body } = await api.call<Refusal>(
      'POST',
      `/api/environments/${uat}/share-links`,
      { label: 'one more' },
    );
    expect(status).toBe(409);
    expect(body.error).toMatchObject({
      id: 'limit_reached',
      details: { limit: 'MAX_SHARE_LINKS_PER_ENVIRONMENT', max: 200 },
    });
    expect(count('share_links', 'environment_id = ?', uat)).toBe(200);
    // Revoked and expired links do not count.
    const { body: list } = await api.call<{ links: { id: string }[] }>(
      'GET',
      `/api/environments/${uat}/share-links`,
    );
    expect((await api.call('DELETE', `/api/share-links/${list.links[0]!.id}`)).status).toBe(204);
    server!.sqlite
      .prepare('UPDATE share_links SET expires_at = ? WHERE id = ?')
      .run(Date.now() - 1, list.links[1]!.id);
    expect(
      (await api.call('POST', `/api/environments/${uat}/share-links`, { label: 'after revoking' }))
        .status,
    ).toBe(201);
    expect(
      (await api.call('POST', `/api/environments/${uat}/share-links`, { label: 'after expiry' }))
        .status,
    ).toBe(201);
    expect(
      (await api.call('POST', `/api/environments/${uat}/share-links`, { label: 'full again' }))
        .status,
    ).toBe(409);
  });

  it('SEC-8 share links per environment follow MAX_SHARE_LINKS_PER_ENVIRONMENT; other environments have their own count', async () => {
    const { api, uat, test } = await project({ MAX_SHARE_LINKS_PER_ENVIRONMENT: '3' });
    for (let i = 0; i < 3; i++)
      expect(
        (await api.call('POST', `/api/environments/${uat}/share-links`, { label: `link ${i}` }))
          .status,
      ).toBe(201);
    const { status, body } = await api.call<Refusal>(
      'POST',
      `/api/environments/${uat}/share-links`,
      { label: 'fourth' },
    );
    expect(status).toBe(409);
    expect(body.error.details).toEqual({ limit: 'MAX_SHARE_LINKS_PER_ENVIRONMENT', max: 3 });
    expect(
      (await api.call('POST', `/api/environments/${test}/share-links`, { label: 'elsewhere' }))
        .status,
    ).toBe(201);
    expect(count('audit_events', "kind = 'share_link.created'")).toBe(4);
  });

  it('SEC-8 the 21st feedback post through one link in a minute is refused (429 rate_limited, Retry-After) and not stored', async () => {
    const { url, api, uat } = await project();
    const { body: link } = await api.call<{ token: string }>(
      'POST',
      `/api/environments/${uat}/share-links`,
      { label: 'Review', allowFeedback: true },
    );
    const post = (text: string) =>
      postJson(`${url}/api/share/${link.token}/feedback`, {
        section: 'agents',
        itemId: 'agent_triage',
        author: 'Stakeholder',
        text,
      });
    // In parallel: every post is counted, none slips past the check.
    const answers = await Promise.all(Array.from({ length: 25 }, (_, i) => post(`note ${i}`)));
    const statuses = answers.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 201)).toHaveLength(20);
    expect(statuses.filter((s) => s === 429)).toHaveLength(5);
    const refused = answers.find((r) => r.status === 429)!;
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    expect(((await refused.json()) as Refusal).error).toMatchObject({
      id: 'rate_limited',
      details: { limit: 'FEEDBACK_PER_LINK_PER_MINUTE', max: 20 },
    });
    expect(count('feedback')).toBe(20);
    // A minute later (rows moved back in time) the link takes feedback again.
    server!.sqlite.prepare('UPDATE feedback SET created_at = created_at - 60000').run();
    expect((await post('a minute later')).status).toBe(201);
  });

  it('SEC-8 a link keeps at most MAX_FEEDBACK_PER_LINK posts (409 limit_reached); a post over 2,000 characters is refused', async () => {
    const { url, api, uat } = await project({ FEEDBACK_PER_LINK_PER_MINUTE: '10000' });
    const { body: link } = await api.call<{ id: string; token: string }>(
      'POST',
      `/api/environments/${uat}/share-links`,
      { label: 'Review', allowFeedback: true },
    );
    const post = (text: string) =>
      postJson(`${url}/api/share/${link.token}/feedback`, {
        section: 'agents',
        itemId: 'agent_triage',
        author: 'Stakeholder',
        text,
      });
    expect((await post('x'.repeat(2001))).status).toBe(400);
    const insert = server!.sqlite.prepare(
      'INSERT INTO feedback (id, environment_id, share_link_id, section, item_id, author, text, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
    server!.sqlite.transaction(() => {
      for (let i = 0; i < 999; i++)
        insert.run(
          `fbk_${i}`,
          uat,
          link.id,
          'agents',
          'agent_triage',
          'Stakeholder',
          `old ${i}`,
          Date.now() - 3_600_000,
        );
    })();
    expect((await post('the thousandth')).status).toBe(201);
    const refused = await post('one too many');
    expect(refused.status).toBe(409);
    expect(((await refused.json()) as Refusal).error).toMatchObject({
      id: 'limit_reached',
      details: { limit: 'MAX_FEEDBACK_PER_LINK', max: 1000 },
    });
    expect(count('feedback')).toBe(1000);
  });

  it('SEC-8 the secret over MAX_SECRETS_PER_ENVIRONMENT is refused (409 limit_reached); replacing a value at the limit still works', async () => {
    const { api, uat, test } = await project({ MAX_SECRETS_PER_ENVIRONMENT: '3' });
    for (const name of ['A_KEY', 'B_KEY', 'C_KEY'])
      expect(
        (await api.call('PUT', `/api/environments/${uat}/secrets/${name}`, { value: 'v1' })).status,
      ).toBe(200);
    const { status, body } = await api.call<Refusal>(
      'PUT',
      `/api/environments/${uat}/secrets/D_KEY`,
      { value: 'v1' },
    );
    expect(status).toBe(409);
    expect(body.error).toMatchObject({
      id: 'limit_reached',
      details: { limit: 'MAX_SECRETS_PER_ENVIRONMENT', max: 3 },
    });
    expect(count('secrets', 'environment_id = ?', uat)).toBe(3);
    expect(
      (await api.call('PUT', `/api/environments/${uat}/secrets/B_KEY`, { value: 'v2' })).status,
    ).toBe(200);
    expect(
      (await api.call('PUT', `/api/environments/${test}/secrets/D_KEY`, { value: 'v1' })).status,
    ).toBe(200);
    expect((await api.call('DELETE', `/api/environments/${uat}/secrets/A_KEY`)).status).toBe(204);
    expect(
      (await api.call('PUT', `/api/environments/${uat}/secrets/D_KEY`, { value: 'v1' })).status,
    ).toBe(200);
  });

  it('SEC-8 the 501st secret of an environment is refused at the default limit', async () => {
    const { api, uat } = await project();
    // 500 rows written directly (the route is the same as above); the 501st goes through the API.
    const put = server!.sqlite.prepare(
      'INSERT INTO secrets (environment_id, name, sealed, updated_by, updated_at) VALUES (?, ?, ?, ?, ?)',
    );
    server!.sqlite.transaction(() => {
      for (let i = 0; i < 500; i++)
        put.run(uat, `KEY_${i}`, Buffer.from('not opened'), 'usr_test', Date.now());
    })();
    const { status, body } = await api.call<Refusal>(
      'PUT',
      `/api/environments/${uat}/secrets/ONE_MORE`,
      { value: 'v' },
    );
    expect(status).toBe(409);
    expect(body.error.details).toEqual({ limit: 'MAX_SECRETS_PER_ENVIRONMENT', max: 500 });
    expect(count('secrets', 'environment_id = ?', uat)).toBe(500);
  });

  it('SEC-8 the 51st runtime key of an environment is refused (409 limit_reached) and not stored', async () => {
    const { api, uat } = await project();
    for (let i = 0; i < 50; i++)
      expect(
        (await api.call('POST', `/api/environments/${uat}/runtime-keys`, { name: `key ${i}` }))
          .status,
      ).toBe(201);
    const { status, body } = await api.call<Refusal>(
      'POST',
      `/api/environments/${uat}/runtime-keys`,
      { name: 'one more' },
    );
    expect(status).toBe(409);
    expect(body.error).toMatchObject({
      id: 'limit_reached',
      details: { limit: 'MAX_RUNTIME_KEYS_PER_ENVIRONMENT', max: 50 },
    });
    expect(count('runtime_keys', 'environment_id = ?', uat)).toBe(50);
  });

  it('SEC-8 the 201st audience of an environment is refused (409 limit_reached); editing one at the limit still works', async () => {
    const { api, uat } = await project();
    const have = count('audiences', 'environment_id = ?', uat);
    let last = '';
    for (let i = have; i < 200; i++) {
      const { status, body: a } = await api.call<{ id: string }>(
        'POST',
        `/api/environments/${uat}/audiences`,
        { name: `Audience ${i}` },
      );
      expect(status).toBe(201);
      last = a.id;
    }
    const { status, body } = await api.call<Refusal>('POST', `/api/environments/${uat}/audiences`, {
      name: 'One more',
    });
    expect(status).toBe(409);
    expect(body.error).toMatchObject({
      id: 'limit_reached',
      details: { limit: 'MAX_AUDIENCES_PER_ENVIRONMENT', max: 200 },
    });
    expect(count('audiences', 'environment_id = ?', uat)).toBe(200);
    expect(
      (await api.call('PUT', `/api/environments/${uat}/audiences/${last}`, { name: 'Renamed' }))
        .status,
    ).toBe(200);
  });

  it('SEC-8 the 201st open invitation into a project is refused (409 limit_reached); used or expired ones do not count', async () => {
    const { api, projectId } = await project();
    const invite = (i: number | string) =>
      api.call<Refusal & { id: string }>('POST', '/api/invitations', {
        email: `person${i}@example.com`,
        name: `Person ${i}`,
        projectId,
        template: 'qa',
      });
    const insert = server!.sqlite.prepare(
      'INSERT INTO invitations (id, token_hash, email, name, "grant", created_by, created_at, expires_at, used_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    const grant = JSON.stringify({ projectId, roles: {} });
    server!.sqlite.transaction(() => {
      // Made two days ago (the daily rate, tested below, is not what refuses here).
      const made = Date.now() - 2 * 86_400_000;
      for (let i = 0; i < 199; i++)
        insert.run(
          `inv_${i}`,
          `hash_${i}`,
          `p${i}@example.com`,
          'P',
          grant,
          'usr_x',
          made,
          Date.now() + 86_400_000,
          null,
        );
      insert.run(
        'inv_used',
        'hash_used',
        'used@example.com',
        'P',
        grant,
        'usr_x',
        made,
        Date.now() + 86_400_000,
        Date.now(),
      );
      insert.run(
        'inv_expired',
        'hash_expired',
        'expired@example.com',
        'P',
        grant,
        'usr_x',
        made,
        Date.now() - 1,
        null,
      );
    })();
    expect((await invite(200)).status).toBe(201);
    const { status, body } = await invite(201);
    expect(status).toBe(409);
    expect(body.error).toMatchObject({
      id: 'limit_reached',
      details: { limit: 'MAX_PENDING_INVITATIONS_PER_PROJECT', max: 200 },
    });
    expect(count('invitations')).toBe(202);
  });

  it('SEC-8 the 201st invitation into a project in a day is refused (429 rate_limited): used ones count here, so a project admin cannot mint accounts without end', async () => {
    const { url, admin, projectId } = await project();
    const insert = server!.sqlite.prepare(
      'INSERT INTO invitations (id, token_hash, email, name, "grant", created_by, created_at, expires_at, used_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    const grant = JSON.stringify({ projectId, roles: {} });
    server!.sqlite.transaction(() => {
      for (let i = 0; i < 199; i++)
        insert.run(
          `inv_${i}`,
          `hash_${i}`,
          `p${i}@example.com`,
          'P',
          grant,
          'usr_x',
          Date.now() - 3_600_000,
          Date.now() + 86_400_000,
          Date.now(),
        );
      insert.run(
        'inv_yesterday',
        'hash_yesterday',
        'y@example.com',
        'P',
        grant,
        'usr_x',
        Date.now() - 86_400_001,
        Date.now() + 86_400_000,
        Date.now(),
      );
    })();
    const invite = (i: number) =>
      fetch(`${url}/api/invitations`, {
        method: 'POST',
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          email: `person${i}@example.com`,
          name: `Person ${i}`,
          projectId,
          template: 'qa',
        }),
      });
    expect((await invite(1)).status).toBe(201);
    const refused = await invite(2);
    expect(refused.status).toBe(429);
    expect(((await refused.json()) as Refusal).error).toMatchObject({
      id: 'rate_limited',
      details: { limit: 'INVITATIONS_PER_PROJECT_PER_DAY', max: 200 },
    });
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(80_000);
    expect(count('invitations')).toBe(201);
  });

  it('SEC-8 a user keeps at most 50 sessions: signing in again ends the oldest, never refuses the owner', async () => {
    const { url } = await project();
    const userId = (server!.sqlite.prepare('SELECT id FROM users').get() as { id: string }).id;
    const insert = server!.sqlite.prepare(
      'INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)',
    );
    server!.sqlite.transaction(() => {
      for (let i = 0; i < 60; i++)
        insert.run(`old_${i}`, userId, Date.now() - 3_600_000 + i, Date.now() + 86_400_000);
    })();
    const res = await signIn(url, ADMIN.email);
    expect(res.status).toBe(200);
    expect(count('sessions', 'user_id = ?', userId)).toBe(50);
    expect(count('sessions', "token_hash = 'old_59'")).toBe(1);
    expect(count('sessions', "token_hash = 'old_0'")).toBe(0);
    expect(
      (await fetch(`${url}/api/session`, { headers: { cookie: cookieOf(res)! } })).status,
    ).toBe(200);
  });

  it('SEC-8 the 21st hotfix started in production in a day is refused (429 rate_limited): each start copies the live content', async () => {
    const { api, projectId } = await project();
    const envs = (
      server!.sqlite
        .prepare('SELECT id FROM environments WHERE project_id = ? ORDER BY position')
        .all(projectId) as { id: string }[]
    ).map((e) => e.id);
    for (const e of envs.slice(0, -1))
      expect(
        (await api.call('POST', `/api/environments/${e}/sync`, { confirmMissingSecrets: true }))
          .status,
      ).toBe(200);
    const prod = envs[envs.length - 1]!;
    expect(
      (await api.call('POST', `/api/environments/${prod}/publish`, { confirmMissingSecrets: true }))
        .status,
    ).toBe(200);
    for (let i = 0; i < 20; i++) {
      expect((await api.call('POST', `/api/environments/${prod}/hotfix`)).status).toBe(201);
      expect((await api.call('DELETE', `/api/environments/${prod}/hotfix`)).status).toBe(204);
    }
    const drafts = count('drafts');
    const { status, body } = await api.call<Refusal>('POST', `/api/environments/${prod}/hotfix`);
    expect(status).toBe(429);
    expect(body.error).toMatchObject({
      id: 'rate_limited',
      details: { limit: 'HOTFIXES_PER_ENVIRONMENT_PER_DAY', max: 20 },
    });
    expect(count('drafts')).toBe(drafts);
  });

  it('SEC-8 an update that would grow a draft past COLLAB_MAX_DRAFT_BYTES is refused whole (4507 draft_too_large); what came before stays', async () => {
    const { url, admin, api, dev } = await project({ COLLAB_MAX_DRAFT_BYTES: String(1024 * 1024) });
    const draftId = (
      server!.sqlite.prepare('SELECT id FROM drafts WHERE environment_id = ?').get(dev) as {
        id: string;
      }
    ).id;
    const raw = await rawSocket(url, draftId, admin);
    // Four 300 KB articles from a raw client: the fourth would pass 1 MiB.
    const author = new Y.Doc();
    for (let i = 0; i < 4; i++) {
      const before = Y.encodeStateVector(author);
      setItemJson(author, 'knowledge', `kb_big_${i}`, {
        title: `Big ${i}`,
        body: `${i}`.repeat(300_000),
        tags: [],
        audiences: [],
      });
      raw.send(encodeUpdate(Y.encodeStateAsUpdate(author, before)));
    }
    const { code, reason } = await raw.closedWith;
    expect(code).toBe(CLOSE.draft_too_large);
    expect(reason).toContain('1048576');
    const { body: content } = await api.call<{ knowledge: Record<string, { title: string }> }>(
      'GET',
      `/api/environments/${dev}/content`,
    );
    expect(
      Object.keys(content.knowledge)
        .filter((id) => id.startsWith('kb_big_'))
        .sort(),
    ).toEqual(['kb_big_0', 'kb_big_1', 'kb_big_2']);
  });

  it('SEC-8 the 101st API token of a user is refused (409 limit_reached)', async () => {
    const { api } = await project();
    const have = count('api_tokens');
    for (let i = have; i < 100; i++)
      expect((await api.call('POST', '/api/tokens', { name: `token ${i}` })).status).toBe(201);
    const { status, body } = await api.call<Refusal>('POST', '/api/tokens', { name: 'one more' });
    expect(status).toBe(409);
    expect(body.error).toMatchObject({
      id: 'limit_reached',
      details: { limit: 'MAX_API_TOKENS_PER_USER', max: 100 },
    });
    expect(count('api_tokens')).toBe(100);
  });

  it('SEC-8 the 61st approval request out of an environment in an hour is refused (429 rate_limited) before anything is frozen', async () => {
    const { url, admin, api, dev } = await project();
    const insert = server!.sqlite.prepare(
      "INSERT INTO promotion_requests (id, project_id, kind, source_environment_id, target_environment_id, snapshot_id, requested_by, created_at, state) VALUES (?, (SELECT project_id FROM environments WHERE id = ?), 'sync', ?, ?, ?, 'usr_x', ?, 'voided')",
    );
    server!.sqlite.transaction(() => {
      for (let i = 0; i < 59; i++)
        insert.run(`req_${i}`, dev, dev, dev, '0'.repeat(64), Date.now() - 60_000);
    })();
    expect((await api.call('POST', `/api/environments/${dev}/requests`, {})).status).toBe(201);
    const snapshots = count('snapshots');
    const res = await fetch(`${url}/api/environments/${dev}/requests`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(res.status).toBe(429);
    expect(((await res.json()) as Refusal).error).toMatchObject({
      id: 'rate_limited',
      details: { limit: 'APPROVAL_REQUESTS_PER_ENVIRONMENT_PER_HOUR', max: 60 },
    });
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(3000);
    expect(count('promotion_requests')).toBe(60);
    expect(count('snapshots')).toBe(snapshots);
  });
});

describe('SEC-8 retention of snapshots from abandoned approval requests', () => {
  it('SEC-8 a restart sweeps snapshots only abandoned requests held (voided, rejected, open too long) with their requests and blobs; live, history and recent ones stay', async () => {
    const { url, admin, api, dev, test } = await project();
    const { body: other } = await api.call<{ environments: { id: string }[] }>(
      'POST',
      '/api/projects',
      { name: 'Other', sample: true },
    );
    const otherDev = other.environments[0]!.id;
    /** DEV's draft with the size chart retitled, then an approval request of exactly that. */
    const request = async (envId: string, title: string) => {
      const content = sampleContent();
      content.knowledge.kb_sizes!.title = title;
      expect((await api.call('PUT', `/api/environments/${envId}/content`, content)).status).toBe(
        200,
      );
      const { status, body: r } = await api.call<{ id: string; snapshotId: string }>(
        'POST',
        `/api/environments/${envId}/requests`,
        {},
      );
      expect(status).toBe(201);
      return r;
    };
    const voided = await request(dev, 'Sizes v1');
    const rejected = await request(dev, 'Sizes v2'); // replaces (voids) the first
    expect(
      (await api.call('POST', `/api/requests/${rejected.id}/reject`, { comment: 'not yet' }))
        .status,
    ).toBe(200);
    const synced = await request(dev, 'Sizes shipped');
    const { body: sync } = await api.call<{ snapshotId: string }>(
      'POST',
      `/api/environments/${dev}/sync`,
      {},
    );
    expect(sync.snapshotId).toBe(synced.snapshotId); // TEST holds it now: history
    const replaced = await request(dev, 'Sizes v3');
    const recent = await request(dev, 'Sizes v4'); // open, within retention
    const stale = await request(otherDev, 'Sizes elsewhere'); // open, in the other project, for too long

    const blobOf = (projectId: string, snapshotId: string) =>
      (
        JSON.parse(
          (
            server!.sqlite
              .prepare('SELECT tree FROM snapshots WHERE project_id = ? AND id = ?')
              .get(projectId, snapshotId) as { tree: string }
          ).tree,
        ) as { knowledge: Record<string, string> }
      ).knowledge.kb_sizes!;
    const projectOf = (envId: string) =>
      (
        server!.sqlite
          .prepare('SELECT project_id AS p FROM environments WHERE id = ?')
          .get(envId) as { p: string }
      ).p;
    const [a, b] = [projectOf(dev), projectOf(otherDev)];
    const gone = {
      [voided.id]: [a, voided.snapshotId],
      [rejected.id]: [a, rejected.snapshotId],
      [replaced.id]: [a, replaced.snapshotId],
      [stale.id]: [b, stale.snapshotId],
    } as Record<string, [string, string]>;
    const kept = {
      [synced.id]: [a, synced.snapshotId],
      [recent.id]: [a, recent.snapshotId],
    } as Record<string, [string, string]>;
    const goneBlobs = Object.values(gone).map(([p, s]) => blobOf(p, s));
    const keptBlobs = Object.values(kept).map(([p, s]) => blobOf(p, s));
    const hasSnapshot = (p: string, s: string) =>
      server!.sqlite
        .prepare('SELECT 1 FROM snapshots WHERE project_id = ? AND id = ?')
        .get(p, s) !== undefined;
    const hasBlob = (id: string) =>
      server!.sqlite.prepare('SELECT 1 FROM blobs WHERE id = ?').get(id) !== undefined;
    const totals = () => [
      count('snapshots'),
      count('blobs'),
      count('promotion_requests'),
      count('approvals'),
    ];

    // Within retention a restart deletes nothing.
    const before = totals();
    const dataDir = server!.dataDir;
    await server!.close();
    server = await startTestServer(dataDir);
    expect(totals()).toEqual(before);

    // 31 days later (the rows' times moved back): the synced request's snapshot is held by TEST and its history.
    const old = Date.now() - 31 * 86_400_000;
    server.sqlite
      .prepare("UPDATE promotion_requests SET closed_at = ? WHERE state IN ('voided', 'rejected')")
      .run(old);
    server.sqlite
      .prepare('UPDATE promotion_requests SET created_at = ? WHERE id = ?')
      .run(old, stale.id);
    await server.close();
    server = await startTestServer(dataDir);
    await expect.poll(() => count('promotion_requests')).toBe(1);
    expect(count('promotion_requests', 'id = ?', recent.id)).toBe(1);
    expect(count('approvals')).toBe(0); // the rejection went with its request
    for (const [p, s] of Object.values(gone)) expect(hasSnapshot(p, s), s).toBe(false);
    for (const [p, s] of Object.values(kept)) expect(hasSnapshot(p, s), s).toBe(true);
    for (const id of goneBlobs) expect(hasBlob(id)).toBe(false);
    for (const id of keptBlobs) expect(hasBlob(id)).toBe(true);
    // Nothing left dangling: every remaining snapshot's blobs are there, and the pipeline reads as before.
    for (const row of server!.sqlite.prepare('SELECT tree FROM snapshots').all() as {
      tree: string;
    }[]) {
      for (const section of Object.values(
        JSON.parse(row.tree) as Record<string, Record<string, string>>,
      ))
        for (const blob of Object.values(section)) expect(hasBlob(blob)).toBe(true);
    }
    const { status, body: testContent } = await overTheWire(
      url.replace(/:\d+$/, `:${server.port}`),
      admin,
    ).call<{ knowledge: { kb_sizes: { title: string } } }>(
      'GET',
      `/api/environments/${test}/content`,
    );
    expect(status).toBe(200);
    expect(testContent.knowledge.kb_sizes.title).toBe('Sizes shipped');
    expect(count('audit_events', "kind = 'request.expired'")).toBe(1);
  });

  /**
   * A project whose DEV asked for approval of `content` (else the sample) and gave up 31 days ago:
   * past retention, its snapshot held by nothing else.
   */
  async function abandonedRequest(api: Instance, content?: ReturnType<typeof sampleContent>) {
    const p = await api.ok<{ environments: Env[] }>('POST', '/api/projects', {
      name: 'Race',
      sample: true,
    });
    const dev = p.environments[0]!.id;
    if (content) await api.ok('PUT', `/api/environments/${dev}/content`, content);
    const abandoned = await api.ok<{ id: string; snapshotId: string }>(
      'POST',
      `/api/environments/${dev}/requests`,
      {},
    );
    api.services.database.sqlite
      .prepare("UPDATE promotion_requests SET state = 'voided', closed_at = ? WHERE id = ?")
      .run(Date.now() - 31 * 86_400_000, abandoned.id);
    return { dev, abandoned };
  }

  /** An abandoned request's snapshot in a services fixture, and a sweep whose scan runs `during` at its first pause. */
  async function sweepWith(during: (api: Instance, dev: string) => Promise<void>) {
    const api = await inProcessInstance();
    try {
      const content = sampleContent();
      content.knowledge.kb_sizes!.title = 'Sizes abandoned';
      const { dev, abandoned } = await abandonedRequest(api, content);
      const sqlite = api.services.database.sqlite;
      const tree = JSON.parse(
        (
          sqlite.prepare('SELECT tree FROM snapshots WHERE id = ?').get(abandoned.snapshotId) as {
            tree: string;
          }
        ).tree,
      ) as { knowledge: Record<string, string> };
      let paused = 0;
      const retention = createRetention({
        store: api.services.database.transactions.port(
          createRetentionStore(api.services.database.db),
        ),
        retentionDays: 30,
        expired: async () => {},
        atomically: api.services.database.transactions.atomically,
        pause: async () => {
          if (paused++ === 0) await during(api, dev);
        },
      });
      const result = await retention.sweep();
      expect(paused).toBeGreaterThan(0);
      const has = (sql: string, id: string) => sqlite.prepare(sql).get(id) !== undefined;
      return {
        result,
        snapshotKept: has('SELECT 1 FROM snapshots WHERE id = ?', abandoned.snapshotId),
        blobKept: has('SELECT 1 FROM blobs WHERE id = ?', tree.knowledge.kb_sizes!),
        requestKept: has('SELECT 1 FROM promotion_requests WHERE id = ?', abandoned.id),
      };
    } finally {
      await api.close();
    }
  }

  it('SEC-8 a request made during the sweep for the same content keeps the snapshot (re-checked in the deleting transaction)', async () => {
    const { result, snapshotKept, blobKept, requestKept } = await sweepWith(async (api, dev) => {
      await api.ok('POST', `/api/environments/${dev}/requests`, {}); // the draft still holds exactly that content
    });
    expect({ snapshotKept, blobKept, requestKept }).toEqual({
      snapshotKept: true,
      blobKept: true,
      requestKept: false,
    });
    expect(result.snapshots).toBe(0);
  });

  it('SEC-8 a snapshot frozen during the sweep that reuses a doomed blob keeps that blob', async () => {
    const { result, snapshotKept, blobKept } = await sweepWith(async (api, dev) => {
      const content = sampleContent();
      content.knowledge.kb_sizes!.title = 'Sizes abandoned';
      content.knowledge.kb_returns!.title = 'Returns, changed meanwhile';
      await api.ok('PUT', `/api/environments/${dev}/content`, content);
      await api.ok('POST', `/api/environments/${dev}/requests`, {});
    });
    expect({ snapshotKept, blobKept }).toEqual({ snapshotKept: false, blobKept: true });
    expect(result.snapshots).toBe(1);
  });

  it('SEC-8 a request whose freeze found the snapshot an abandoned request held, deleted by a sweep right after, freezes it anew in its own transaction: it never names a missing snapshot', async () => {
    const api = await inProcessInstance();
    try {
      const { dev, abandoned } = await abandonedRequest(api);
      const sqlite = api.services.database.sqlite;
      // The same content asked for again; the sweep commits between its freeze and its insert.
      const { snapshots, retention } = api.services;
      const freeze = snapshots.freeze;
      let swept: Awaited<ReturnType<typeof retention.sweep>> | null = null;
      snapshots.freeze = async (...args) => {
        const id = await freeze(...args);
        swept ??= await retention.sweep();
        return id;
      };
      const again = await api.ok<{ id: string; snapshotId: string }>(
        'POST',
        `/api/environments/${dev}/requests`,
        {},
      );
      snapshots.freeze = freeze;
      expect(swept).toMatchObject({ snapshots: 1 });
      expect(again.snapshotId).toBe(abandoned.snapshotId);
      const row = sqlite
        .prepare('SELECT tree FROM snapshots WHERE id = ?')
        .get(again.snapshotId) as { tree: string } | undefined;
      expect(row).toBeDefined();
      for (const section of Object.values(
        JSON.parse(row!.tree) as Record<string, Record<string, string>>,
      ))
        for (const blob of Object.values(section))
          expect(sqlite.prepare('SELECT 1 FROM blobs WHERE id = ?').get(blob)).toBeDefined();
      const project = (
        sqlite.prepare('SELECT project_id AS id FROM environments WHERE id = ?').get(dev) as {
          id: string;
        }
      ).id;
      expect(
        (await api.call('GET', `/api/snapshots/${again.snapshotId}?project=${project}`)).status,
      ).toBe(200);
    } finally {
      await api.close();
    }
  });
});
