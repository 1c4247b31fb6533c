import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLOSE } from '#schema/errors.ts';
import { wsUrl } from '../helpers/clients.ts';
import { stored } from '../helpers/dialect.ts';
import { openRawSocket, upgradeStatus } from '../helpers/raw-socket.ts';
import { setupAdmin, startTestServer, type TestServer } from '../helpers/server.ts';
import { newProject, overTheWire } from '../helpers/fixture.ts';
import { cookieOf, PASSPHRASE, signIn } from '../helpers/users.ts';

/**
 * SEC-16 and SEC-17: a token or session that ends takes its live access with it.
 * Real server on port 0, real SQLite, raw `ws` sockets carrying the cookie or ?token= as a
 * browser or a script would.
 */
let server: TestServer;
let adminToken: string;
let draftId: string;
/** Signs `email` in (password PASSPHRASE) and returns the session cookie. */
async function sessionOf(email: string): Promise<string> {
  const res = await signIn(server.url, email);
  expect(res.status).toBe(200);
  return cookieOf(res)!;
}

/** An account with a role everywhere in the project (so it may open the draft), and a signed-in cookie. */
async function member(email: string, projectId: string): Promise<{ id: string; cookie: string }> {
  const {
    status: created,
    body: { id },
  } = await overTheWire(server.url, adminToken).call<{ id: string }>('POST', '/api/users', {
    email,
    name: email,
    password: PASSPHRASE,
  });
  expect(created).toBe(201);
  expect(
    (
      await overTheWire(server.url, adminToken).call(
        'PUT',
        `/api/projects/${projectId}/members/${id}`,
        { roles: { '*': ['viewer', 'editor'] } },
      )
    ).status,
  ).toBe(200);
  return { id, cookie: await sessionOf(email) };
}

/** Cookie writes carry our Origin (SEC-18 checks it on DELETE /api/session too). */
function withCookie(cookie: string): Record<string, string> {
  return { 'content-type': 'application/json', cookie, origin: server.url };
}

/** An API call carrying only `headers` (a cookie, or a bearer token), not the admin's token. */
function call(method: string, path: string, headers: Record<string, string>, body?: unknown) {
  return overTheWire(server.url, '').call<Record<string, unknown> | null>(
    method,
    `/api${path}`,
    body,
    { headers },
  );
}

/** Where a raw sync socket connects, with a cookie (and our Origin) or a ?token=. */
function target(
  auth: { cookie: string } | { token: string },
): [url: string, headers: Record<string, string>] {
  const url = `${wsUrl(server.url)}/${draftId}${'token' in auth ? `?token=${auth.token}` : ''}`;
  return [url, 'cookie' in auth ? { cookie: auth.cookie, origin: server.url } : {}];
}
const open = (auth: { cookie: string } | { token: string }) => openRawSocket(...target(auth));
const status = (auth: { cookie: string } | { token: string }) => upgradeStatus(...target(auth));

beforeAll(async () => {
  server = await startTestServer();
  adminToken = (await setupAdmin(server.url)).token;
  const project = await newProject(overTheWire(server.url, adminToken));
  draftId = project.environments[0]!.draftId!;
  projectId = project.id;
});
afterAll(() => server?.close());
let projectId: string;

