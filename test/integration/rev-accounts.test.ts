import { describe, expect, it } from 'vitest';
import type { LockedMembersView } from '#schema/api.ts';
import { newUser, overTheWire, serverWithProject } from '../helpers/fixture.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { PASSPHRASE, signIn } from '../helpers/users.ts';

/**
 * REV-52: an instance admin sees which of a project's members are locked out of signing in (too
 * many failed attempts), unlocks one, and the person signs in; nobody else may ask.
 */
const cleanup = cleanupAfterEach();

describe('REV-52 locked accounts', () => {
  it('[REV-52] an instance admin sees a locked member, unlocks them and they sign in; only members are listed, only to instance admins', async () => {
    const { server, admin: a, project } = await serverWithProject(cleanup);
    const admin = overTheWire(server.url, a.token);
    const lou = await newUser(admin, 'lou@example.com', 'Lou');
    const pia = await newUser(admin, 'pia@example.com', 'Pia');
    await newUser(admin, 'out@example.com', 'Out');
    await admin.ok('PUT', `/api/projects/${project.id}/members/${lou.id}`, {
      roles: { '*': ['viewer'] },
    });
    await admin.ok('PUT', `/api/projects/${project.id}/members/${pia.id}`, {
      roles: { '*': ['project_admin'] },
    });
    const locked = async () =>
      (await admin.ok<LockedMembersView>('GET', `/api/projects/${project.id}/locked-members`))
        .userIds;
    expect(await locked()).toEqual([]);

    // Five wrong guesses lock Lou (and the outsider) from this address, even with the right password.
    for (const email of ['lou@example.com', 'out@example.com'])
      for (let i = 0; i < 5; i++)
        expect((await signIn(server.url, email, `wrong guess ${i}`)).status).toBe(401);
    expect((await signIn(server.url, 'lou@example.com', PASSPHRASE)).status).toBe(429);
    // Only this project's members are listed: the outsider's lock is not this project's business.
    expect(await locked()).toEqual([lou.id]);

    // A project admin who is not an instance admin may not ask (nor unlock).
    expect((await pia.call('GET', `/api/projects/${project.id}/locked-members`)).status).toBe(403);
    expect((await pia.call('POST', `/api/users/${lou.id}/unlock`)).status).toBe(403);
    expect(await locked()).toEqual([lou.id]);

    expect((await admin.call('POST', `/api/users/${lou.id}/unlock`)).status).toBe(204);
    expect(await locked()).toEqual([]);
    expect((await signIn(server.url, 'lou@example.com', PASSPHRASE)).status).toBe(200);
    expect((await admin.call('GET', '/api/projects/prj_nothing/locked-members')).status).toBe(404);
    // The outsider is still locked: an unlock is for one account.
    expect((await signIn(server.url, 'out@example.com', PASSPHRASE)).status).toBe(429);
  });
});
