import http from 'node:http';
import { describe, expect, it } from 'vitest';
import { addItem } from '#schema/content/ydoc.ts';
import type { ProjectView } from '#schema/api.ts';
import { adminOf, newProject, newUser, overTheWire, type Client } from '../helpers/fixture.ts';
import { startTestServer, testServer, type TestServer } from '../helpers/server.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { stored } from '../helpers/dialect.ts';
import { cookieOf, PASSPHRASE } from '../helpers/users.ts';

/** Issue 16, CLI bullet: mutating calls carry an Idempotency-Key, so a retried CI step never moves twice. */
const cleanup = cleanupAfterEach();

type Err = { error: { id: string } };

const keyed = (key: string) => ({ headers: { 'idempotency-key': key } });

/** A five-stage project with an agent in DEV's draft; `edit` adds another one. */
async function pipeline(server?: TestServer) {
  server ??= await testServer(cleanup);
  const admin = await adminOf(server.url);
  const project = await newProject(admin);
  const [dev, test] = project.environments.map((e) => e.id) as [string, string];
  const draftId = project.environments[0]!.draftId!;
  let n = 0;
  const edit = async () =>
    await server.rooms.edit(draftId, 'test', (doc) =>
      addItem(doc, 'agents', {
        name: `Agent ${++n}`,
        instructions: `Help ${n}.`,
        fallbackMessage: 'Sorry.',
      }),
    );
  await edit();
  const snapshotOf = async (envId: string) =>
    (await admin.ok<ProjectView>('GET', `/api/projects/${project.id}`)).environments.find(
      (e) => e.id === envId,
    )!.snapshotId;
  const history = async (envId: string) =>
    (await admin.ok<{ history: unknown[] }>('GET', `/api/environments/${envId}/history`)).history;
  return { server, admin, project, dev, test, edit, snapshotOf, history };
}

