import { describe, expect, it } from 'vitest';
import type { InvitationCreated, InvitationLink, PendingInvitationsView } from '#schema/api.ts';
import { newProject, newUser, overTheWire, serverWithProject } from '../helpers/fixture.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { PASSPHRASE, postJson } from '../helpers/users.ts';

/**
 * REV-1: a project admin sees the project's pending invitations (never a token), revokes one (its
 * link then refuses), or replaces its link (the old one then refuses); nobody else may.
 */
const cleanup = cleanupAfterEach();

async function world() {
  const { server, admin: a, project } = await serverWithProject(cleanup);
  const admin = overTheWire(server.url, a.token);
  const invite = (email: string) =>
    admin.ok<InvitationCreated>('POST', '/api/invitations', {
      email,
      name: `Person ${email}`,
      projectId: project.id,
      template: 'qa',
    });
  const check = (token: string) => admin.as('').call('GET', `/api/invitations/${token}`);
  const list = async () =>
    (await admin.ok<PendingInvitationsView>('GET', `/api/projects/${project.id}/invitations`))
      .invitations;
  return { server, admin, project, invite, check, list };
}

describe('REV-1 pending invitations', () => {
  it('[REV-1] lists pending invitations only, oldest first, with who invited and no token', async () => {
    const w = await world();
    const first = await w.invite('one@example.com');
    await w.invite('two@example.com');
    const used = await w.invite('three@example.com');
    const accepted = await postJson(
      `${w.server.url}/api/invitations/${used.token}/accept`,
      { password: PASSPHRASE },
      { origin: w.server.url },
    );
    expect(accepted.status).toBe(201);
    const revoked = await w.invite('four@example.com');
    expect((await w.admin.call('DELETE', `/api/invitations/${revoked.id}`)).status).toBe(204);

    const { status, body } = await w.admin.call<PendingInvitationsView>(
      'GET',
      `/api/projects/${w.project.id}/invitations`,
    );
    expect(status).toBe(200);
    expect(body.invitations.map((i) => i.email)).toEqual(['one@example.com', 'two@example.com']);
    const one = body.invitations[0]!;
    expect(one).toMatchObject({
      id: first.id,
      name: 'Person one@example.com',
      createdBy: 'Ada',
      expiresAt: first.expiresAt,
    });
    expect(Object.keys(one).sort()).toEqual(
      ['createdAt', 'createdBy', 'email', 'expiresAt', 'id', 'name', 'roles'].sort(),
    );
    expect(Object.values(one.roles).flat().length).toBeGreaterThan(0);
    const text = JSON.stringify(body);
    expect(text).not.toContain(first.token);
    expect(text).not.toContain('tokenHash');
  });

  it('[REV-1] revoking makes the link refuse and changes nothing else', async () => {
    const w = await world();
    const gone = await w.invite('gone@example.com');
    const kept = await w.invite('kept@example.com');
    const membersBefore = await w.admin.ok('GET', `/api/projects/${w.project.id}/members`);

    expect((await w.admin.call('DELETE', `/api/invitations/${gone.id}`)).status).toBe(204);
    const refused = await w.check(gone.token);
    expect(refused.status).toBe(410);
    expect((refused.body as { error: { id: string } }).error.id).toBe('invitation_invalid');
    const accept = await postJson(
      `${w.server.url}/api/invitations/${gone.token}/accept`,
      { password: PASSPHRASE },
      { origin: w.server.url },
    );
    expect(accept.status).toBe(410);
    // Revoking twice: no longer pending, like an unknown one.
    expect((await w.admin.call('DELETE', `/api/invitations/${gone.id}`)).status).toBe(404);
    expect((await w.admin.call('POST', `/api/invitations/${gone.id}/link`)).status).toBe(404);

    expect((await w.check(kept.token)).status).toBe(200);
    expect((await w.list()).map((i) => i.id)).toEqual([kept.id]);
    expect(await w.admin.ok('GET', `/api/projects/${w.project.id}/members`)).toEqual(membersBefore);
  });

  it('[REV-1] a revocation during an accept: exactly one of them wins', async () => {
    const w = await world();
    const inv = await w.invite('racer@example.com');
    // The accept hashes the password (slow) between its checks: the revocation lands in between.
    const [accepted, revoked] = await Promise.all([
      postJson(
        `${w.server.url}/api/invitations/${inv.token}/accept`,
        { password: PASSPHRASE },
        { origin: w.server.url },
      ),
      w.admin.call('DELETE', `/api/invitations/${inv.id}`),
    ]);
    expect([
      [201, 404],
      [410, 204],
    ]).toContainEqual([accepted.status, revoked.status]);
    const users = await w.admin.ok<{ users: { email: string }[] }>('GET', '/api/users');
    expect(users.users.some((u) => u.email === 'racer@example.com')).toBe(accepted.status === 201);
  });

  it('[REV-1] a new link works once and the old link refuses; the expiry stays', async () => {
    const w = await world();
    const inv = await w.invite('again@example.com');
    const link = await w.admin.ok<InvitationLink>('POST', `/api/invitations/${inv.id}/link`);
    expect(link.expiresAt).toBe(inv.expiresAt);
    expect(link.url).toBe(`${w.server.url}${link.path}`);
    const token = link.path.replace('/invite/', '');
    expect(token).not.toBe(inv.token);
    expect((await w.check(inv.token)).status).toBe(410);
    expect((await w.check(token)).status).toBe(200);
    expect((await w.list()).map((i) => i.id)).toEqual([inv.id]);
    const accepted = await postJson(
      `${w.server.url}/api/invitations/${token}/accept`,
      { password: PASSPHRASE },
      { origin: w.server.url },
    );
    expect(accepted.status).toBe(201);
    expect(await w.list()).toEqual([]);
  });

  it('[REV-1] new links count with new invitations toward the day’s bound: past it 429, and the last link keeps working', async () => {
    const w = await world();
    const inv = await w.invite('many@example.com');
    let token = inv.token;
    let issued = 0;
    for (;;) {
      const r = await w.admin.call<InvitationLink & { error: { id: string } }>(
        'POST',
        `/api/invitations/${inv.id}/link`,
      );
      if (r.status !== 200) {
        expect([r.status, r.body.error.id]).toEqual([429, 'rate_limited']);
        break;
      }
      token = r.body.path.replace('/invite/', '');
      issued++;
      expect(issued).toBeLessThan(200);
    }
    // One invitation went out, then 199 new links: 200 links a day (INVITATIONS_PER_PROJECT_PER_DAY).
    expect(issued).toBe(199);
    expect((await w.check(token)).status).toBe(200);
    expect(
      (
        await w.admin.call('POST', '/api/invitations', {
          email: 'one-more@example.com',
          name: 'One more',
          projectId: w.project.id,
          template: 'qa',
        })
      ).status,
    ).toBe(429);
  });

  it('[REV-1] a member who is not an admin gets 403; another project’s admin and outsiders get 404', async () => {
    const w = await world();
    const inv = await w.invite('target@example.com');
    const member = await newUser(w.admin, 'member@example.com', 'Member');
    await w.admin.ok('PUT', `/api/projects/${w.project.id}/members/${member.id}`, {
      roles: { '*': ['editor'] },
    });
    const other = await newUser(w.admin, 'other@example.com', 'Other');
    const hers = await newProject(w.admin, { name: 'Her project' });
    await w.admin.ok('PUT', `/api/projects/${hers.id}/members/${other.id}`, {
      roles: { '*': ['project_admin'] },
    });
    const unknown = 'inv_doesnotexist';

    expect((await member.call('GET', `/api/projects/${w.project.id}/invitations`)).status).toBe(
      403,
    );
    expect((await member.call('DELETE', `/api/invitations/${inv.id}`)).status).toBe(403);
    expect((await member.call('POST', `/api/invitations/${inv.id}/link`)).status).toBe(403);

    expect((await other.call('GET', `/api/projects/${w.project.id}/invitations`)).status).toBe(404);
    const del = await other.call('DELETE', `/api/invitations/${inv.id}`);
    const delUnknown = await other.call('DELETE', `/api/invitations/${unknown}`);
    expect(del.status).toBe(404);
    expect(del.body).toEqual(delUnknown.body);
    expect((await other.call('POST', `/api/invitations/${inv.id}/link`)).status).toBe(404);
    // Her own project's list does not show ours.
    expect(
      (await other.ok<PendingInvitationsView>('GET', `/api/projects/${hers.id}/invitations`))
        .invitations,
    ).toEqual([]);

    // Nothing changed: the link still works and the invitation is still listed.
    expect((await w.check(inv.token)).status).toBe(200);
    expect((await w.list()).map((i) => i.id)).toEqual([inv.id]);
  });
});
