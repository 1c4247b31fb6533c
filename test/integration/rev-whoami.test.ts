import { describe, expect, it } from 'vitest';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { adminOf, newUser, overTheWire } from '../helpers/fixture.ts';
import { testServer } from '../helpers/server.ts';

/**
 * REV-3: the web app asks GET /api/whoami, which answers 200 signed in or out, so a signed-out
 * visit logs no failed request; GET /api/session keeps its documented 401.
 */
const cleanup = cleanupAfterEach();

describe('[REV-3] GET /api/whoami answers 200 signed in or out', () => {
  it('[REV-3] signed out (no credential, an ended session, an unknown token): 200 {user: null}; /api/session stays 401', async () => {
    const server = await testServer(cleanup);
    const admin = await adminOf(server.url);
    const anonymous = overTheWire(server.url, '');
    const nobody = { user: null, isInstanceAdmin: false, via: null };
    expect(await anonymous.call('GET', '/api/whoami')).toEqual({ status: 200, body: nobody });
    expect(
      await anonymous.call('GET', '/api/whoami', undefined, {
        headers: { cookie: 'stagecoach_session=not-a-session' },
      }),
    ).toEqual({ status: 200, body: nobody });
    expect(await admin.as('not-a-token').call('GET', '/api/whoami')).toEqual({
      status: 200,
      body: nobody,
    });
    expect((await anonymous.call('GET', '/api/session')).status).toBe(401);
  });

  it('[REV-3] signed in by cookie or token: the same answer as GET /api/session', async () => {
    const server = await testServer(cleanup);
    const admin = await adminOf(server.url);
    const bob = await newUser(admin, 'bob@example.com', 'Bob');
    const byToken = await bob.call('GET', '/api/whoami');
    expect(byToken).toEqual(await bob.call('GET', '/api/session'));
    expect(byToken.body).toMatchObject({
      user: { name: 'Bob' },
      isInstanceAdmin: false,
      via: 'token',
    });
    const byCookie = await bob
      .as('')
      .call('GET', '/api/whoami', undefined, { headers: { cookie: bob.cookie } });
    expect(byCookie.body).toMatchObject({ user: { id: bob.id }, via: 'session' });
    expect((await admin.call('GET', '/api/whoami')).body).toMatchObject({ isInstanceAdmin: true });
  });
});
