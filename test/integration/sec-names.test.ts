import { describe, expect, it } from 'vitest';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { setupAdmin, testServer } from '../helpers/server.ts';
import { overTheWire } from '../helpers/fixture.ts';
import { PASSPHRASE, postJson } from '../helpers/users.ts';

/** SEC-14 through the server: names that look alike are refused (stages, people, projects). */
const cleanup = cleanupAfterEach();

type Refusal = {
  error: { id: string; message: string; details: { path: string; message: string }[] };
};
const stage = (name: string, kind = 'custom') => ({ name, kind, color: '#123456' });

describe('SEC-14 names that look alike are refused', () => {
  it(
    'SEC-14 a stage named PRODUCTION plus a zero-width space is refused beside PRODUCTION, at creation and on rename; names are stored NFC',
    { timeout: 30_000 },
    async () => {
      const server = await testServer(cleanup);
      const admin = await setupAdmin(server.url);
      const api = overTheWire(server.url, admin.token);

      const { status, body } = await api.call<Refusal>('POST', '/api/projects', {
        name: 'Bots',
        preset: 'custom',
        stages: [stage('DEV', 'dev'), stage('PRODUCTION\u200b'), stage('PRODUCTION', 'production')],
      });
      expect(status).toBe(400);
      expect(body.error.id).toBe('invalid_body');
      expect(body.error.details).toContainEqual({
        path: 'stages.1.name',
        message: expect.stringContaining('invisible character (U+200B, character 11)') as string,
      });
      const twin = await api.call<Refusal>('POST', '/api/projects', {
        name: 'Bots',
        preset: 'custom',
        stages: [
          stage('DEV', 'dev'),
          stage('ＰＲＯＤＵＣＴＩＯＮ'),
          stage('production', 'production'),
        ],
      });
      expect(twin.status).toBe(400);
      expect(twin.body.error.details).toContainEqual({
        path: 'stages.2.name',
        message: expect.stringContaining('looks like') as string,
      });

      // The preset's stages, renamed.
      const { body: project } = await api.call<{
        id: string;
        name: string;
        environments: { id: string; name: string }[];
      }>('POST', '/api/projects', { name: 'Cafe\u0301 bots' });
      expect(project.name).toBe('Café bots');
      const [dev, , uat] = project.environments;
      for (const name of [
        'PRODUCTION\u200b',
        'PRODUCTION\u202e',
        'production',
        'Production\u00a0',
        'ＰＲＯＤＵＣＴＩＯＮ',
      ]) {
        const { status: s, body: b } = await api.call<Refusal>(
          'PATCH',
          `/api/environments/${uat!.id}`,
          { name },
        );
        expect([s, b.error.id], name).toEqual([400, 'invalid_body']);
        expect(b.error.details[0]!.path, name).toBe('name');
      }
      const { body: renamed } = await api.call<{ environments: { name: string }[] }>(
        'PATCH',
        `/api/environments/${uat!.id}`,
        { name: 'Acceptance\u3000 te\u0301st' },
      );
      expect(renamed.environments[2]!.name).toBe('Acceptance tést');
      // Its own name in another case is fine (it is the same stage).
      expect(
        (await api.call('PATCH', `/api/environments/${dev!.id}`, { name: 'dev' })).status,
      ).toBe(200);
      // A flow rule names stages the way they are compared.
      expect(
        (
          await api.call('PUT', `/api/projects/${project.id}/flow-rules`, {
            flowRules: { knowledge: { direction: 'down', source: 'ＰＲＯＤＵＣＴＩＯＮ' } },
          })
        ).status,
      ).toBe(200);
    },
  );

  it(
    'SEC-14 user names (set-up, user creation, invitations) and project names refuse hidden characters and are stored NFC',
    { timeout: 30_000 },
    async () => {
      const server = await testServer(cleanup);
      const setup = await postJson(`${server.url}/api/setup`, {
        email: 'ada@example.com',
        password: PASSPHRASE,
        name: 'Ada\u200b',
      });
      expect(setup.status).toBe(400);
      const admin = await setupAdmin(server.url);
      const api = overTheWire(server.url, admin.token);
      const password = PASSPHRASE;
      const { status: s1, body: b1 } = await api.call<Refusal>('POST', '/api/users', {
        email: 'eve@example.com',
        name: 'Ada\u202e',
        password,
      });
      expect([s1, b1.error.details[0]!.path]).toEqual([400, 'name']);
      expect(b1.error.details[0]!.message).toContain('changes the writing direction (U+202E');
      expect(
        (
          await api.call<Refusal>('POST', '/api/invitations', {
            email: 'eve@example.com',
            name: '\u2066Ada',
          })
        ).status,
      ).toBe(400);
      expect(
        (await api.call<Refusal>('POST', '/api/projects', { name: 'Bots\u200d' })).status,
      ).toBe(400);
      const { status: s2, body: user } = await api.call<{ name: string }>('POST', '/api/users', {
        email: 'rene@example.com',
        name: 'Rene\u0301',
        password,
      });
      expect([s2, user.name]).toEqual([201, 'René']);
    },
  );
});
