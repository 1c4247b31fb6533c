import { describe, expect, it } from 'vitest';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { ADMIN, setupAdmin, testServer } from '../helpers/server.ts';
import { cookieOf, createToken, PASSPHRASE, signIn } from '../helpers/users.ts';

/** SEC-18: no login CSRF. Real server on port 0, requests shaped as a browser would send them. */
const cleanup = cleanupAfterEach();
const server = async (env: Record<string, string> = {}) => await testServer(cleanup, env);

const errorId = async (res: Response) => ((await res.json()) as { error: { id: string } }).error.id;

describe('SEC-18 no login CSRF', () => {
  it('SEC-18 JSON routes refuse bodies that are not application/json (415), so cross-site forms cannot sign anyone in', async () => {
    const s = await server();
    await setupAdmin(s.url);
    const credentials = JSON.stringify({ email: ADMIN.email, password: ADMIN.password });
    // What a cross-site <form enctype="text/plain"> or a no-preflight fetch sends.
    for (const type of [
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
    ]) {
      const res = await fetch(`${s.url}/api/session`, {
        method: 'POST',
        headers: { 'content-type': type },
        body: credentials,
      });
      expect(res.status, type).toBe(415);
      expect(await errorId(res)).toBe('unsupported_media_type');
      expect(res.headers.get('set-cookie')).toBeNull();
    }
    // fetch with a string body and no header sends text/plain.
    expect(
      (await fetch(`${s.url}/api/session`, { method: 'POST', body: credentials })).status,
    ).toBe(415);
    // JSON with a charset is JSON.
    expect(
      (
        await fetch(`${s.url}/api/session`, {
          method: 'POST',
          headers: { 'content-type': 'application/json; charset=utf-8' },
          body: credentials,
        })
      ).status,
    ).toBe(200);
    // Authenticated routes too (a bearer token is no excuse for a non-JSON body).
    const admin = await createToken(s.url, cookieOf(await signIn(s.url, ADMIN.email))!, 'cli'); // signing in again, as a CLI would
    const res = await fetch(`${s.url}/api/projects`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'text/plain' },
      body: JSON.stringify({ name: 'Sneaky' }),
    });
    expect(res.status).toBe(415);
    // A request without a body needs no Content-Type.
    expect((await fetch(`${s.url}/api/session`, { method: 'DELETE' })).status).toBe(204);
  });

  it('SEC-18 sign-in, set-up, invitation accept and sign-out check Origin; a client without Origin (CLI) may sign in', async () => {
    const s = await server();
    const evil = { 'content-type': 'application/json', origin: 'https://evil.example' };
    const setup = await fetch(`${s.url}/api/setup`, {
      method: 'POST',
      headers: evil,
      body: JSON.stringify(ADMIN),
    });
    expect(setup.status).toBe(403);
    expect(await errorId(setup)).toBe('bad_origin');
    expect(((await (await fetch(`${s.url}/api/setup`)).json()) as { needed: boolean }).needed).toBe(
      true,
    );
    const admin = await setupAdmin(s.url);

    const credentials = JSON.stringify({ email: ADMIN.email, password: ADMIN.password });
    const forged = await fetch(`${s.url}/api/session`, {
      method: 'POST',
      headers: evil,
      body: credentials,
    });
    expect(forged.status).toBe(403);
    expect(forged.headers.get('set-cookie')).toBeNull();
    const cli = await fetch(`${s.url}/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: credentials,
    });
    expect(cli.status).toBe(200);
    const own = await fetch(`${s.url}/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: s.url },
      body: credentials,
    });
    expect(own.status).toBe(200);
    const cookie = cookieOf(own)!;

    const invite = await fetch(`${s.url}/api/invitations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'bo@example.com', name: 'Bo' }),
    });
    const { token } = (await invite.json()) as { token: string };
    const accept = await fetch(`${s.url}/api/invitations/${token}/accept`, {
      method: 'POST',
      headers: evil,
      body: JSON.stringify({ password: PASSPHRASE }),
    });
    expect(accept.status).toBe(403);
    expect((await fetch(`${s.url}/api/invitations/${token}`)).status).toBe(200);

    // Sign-out with the cookie is a cookie write: a foreign or missing Origin leaves the session alive.
    expect(
      (
        await fetch(`${s.url}/api/session`, {
          method: 'DELETE',
          headers: { cookie, origin: 'https://evil.example' },
        })
      ).status,
    ).toBe(403);
    expect(
      (await fetch(`${s.url}/api/session`, { method: 'DELETE', headers: { cookie } })).status,
    ).toBe(403);
    expect((await fetch(`${s.url}/api/session`, { headers: { cookie } })).status).toBe(200);
    expect(
      (
        await fetch(`${s.url}/api/session`, {
          method: 'DELETE',
          headers: { cookie, origin: s.url },
        })
      ).status,
    ).toBe(204);
    expect((await fetch(`${s.url}/api/session`, { headers: { cookie } })).status).toBe(401);
  });

  it('SEC-18 the Origin check compares scheme, host and port, not the host alone', async () => {
    const s = await server();
    await setupAdmin(s.url);
    const login = await signIn(s.url, ADMIN.email);
    const cookie = cookieOf(login)!;
    const host = new URL(s.url).host;
    const hostname = new URL(s.url).hostname;
    const write = (origin: string, headers: Record<string, string> = {}) =>
      fetch(`${s.url}/api/tokens`, {
        method: 'POST',
        headers: { cookie, origin, 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ name: 'x' }),
      });
    expect((await write(`https://${host}`)).status).toBe(403);
    expect((await write(`http://${hostname}:1`)).status).toBe(403);
    expect((await write(`http://${host}.evil.example`)).status).toBe(403);
    expect((await write(s.url)).status).toBe(201);
    // X-Forwarded-Proto is anyone's header unless TRUST_PROXY says a proxy sets it.
    expect((await write(`https://${host}`, { 'x-forwarded-proto': 'https' })).status).toBe(403);
  });

  it('SEC-18 behind a trusted proxy the scheme comes from X-Forwarded-Proto, and PUBLIC_URL is an allowed origin', async () => {
    const s = await server({ TRUST_PROXY: 'true', PUBLIC_URL: 'https://stagecoach.example.com' });
    await setupAdmin(s.url);
    const host = new URL(s.url).host;
    const signInFrom = (origin: string, headers: Record<string, string> = {}) =>
      signIn(s.url, ADMIN.email, ADMIN.password, { origin, ...headers });
    expect((await signInFrom(`https://${host}`, { 'x-forwarded-proto': 'https' })).status).toBe(
      200,
    );
    expect((await signInFrom(`https://${host}`)).status).toBe(403);
    expect((await signInFrom('https://stagecoach.example.com')).status).toBe(200);
    expect((await signInFrom('http://stagecoach.example.com')).status).toBe(403);
  });
});
