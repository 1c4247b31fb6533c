import { describe, expect, it } from 'vitest';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { ADMIN, setupAdmin, testServer } from '../helpers/server.ts';
import { newUser, overTheWire } from '../helpers/fixture.ts';
import { PASSPHRASE, postJson, signIn } from '../helpers/users.ts';

/** SEC-19: the sign-in limit holds under concurrency; nobody can lock the owner out; unlock and reset links. */
const cleanup = cleanupAfterEach();
const server = async (env: Record<string, string> = {}) => await testServer(cleanup, env);

const from = (address: string) => ({ 'x-forwarded-for': address });

describe('SEC-19 sign-in limits', () => {
  it('SEC-19 60 parallel wrong guesses: only 5 are checked, the other 55 wait (429), counted before the password check', async () => {
    const s = await server();
    await setupAdmin(s.url);
    const answers = await Promise.all(
      Array.from({ length: 60 }, () => signIn(s.url, ADMIN.email, 'not the password at all')),
    );
    const statuses = answers.map((r) => r.status);
    expect(statuses.filter((x) => x === 401)).toHaveLength(5);
    expect(statuses.filter((x) => x === 429)).toHaveLength(55);
    expect(
      Number(answers.find((r) => r.status === 429)!.headers.get('retry-after')),
    ).toBeGreaterThan(0);
  });

  it('SEC-19 guessing from other addresses cannot lock the owner out of their own address; an admin unlocks the account (TRUST_PROXY: last X-Forwarded-For hop)', async () => {
    const s = await server({ TRUST_PROXY: 'true' });
    const admin = await setupAdmin(s.url);
    const owner = await newUser(overTheWire(s.url, admin.token), 'owner@example.com', 'Owner');
    // The owner has signed in from 10.0.0.1 (newUser signs in from the socket's address; once more
    // from the proxy's hop).
    expect((await signIn(s.url, 'owner@example.com', PASSPHRASE, from('10.0.0.1'))).status).toBe(
      200,
    );

    // One attacker address: 5 guesses, then that address waits; the owner's address does not.
    for (let i = 0; i < 5; i++)
      expect(
        (await signIn(s.url, 'owner@example.com', `guess ${i}`, from('203.0.113.1'))).status,
      ).toBe(401);
    expect((await signIn(s.url, 'owner@example.com', 'guess 5', from('203.0.113.1'))).status).toBe(
      429,
    );
    // A forged first hop does not make a new address: only the one our proxy appended counts.
    expect(
      (await signIn(s.url, 'owner@example.com', 'guess 6', from('198.51.100.9, 203.0.113.1')))
        .status,
    ).toBe(429);
    expect((await signIn(s.url, 'owner@example.com', PASSPHRASE, from('10.0.0.1'))).status).toBe(
      200,
    );

    // Many addresses: 5 each until the per-account ceiling (100 an hour) holds for new addresses.
    const guesses: Promise<Response>[] = [];
    for (let a = 2; a <= 25; a++)
      for (let i = 0; i < 5; i++)
        guesses.push(signIn(s.url, 'owner@example.com', `guess ${a}-${i}`, from(`203.0.113.${a}`)));
    const statuses = (await Promise.all(guesses)).map((r) => r.status);
    expect(statuses.filter((x) => x === 401)).toHaveLength(95);
    expect(statuses.filter((x) => x === 429)).toHaveLength(25);
    // A new address, even with the right password, waits now …
    expect((await signIn(s.url, 'owner@example.com', PASSPHRASE, from('192.0.2.50'))).status).toBe(
      429,
    );
    // … but the owner's own address still signs in.
    expect((await signIn(s.url, 'owner@example.com', PASSPHRASE, from('10.0.0.1'))).status).toBe(
      200,
    );

    // Only an instance admin unlocks, and then the new address may sign in.
    const { status: denied } = await overTheWire(s.url, owner.token).call(
      'POST',
      `/api/users/${owner.id}/unlock`,
    );
    expect(denied).toBe(403);
    const { status: unlocked } = await overTheWire(s.url, admin.token).call(
      'POST',
      `/api/users/${owner.id}/unlock`,
    );
    expect(unlocked).toBe(204);
    expect((await signIn(s.url, 'owner@example.com', PASSPHRASE, from('192.0.2.50'))).status).toBe(
      200,
    );
    expect(
      (await overTheWire(s.url, admin.token).call('POST', '/api/users/usr_nobody/unlock')).status,
    ).toBe(404);
  });

  it('SEC-19 without TRUST_PROXY, X-Forwarded-For is ignored: a guesser cannot pose as new addresses', async () => {
    const s = await server();
    await setupAdmin(s.url);
    for (let i = 0; i < 5; i++)
      expect((await signIn(s.url, ADMIN.email, `guess ${i}`, from(`203.0.113.${i}`))).status).toBe(
        401,
      );
    expect((await signIn(s.url, ADMIN.email, 'guess 5', from('203.0.113.99'))).status).toBe(429);
  });

  it('SEC-19 an instance admin issues a single-use password-reset link; using it sets the password, signs in and ends every other session', async () => {
    const s = await server({ PUBLIC_URL: 'https://stagecoach.example.com' });
    const api = overTheWire(s.url, (await setupAdmin(s.url)).token);
    const bo = await newUser(api, 'bo@example.com', 'Bo');
    expect((await bo.call('POST', `/api/users/${bo.id}/password-reset`)).status).toBe(403);

    const { status, body: link } = await api.call<{ url: string; expiresAt: string }>(
      'POST',
      `/api/users/${bo.id}/password-reset`,
    );
    expect(status).toBe(201);
    expect(link.url).toMatch(/^https:\/\/stagecoach\.example\.com\/reset\/scr_[A-Za-z0-9_-]{43}$/);
    expect(Date.parse(link.expiresAt)).toBeGreaterThan(Date.now());
    const token = link.url.split('/').at(-1)!;
    const reset = (password: string, headers: Record<string, string> = {}) =>
      postJson(`${s.url}/api/password-reset/${token}`, { password }, headers);

    expect((await api.as('').call('GET', `/api/password-reset/${token}`)).body).toEqual({
      email: 'bo@example.com',
    });
    // A weak password is refused and the link still works; so is a foreign Origin.
    const weak = await reset('password1');
    expect(weak.status).toBe(400);
    expect(((await weak.json()) as { error: { id: string } }).error.id).toBe('weak_password');
    expect(
      (await reset('amber whistle galaxy forklift', { origin: 'https://evil.example' })).status,
    ).toBe(403);

    const done = await reset('amber whistle galaxy forklift');
    expect(done.status).toBe(200);
    const cookie = done.headers.get('set-cookie')!.split(';')[0]!;
    expect(
      (await api.as('').call('GET', '/api/session', undefined, { headers: { cookie } })).status,
    ).toBe(200);
    // Every other session ended; the old password is gone; the new one works.
    expect(
      (await api.as('').call('GET', '/api/session', undefined, { headers: { cookie: bo.cookie } }))
        .status,
    ).toBe(401);
    expect((await signIn(s.url, 'bo@example.com', PASSPHRASE)).status).toBe(401);
    expect((await signIn(s.url, 'bo@example.com', 'amber whistle galaxy forklift')).status).toBe(
      200,
    );
    // Single use.
    expect((await api.as('').call('GET', `/api/password-reset/${token}`)).status).toBe(410);
    const again = await reset('another quiet harbor lantern');
    expect(again.status).toBe(410);
    expect(((await again.json()) as { error: { id: string } }).error.id).toBe('reset_link_invalid');

    // A newer link voids the older one.
    const { body: first } = await api.call<{ url: string }>(
      'POST',
      `/api/users/${bo.id}/password-reset`,
    );
    const { body: second } = await api.call<{ url: string }>(
      'POST',
      `/api/users/${bo.id}/password-reset`,
    );
    expect(
      (await api.as('').call('GET', `/api/password-reset/${first.url.split('/').at(-1)}`)).status,
    ).toBe(410);
    expect(
      (await api.as('').call('GET', `/api/password-reset/${second.url.split('/').at(-1)}`)).status,
    ).toBe(200);
  });
});
