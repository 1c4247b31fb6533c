import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { ACTIONS, ROLES, can, type Action, type Role } from '#schema/permissions.ts';
import { CLOSE } from '#schema/errors.ts';
import { addItem } from '#schema/content/ydoc.ts';
import { connect, synced, wsUrl } from '../helpers/clients.ts';
import { upgradeStatus } from '../helpers/raw-socket.ts';
import { adminOf, newUser, type Client as ApiClient } from '../helpers/fixture.ts';
import { startTestServer } from '../helpers/server.ts';

/**
 * R4, walked in full: for every role held in one environment, every action on every
 * environment is allowed exactly where schema/permissions.ts says — through the real HTTP
 * API and the websocket. Probes change nothing: an allowed request stops at validation
 * (400) or a precondition (409); a refused one must be 403.
 */
type Server = Awaited<ReturnType<typeof startTestServer>>;
let server: Server;
let admin: ApiClient;
let adminToken: string;
let envs: { id: string; name: string; draftId?: string }[];
let projectId: string;
const tokens = new Map<string, string>();
/** A request whose target is the environment (by position), for probing the approve action. */
const requestInto = new Map<number, string>();

/**
 * A probe's status. Its body goes as written (malformed JSON on purpose), so it goes round the
 * fixture's JSON client.
 */