/** The raw answer of a keyed call: status, headers and text. */
async function send(
  who: Client,
  method: string,
  path: string,
  body: unknown,
  headers: Record<string, string>,
) {
  const res = await who.raw(path, {
    method,
    body,
    headers: { authorization: `Bearer ${who.token}`, ...headers },
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

describe('IDEM idempotent writes', () => {
  it('IDEM-1 a Sync retried with the same key moves once: the repeat gets the identical answer with Idempotent-Replayed: true', async () => {
    const p = await pipeline();
    const key = { 'idempotency-key': 'ci-run-42/sync-dev' };
    const first = await send(p.admin, 'POST', `/api/environments/${p.dev}/sync`, {}, key);
    expect(first.status).toBe(200);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    const moved = await p.snapshotOf(p.test);
    expect(JSON.parse(first.text)).toMatchObject({ snapshotId: moved, unchanged: false });
    const records = (await p.history(p.test)).length;

    // DEV changes again: a Sync that ran now would move TEST; the retried step must not.
    await p.edit();
    const again = await send(p.admin, 'POST', `/api/environments/${p.dev}/sync`, {}, key);
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.headers.get('content-type')).toBe(first.headers.get('content-type'));
    expect(again.text).toBe(first.text);
    expect(again.headers.get('set-cookie')).toBeNull();
    expect(await p.snapshotOf(p.test)).toBe(moved);
    expect((await p.history(p.test)).length).toBe(records);

    // A new key is a new step: it moves.
    const next = await send(
      p.admin,
      'POST',
      `/api/environments/${p.dev}/sync`,
      {},
      { 'idempotency-key': 'ci-run-43/sync-dev' },
    );
    expect(next.status).toBe(200);
    expect(await p.snapshotOf(p.test)).not.toBe(moved);

    // An answer without a body (204) replays as one.
    const { id } = await p.admin.ok<{ id: string }>('POST', '/api/tokens', { name: 'old' });
    const del = { 'idempotency-key': 'revoke-old' };
    const gone = await send(p.admin, 'DELETE', `/api/tokens/${id}`, undefined, del);
    const replayed = await send(p.admin, 'DELETE', `/api/tokens/${id}`, undefined, del);
    expect([gone.status, replayed.status, replayed.text]).toEqual([204, 204, '']);
    expect(replayed.headers.get('idempotent-replayed')).toBe('true');
  });

  it('IDEM-2 the same key with another request (body, path or method) is refused 422 idempotency_key_reused and runs nothing', async () => {
    const p = await pipeline();
    const k = keyed('deploy-7');
    expect((await p.admin.call('POST', `/api/environments/${p.dev}/sync`, {}, k)).status).toBe(200);
    const moved = await p.snapshotOf(p.test);
    await p.edit();
    for (const [method, path, body] of [
      ['POST', `/api/environments/${p.dev}/sync`, { message: 'other body' }],
      ['POST', `/api/environments/${p.test}/sync`, {}],
      ['PUT', `/api/environments/${p.dev}/sync`, {}],
    ] as const) {
      const r = await p.admin.call<Err>(method, path, body, k);
      expect(r.status).toBe(422);
      expect(r.body.error.id).toBe('idempotency_key_reused');
    }
    expect(await p.snapshotOf(p.test)).toBe(moved);
    expect(await p.snapshotOf(p.project.environments[2]!.id)).toBeNull();
  });

  it("IDEM-3 keys are scoped by user and credential: another user's same key runs on its own and never sees the first answer", async () => {
    const p = await pipeline();
    const bob = await newUser(p.admin, 'bob@example.com', 'Bob');
    const k = keyed('shared-key');
    const ada = await send(p.admin, 'POST', '/api/tokens', { name: 'one' }, k.headers);
    expect(ada.status).toBe(201);
    // Bob's token: his own request runs (a token of his), nothing of Ada's comes back.
    const his = await send(bob, 'POST', '/api/tokens', { name: 'one' }, k.headers);
    expect(his.status).toBe(201);
    expect(his.headers.get('idempotent-replayed')).toBeNull();
    expect(his.text).not.toBe(ada.text);
    const bobsTokens = await bob.ok<{ tokens: { name: string }[] }>('GET', '/api/tokens');
    expect(bobsTokens.tokens.map((t) => t.name)).toContain('one');

    // A Sync by the admin and the same key by Bob (no right to Sync): Bob gets his own refusal.
    const sync = keyed('sync-key');
    expect((await p.admin.call('POST', `/api/environments/${p.dev}/sync`, {}, sync)).status).toBe(
      200,
    );
    const refused = await send(bob, 'POST', `/api/environments/${p.dev}/sync`, {}, sync.headers);
    expect(refused.status).toBe(404);
    expect(refused.headers.get('idempotent-replayed')).toBeNull();

    // The same user with another credential (a session) is another scope: the Sync runs again.
    await p.edit();
    const before = await p.snapshotOf(p.test);
    const signIn = await p.admin.raw('/api/session', {
      method: 'POST',
      body: { email: 'ada@example.com', password: PASSPHRASE },
    });
    const viaSession = await p.admin.raw(`/api/environments/${p.dev}/sync`, {
      method: 'POST',
      body: {},
      headers: { cookie: cookieOf(signIn)!, origin: p.admin.origin, 'idempotency-key': 'sync-key' },
    });
    expect(viaSession.status).toBe(200);
    expect(viaSession.headers.get('idempotent-replayed')).toBeNull();
    expect(await p.snapshotOf(p.test)).not.toBe(before);
  });

  it('IDEM-4 a repeat while the first request still runs is refused 409 idempotency_in_progress with Retry-After; only one runs', async () => {
    const p = await pipeline();
    const body = JSON.stringify({ message: 'slow step' });
    const url = new URL(`${p.server.url}/api/environments/${p.dev}/sync`);
    // The first request sends its headers and half its body, and waits.
    const req = http.request(url, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${p.admin.token}`,
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(body)),
        'idempotency-key': 'slow-1',
      },
    });
    const answered = new Promise<{ status: number; text: string }>((resolve, reject) => {
      req.on('response', (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode!, text }));
      });
      req.on('error', reject);
    });
    req.write(body.slice(0, 5));
    await new Promise((r) => setTimeout(r, 300));

    const dup = await send(
      p.admin,
      'POST',
      `/api/environments/${p.dev}/sync`,
      { message: 'slow step' },
      { 'idempotency-key': 'slow-1' },
    );
    expect(dup.status).toBe(409);
    expect((JSON.parse(dup.text) as Err).error.id).toBe('idempotency_in_progress');
    expect(dup.headers.get('retry-after')).toBe('1');
    expect(await p.snapshotOf(p.test)).toBeNull();

    req.end(body.slice(5));
    const first = await answered;
    expect(first.status).toBe(200);
    const moved = await p.snapshotOf(p.test);
    expect(moved).not.toBeNull();
    expect((await p.history(p.test)).length).toBe(1);

    // Retried after Retry-After: the first answer.
    const retry = await send(
      p.admin,
      'POST',
      `/api/environments/${p.dev}/sync`,
      { message: 'slow step' },
      { 'idempotency-key': 'slow-1' },
    );
    expect(retry.status).toBe(200);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(retry.text).toBe(first.text);
  });

  it('IDEM-5 a refusal (409 target_moved) is kept and replays as the same refusal, even once the request would pass', async () => {
    const p = await pipeline();
    const stale = { expectedTargetSnapshotId: 'not-what-test-holds' };
    const k = { 'idempotency-key': 'stale-sync' };
    const first = await send(p.admin, 'POST', `/api/environments/${p.dev}/sync`, stale, k);
    expect(first.status).toBe(409);
    expect((JSON.parse(first.text) as Err).error.id).toBe('target_moved');
    const again = await send(p.admin, 'POST', `/api/environments/${p.dev}/sync`, stale, k);
    expect(again.status).toBe(409);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.text).toBe(first.text);
    expect(await p.snapshotOf(p.test)).toBeNull();
  });

  it('IDEM-6 an answer holding a secret shown once (a new API token) is never kept: the repeat runs nothing and answers 409 idempotency_unavailable', async () => {
    const p = await pipeline();
    const k = { 'idempotency-key': 'make-ci-token' };
    const first = await send(p.admin, 'POST', '/api/tokens', { name: 'ci' }, k);
    expect(first.status).toBe(201);
    const { token } = JSON.parse(first.text) as { token: string };
    const again = await send(p.admin, 'POST', '/api/tokens', { name: 'ci' }, k);
    expect(again.status).toBe(409);
    expect((JSON.parse(again.text) as Err).error.id).toBe('idempotency_unavailable');
    expect(again.text).not.toContain(token);
    const tokens = await p.admin.ok<{ tokens: { name: string }[] }>('GET', '/api/tokens');
    expect(tokens.tokens.filter((t) => t.name === 'ci')).toHaveLength(1);
    // Nothing of the secret is stored.
    const rows = await stored(p.server).all<{ body: string | null; hash: string }>(
      'SELECT body, request_hash AS hash FROM idempotency_keys',
    );
    expect(rows.length).toBeGreaterThan(0);
    for (const r of rows) expect(r.body ?? '').not.toContain(token);

    // A runtime key, a share link (of TEST, once it holds a snapshot), an invitation and its new
    // link, a password-reset link: the same.
    await p.admin.ok('POST', `/api/environments/${p.dev}/sync`, {});
    const bob = await newUser(p.admin, 'bob@example.com', 'Bob');
    const invitation = await p.admin.ok<{ id: string }>('POST', '/api/invitations', {
      email: 'carol@example.com',
      name: 'Carol',
    });
    for (const [path, body, status] of [
      [`/api/environments/${p.test}/runtime-keys`, { name: 'web' }, 201],
      [`/api/environments/${p.test}/share-links`, { label: 'Review' }, 201],
      ['/api/invitations', { email: 'dan@example.com', name: 'Dan' }, 201],
      [`/api/invitations/${invitation.id}/link`, {}, 200],
      [`/api/users/${bob.id}/password-reset`, {}, 201],
    ] as const) {
      const one = await send(p.admin, 'POST', path, body, { 'idempotency-key': path });
      expect(one.status, one.text).toBe(status);
      const two = await send(p.admin, 'POST', path, body, { 'idempotency-key': path });
      expect([two.status, (JSON.parse(two.text) as Err).error.id]).toEqual([
        409,
        'idempotency_unavailable',
      ]);
    }
  });

  it('IDEM-7 a malformed key is refused 400 invalid_idempotency_key before anything runs; anonymous routes ignore the header', async () => {
    const p = await pipeline();
    for (const key of ['x'.repeat(256), 'ké']) {
      const r = await send(
        p.admin,
        'POST',
        `/api/environments/${p.dev}/sync`,
        {},
        {
          'idempotency-key': key,
        },
      );
      expect(r.status).toBe(400);
      expect((JSON.parse(r.text) as Err).error.id).toBe('invalid_idempotency_key');
    }
    expect(await p.snapshotOf(p.test)).toBeNull();
    // Reads carry no key semantics.
    expect(
      (await p.admin.call('GET', '/api/tokens', undefined, keyed('x'.repeat(300)))).status,
    ).toBe(200);
    // Sign-in twice with one key: both run (no replayed session cookie).
    for (let i = 0; i < 2; i++) {
      const res = await p.admin.raw('/api/session', {
        method: 'POST',
        body: {
          email: 'ada@example.com',
          password: PASSPHRASE,
        },
        headers: { 'idempotency-key': 'sign-in' },
      });
      expect(res.status).toBeLessThan(300);
      expect(res.headers.get('idempotent-replayed')).toBeNull();
      expect(res.headers.get('set-cookie')).toBeTruthy();
    }
  });

  it('IDEM-9 keys older than 24 hours are swept (at start, then daily) and the key runs again', async () => {
    const first = await startTestServer();
    let server: TestServer = first;
    cleanup.push(() => server.close());
    const p = await pipeline(first);
    const k = keyed('old-step');
    expect((await p.admin.call('POST', `/api/environments/${p.dev}/sync`, {}, k)).status).toBe(200);
    const count = async (s: TestServer) =>
      (await stored(s).get<{ n: number }>('SELECT count(*) AS n FROM idempotency_keys'))!.n;
    expect(await count(first)).toBe(1);
    await stored(first).run(
      'UPDATE idempotency_keys SET created_at = created_at - ?',
      25 * 3600 * 1000,
    );
    await first.close();
    server = await startTestServer(first.dataDir);
    expect(await count(server)).toBe(0);
    await server.rooms.edit(p.project.environments[0]!.draftId!, 'test', (doc) =>
      addItem(doc, 'agents', { name: 'Later', instructions: 'Later.', fallbackMessage: 'Sorry.' }),
    );
    const api = overTheWire(server.url, p.admin.token);
    const again = await api.raw(`/api/environments/${p.dev}/sync`, {
      method: 'POST',
      body: {},
      headers: { authorization: `Bearer ${api.token}`, 'idempotency-key': 'old-step' },
    });
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBeNull();
    expect(((await again.json()) as { unchanged: boolean }).unchanged).toBe(false);
  });
});