describe('SEC-16 API tokens can be revoked and expire', () => {
  it('SEC-16 DELETE /api/tokens/:id answers 204; the token answers 401 at once and its open sockets close with 4401; only your own tokens', async () => {
    const alice = await member('alice@example.com', projectId);
    const { status: s1, body: ci } = await call('POST', '/tokens', withCookie(alice.cookie), {
      name: 'ci',
      expiresInDays: 30,
    });
    expect(s1).toBe(201);
    expect(ci).toMatchObject({ name: 'ci', token: expect.any(String), id: expect.any(String) });
    const expires = Date.parse(ci!.expiresAt as string);
    expect(Math.abs(expires - (Date.now() + 30 * 86_400_000))).toBeLessThan(60_000);
    const { body: forever } = await call('POST', '/tokens', withCookie(alice.cookie), {
      name: 'forever',
    });
    expect(forever!.expiresAt).toBeNull();

    const { body: list } = await call('GET', '/tokens', withCookie(alice.cookie));
    const listed = list!.tokens as {
      id: string;
      name: string;
      expiresAt: string | null;
      createdAt: string;
      lastUsedAt: string | null;
    }[];
    expect(listed.map((t) => [t.name, t.expiresAt])).toEqual([
      ['ci', ci!.expiresAt],
      ['forever', null],
    ]);
    expect(listed[0]!.createdAt).toEqual(expect.any(String));

    const ciSocket = await open({ token: ci!.token as string });
    const foreverSocket = await open({ token: forever!.token as string });
    const cookieSocket = await open({ cookie: alice.cookie });

    // Someone else cannot revoke it, nor learn it exists.
    const { status: otherStatus, body: otherBody } = await call(
      'DELETE',
      `/tokens/${ci!.id as string}`,
      { authorization: `Bearer ${adminToken}` },
    );
    expect(otherStatus).toBe(404);
    expect((otherBody!.error as { id: string }).id).toBe('not_found');
    expect(
      (await call('GET', '/session', { authorization: `Bearer ${ci!.token as string}` })).status,
    ).toBe(200);

    expect(
      (await call('DELETE', `/tokens/${ci!.id as string}`, withCookie(alice.cookie))).status,
    ).toBe(204);
    expect(await ciSocket.closedWith).toEqual({
      code: CLOSE.session_ended,
      reason: 'session_ended',
    });
    expect(
      (await call('GET', '/session', { authorization: `Bearer ${ci!.token as string}` })).status,
    ).toBe(401);
    expect(await status({ token: ci!.token as string })).toBe(401);
    // Only that token's connections ended.
    expect(await foreverSocket.handled()).toBe(true);
    expect(await cookieSocket.handled()).toBe(true);
    const { body: after } = await call('GET', '/tokens', withCookie(alice.cookie));
    expect((after!.tokens as { name: string }[]).map((t) => t.name)).toEqual(['forever']);
    expect(
      (await call('DELETE', `/tokens/${ci!.id as string}`, withCookie(alice.cookie))).status,
    ).toBe(404);
    // A token may revoke itself (a script cleaning up after itself).
    expect(
      (
        await call('DELETE', `/tokens/${forever!.id as string}`, {
          authorization: `Bearer ${forever!.token as string}`,
        })
      ).status,
    ).toBe(204);
    expect(await foreverSocket.closed).toBe(CLOSE.session_ended);
    expect(await cookieSocket.handled()).toBe(true);
    cookieSocket.ws.close();
  });

  it('SEC-16 an expired token answers 401, and its open socket closes with 4401 when it expires', async () => {
    const bob = await member('bob@example.com', projectId);
    for (const bad of [0, 3651, 1.5, '7'])
      expect(
        (await call('POST', '/tokens', withCookie(bob.cookie), { name: 'bad', expiresInDays: bad }))
          .status,
      ).toBe(400);
    const { body: t } = await call('POST', '/tokens', withCookie(bob.cookie), {
      name: 'short',
      expiresInDays: 1,
    });
    const token = t!.token as string;
    expect((await call('GET', '/session', { authorization: `Bearer ${token}` })).status).toBe(200);
    // A day is too long to wait: move the expiry close (as if the day had passed but a moment).
    await stored(server).run(
      'UPDATE api_tokens SET expires_at = ? WHERE id = ?',
      Date.now() + 400,
      t!.id,
    );
    const socket = await open({ token });
    expect(await socket.closedWith).toEqual({ code: CLOSE.session_ended, reason: 'session_ended' });
    expect((await call('GET', '/session', { authorization: `Bearer ${token}` })).status).toBe(401);
    expect(await status({ token })).toBe(401);
    // Still listed (with its expiry), until its owner deletes it.
    const { body: list } = await call('GET', '/tokens', withCookie(bob.cookie));
    expect((list!.tokens as { name: string }[]).map((x) => x.name)).toEqual(['short']);
  });
});