async function http(token: string, method: string, path: string, body?: string): Promise<number> {
  const res = await fetch(`${server.url}/api${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body,
  });
  await res.arrayBuffer();
  return res.status;
}

beforeAll(async () => {
  server = await startTestServer();
  admin = await adminOf(server.url);
  adminToken = admin.token;
  const { body: p } = await admin.call<{ id: string; environments: typeof envs }>(
    'POST',
    '/api/projects',
    { name: 'Matrix', sample: true },
  );
  projectId = p.id;
  envs = p.environments;
  // Something in every stage, so reads and rollbacks have a subject.
  for (const e of envs.slice(0, 4))
    expect(
      await http(
        adminToken,
        'POST',
        `/environments/${e.id}/sync`,
        '{"confirmMissingSecrets":true}',
      ),
    ).toBe(200);
  for (const [i, e] of envs.entries()) {
    if (i === 0) continue;
    const source = i === envs.length - 1 ? e : envs[i - 1]!;
    requestInto.set(
      i,
      (await admin.call<{ id: string }>('POST', `/api/environments/${source.id}/requests`, {})).body
        .id,
    );
  }
  for (const role of ROLES) {
    for (const [i, env] of envs.entries()) {
      const u = await newUser(admin, `${role}.${i}@example.com`, `${role} ${env.name}`);
      expect(
        await http(
          adminToken,
          'PUT',
          `/projects/${projectId}/members/${u.id}`,
          JSON.stringify({ roles: { [env.id]: [role] } }),
        ),
      ).toBe(200);
      tokens.set(`${role}@${i}`, u.token);
    }
  }
}, 60_000);
afterAll(() => server?.close());

interface Probe {
  action: Action;
  name: string;
  run: (token: string, envId: string, position: number) => Promise<number>;
  /** Only meaningful in some stages (content writes exist only where there is a draft). */
  only?: (position: number) => boolean;
}

const BAD = '{"bogus": true}';
const PROBES: Probe[] = [
  {
    action: 'content.read',
    name: 'GET content',
    run: (t, e) => http(t, 'GET', `/environments/${e}/content`),
  },
  {
    action: 'content.read',
    name: 'GET history',
    run: (t, e) => http(t, 'GET', `/environments/${e}/history`),
  },
  {
    action: 'content.edit',
    name: 'PUT content',
    run: (t, e) => http(t, 'PUT', `/environments/${e}/content`, '{not json'),
    only: (pos) => pos === 0,
  },
  {
    action: 'env.sync',
    name: 'POST sync',
    run: (t, e) => http(t, 'POST', `/environments/${e}/sync`, BAD),
  },
  {
    action: 'env.publish',
    name: 'POST publish',
    run: (t, e) => http(t, 'POST', `/environments/${e}/publish`, BAD),
  },
  {
    action: 'env.publish',
    name: 'POST hotfix',
    run: (t, e) => http(t, 'POST', `/environments/${e}/hotfix/publish`, BAD),
  },
  {
    action: 'env.rollback',
    name: 'POST rollback',
    run: (t, e) => http(t, 'POST', `/environments/${e}/rollback`, BAD),
  },
  {
    action: 'env.admin',
    name: 'PUT variable',
    run: (t, e) => http(t, 'PUT', `/environments/${e}/variables/company`, BAD),
  },
  {
    action: 'env.admin',
    name: 'GET secrets',
    run: (t, e) => http(t, 'GET', `/environments/${e}/secrets`),
  },
  {
    action: 'env.admin',
    name: 'PUT secret',
    run: (t, e) => http(t, 'PUT', `/environments/${e}/secrets/X_KEY`, BAD),
  },
  {
    action: 'env.admin',
    name: 'PUT settings',
    run: (t, e) => http(t, 'PUT', `/environments/${e}/settings`, BAD),
  },
  {
    action: 'env.admin',
    name: 'POST runtime key',
    run: (t, e) => http(t, 'POST', `/environments/${e}/runtime-keys`, BAD),
  },
  {
    action: 'content.read',
    name: 'GET audiences',
    run: (t, e) => http(t, 'GET', `/environments/${e}/audiences`),
  },
  {
    action: 'env.admin',
    name: 'POST audience',
    run: (t, e) => http(t, 'POST', `/environments/${e}/audiences`, BAD),
  },
  {
    action: 'env.admin',
    name: 'PUT audience',
    run: (t, e) => http(t, 'PUT', `/environments/${e}/audiences/aud_none`, BAD),
  },
  {
    action: 'env.approve',
    name: 'POST approve',
    run: (t, _e, pos) => http(t, 'POST', `/requests/${requestInto.get(pos)}/approve`, BAD),
    only: (pos) => pos > 0,
  },
];

describe('[R4] the permission matrix holds on every HTTP route', () => {
  for (const role of ROLES) {
    it(`[R4] ${role}: allowed exactly where the matrix says, in every environment`, async () => {
      const mismatches: string[] = [];
      for (const [holder] of envs.entries()) {
        const token = tokens.get(`${role}@${holder}`)!;
        for (const [pos, env] of envs.entries()) {
          const roles: Role[] = pos === holder ? [role] : [];
          for (const probe of PROBES) {
            if (probe.only && !probe.only(pos)) continue;
            const allowed = can(roles, probe.action, { hasDraft: pos === 0 });
            const status = await probe.run(token, env.id, pos);
            const ok = allowed ? ![401, 403, 404].includes(status) : status === 403;
            if (!ok)
              mismatches.push(
                `${role} held in ${envs[holder]!.name}, ${probe.name} in ${env.name}: ${status} (expected ${allowed ? 'allowed' : '403'})`,
              );
          }
        }
      }
      expect(mismatches).toEqual([]);
    });
  }

  it('[R4] every action of the matrix is probed', () => {
    // project.admin is project-wide: the next test walks it.
    expect(new Set(PROBES.map((p) => p.action))).toEqual(
      new Set(Object.keys(ACTIONS).filter((a) => a !== 'project.admin')),
    );
  });

  it('[R4] project-level: only project admins change members; only the instance admin creates projects and users; outsiders see nothing', async () => {
    for (const role of ROLES) {
      const t = tokens.get(`${role}@0`)!;
      expect(await http(t, 'PUT', `/projects/${projectId}/members/usr_x`, BAD)).toBe(
        role === 'project_admin' ? 400 : 403,
      );
      expect(await http(t, 'PUT', `/environments/${envs[0]!.id}/gate`, BAD)).toBe(
        role === 'project_admin' ? 400 : 403,
      );
      expect(await http(t, 'POST', '/projects', JSON.stringify({ name: 'Mine' }))).toBe(403);
      expect(
        await http(
          t,
          'POST',
          '/users',
          JSON.stringify({ email: 'z@example.com', name: 'Z', password: 'correct horse' }),
        ),
      ).toBe(403);
      expect(await http(t, 'GET', `/projects/${projectId}/board`)).toBe(200);
    }
    // A member of no project sees no project and gets 404s, not hints.
    const u = await newUser(admin, 'outsider@example.com', 'Out');
    expect(u.id).toBeDefined();
    const withCookie = { headers: { cookie: u.cookie } };
    const list = (
      await admin
        .as('')
        .call<{ projects: unknown[] }>('GET', '/api/projects', undefined, withCookie)
    ).body;
    expect(list.projects).toEqual([]);
    expect(
      (await admin.as('').call('GET', `/api/projects/${projectId}`, undefined, withCookie)).status,
    ).toBe(404);
    expect(
      (
        await admin
          .as('')
          .call('GET', `/api/environments/${envs[0]!.id}/content`, undefined, withCookie)
      ).status,
    ).toBe(404);
  });
});

describe('[R4] on the websocket: read-only is decided at the upgrade, writes are refused whole', () => {
  const statusOf = (token: string, draftId: string) =>
    upgradeStatus(`${wsUrl(server.url)}/${draftId}?token=${token}`);

  for (const role of ROLES) {
    it(`[R4] [R1] ${role}: connects to DEV exactly if it may read there, and writes exactly if it may edit`, async () => {
      const draftId = envs[0]!.draftId!;
      for (const [holder] of envs.entries()) {
        const token = tokens.get(`${role}@${holder}`)!;
        const roles: Role[] = holder === 0 ? [role] : [];
        const status = await statusOf(token, draftId);
        if (!can(roles, 'content.read', { hasDraft: true })) {
          expect(status, `${role}@${holder}`).toBe(403);
          continue;
        }
        expect(status).toBe(101);
        const c = connect(server.url, draftId, { token });
        await synced(c);
        const closed = new Promise<number>((resolve) =>
          c.provider.once('connection-close', (e) => resolve(e?.code ?? 0)),
        );
        const before = Y.encodeStateVector(c.doc);
        addItem(c.doc, 'knowledge', { title: `by ${role}`, body: 'x' });
        if (can(roles, 'content.edit', { hasDraft: true })) {
          await expect
            .poll(async () =>
              Object.values(
                (
                  await admin.call<{ knowledge: Record<string, { title: string }> }>(
                    'GET',
                    `/api/environments/${draftId ? envs[0]!.id : ''}/content`,
                  )
                ).body.knowledge,
              ).some((k) => k.title === `by ${role}`),
            )
            .toBe(true);
        } else {
          expect(await closed).toBe(CLOSE.read_only);
        }
        c.destroy();
        expect(before.length).toBeGreaterThan(0);
      }
    });
  }

  it('[R4] a role change closes the person’s open connections (4401), and they come back with the new rights', async () => {
    const draftId = envs[0]!.draftId!;
    const token = tokens.get('editor@0')!;
    const c = connect(server.url, draftId, { token });
    await synced(c);
    const closed = new Promise<number>((resolve) =>
      c.provider.once('connection-close', (e) => resolve(e?.code ?? 0)),
    );
    const { body: users } = await admin.call<{
      members: { user: { id: string; email: string } }[];
    }>('GET', `/api/projects/${projectId}/members`);
    const editor = users.members.find((m) => m.user.email === 'editor.0@example.com')!;
    expect(
      await http(
        adminToken,
        'PUT',
        `/projects/${projectId}/members/${editor.user.id}`,
        JSON.stringify({ roles: { [envs[0]!.id]: ['viewer'] } }),
      ),
    ).toBe(200);
    expect(await closed).toBe(CLOSE.rights_changed);
    c.destroy();
    // Now read-only: a write is refused whole.
    const again = connect(server.url, draftId, { token });
    await synced(again);
    const refused = new Promise<number>((resolve) =>
      again.provider.once('connection-close', (e) => resolve(e?.code ?? 0)),
    );
    addItem(again.doc, 'knowledge', { title: 'after demotion', body: 'x' });
    expect(await refused).toBe(CLOSE.read_only);
    again.destroy();
    expect(
      await http(adminToken, 'DELETE', `/projects/${projectId}/members/${editor.user.id}`),
    ).toBe(204);
    expect(await statusOf(token, draftId)).toBe(404);
  });
});