describe('SEC-17 sign-out ends live access', () => {
  it('SEC-17 signing out closes the sockets that session opened (4401), and only those', async () => {
    const carol = await member('carol@example.com', projectId);
    const laptop = carol.cookie;
    const phone = await sessionOf('carol@example.com');
    const onLaptop = await open({ cookie: laptop });
    const onPhone = await open({ cookie: phone });
    expect((await call('DELETE', '/session', withCookie(laptop))).status).toBe(204);
    expect(await onLaptop.closedWith).toEqual({
      code: CLOSE.session_ended,
      reason: 'session_ended',
    });
    expect(await status({ cookie: laptop })).toBe(401);
    expect(await onPhone.handled()).toBe(true);
    onPhone.ws.close();
  });

  it('SEC-17 a socket closes (4401) when the session behind it expires', async () => {
    const dave = await member('dave@example.com', projectId);
    // SESSION_TTL_DAYS is at least a day: move this session's end close instead of waiting.
    await stored(server).run(
      'UPDATE sessions SET expires_at = ? WHERE user_id = ?',
      Date.now() + 400,
      dave.id,
    );
    const socket = await open({ cookie: dave.cookie });
    expect(await socket.closedWith).toEqual({ code: CLOSE.session_ended, reason: 'session_ended' });
    expect(await status({ cookie: dave.cookie })).toBe(401);
  });

  it('SEC-17 a session ended by the per-user session limit (SEC-8: a new sign-in ends the oldest) closes its sockets too', async () => {
    const fay = await member('fay@example.com', projectId);
    const socket = await open({ cookie: fay.cookie });
    // Fill the other 49 places with newer sessions, so the next sign-in ends the socket's one.
    for (let i = 0; i < 49; i++)
      await stored(server).run(
        'INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)',
        `newer_${i}`,
        fay.id,
        Date.now() + 1000 + i,
        Date.now() + 86_400_000,
      );
    await sessionOf('fay@example.com');
    expect(await socket.closedWith).toEqual({ code: CLOSE.session_ended, reason: 'session_ended' });
    expect(await status({ cookie: fay.cookie })).toBe(401);
  });

  it('SEC-17 removing a user (DELETE /api/users/:id) ends every session, token and socket of theirs', async () => {
    const erin = await member('erin@example.com', projectId);
    const { body: t } = await call('POST', '/tokens', withCookie(erin.cookie), { name: 'script' });
    const byCookie = await open({ cookie: erin.cookie });
    const byToken = await open({ token: t!.token as string });
    const admins = await open({ token: adminToken });
    // Not by themselves, and only by the instance admin.
    expect(
      (await call('DELETE', `/users/${erin.id}`, { authorization: `Bearer ${t!.token as string}` }))
        .status,
    ).toBe(403);
    expect(
      (await call('DELETE', `/users/${erin.id}`, { authorization: `Bearer ${adminToken}` })).status,
    ).toBe(204);
    expect(await byCookie.closed).toBe(CLOSE.session_ended);
    expect(await byToken.closed).toBe(CLOSE.session_ended);
    expect(
      (await call('GET', '/session', { authorization: `Bearer ${t!.token as string}` })).status,
    ).toBe(401);
    expect((await call('GET', '/session', { cookie: erin.cookie })).status).toBe(401);
    expect(
      (await call('DELETE', `/users/${erin.id}`, { authorization: `Bearer ${adminToken}` })).status,
    ).toBe(404);
    expect(await admins.handled()).toBe(true);
    admins.ws.close();
  });
});
