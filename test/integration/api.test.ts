import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { canonicalContent } from '#schema/content/canonical.ts';
import { toWorkspaceFile } from '#schema/content/file.ts';
import { sampleContent } from '#schema/content/sample.ts';
import type { WorkspaceContent } from '#schema/content/ydoc.ts';
import { PRESETS } from '#schema/presets.ts';
import { testServices } from '../helpers/fixture.ts';
import { ADMIN, tempDataDir } from '../helpers/server.ts';

let services: Awaited<ReturnType<typeof testServices>>;
const ORIGIN = 'http://stagecoach.test';

beforeEach(async () => {
  services = await testServices(tempDataDir(), { MAX_BODY_BYTES: '65536' });
});
afterEach(async () => {
  services.rooms.closeAll();
  await services.database.close();
});

function call(
  path: string,
  init: { method?: string; body?: unknown; headers?: Record<string, string> } = {},
) {
  const headers: Record<string, string> = { host: 'stagecoach.test', ...init.headers };
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  return services.app.request(path, {
    method: init.method ?? 'GET',
    headers,
    body:
      init.body === undefined
        ? undefined
        : typeof init.body === 'string'
          ? init.body
          : JSON.stringify(init.body),
  });
}

async function setupAndCookie(): Promise<string> {
  const res = await call('/api/setup', { method: 'POST', body: ADMIN });
  expect(res.status).toBe(201);
  return res.headers.get('set-cookie')!.split(';')[0]!;
}

async function bearer(): Promise<Record<string, string>> {
  const cookie = await setupAndCookie();
  const res = await call('/api/tokens', {
    method: 'POST',
    body: { name: 'ci' },
    headers: { cookie, origin: ORIGIN },
  });
  expect(res.status).toBe(201);
  const { token } = (await res.json()) as { token: string };
  return { authorization: `Bearer ${token}` };
}

describe('health and first-run set-up', () => {
  it('answers health without auth', async () => {
    const res = await call('/api/health');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
  });

  it('creates the first admin once (201), then 409', async () => {
    expect(await (await call('/api/setup')).json()).toEqual({ needed: true });
    const res = await call('/api/setup', { method: 'POST', body: ADMIN });
    expect(res.status).toBe(201);
    const body = (await res.json()) as { user: { email: string; name: string } };
    expect(body.user).toMatchObject({ email: ADMIN.email, name: ADMIN.name });
    expect(JSON.stringify(body)).not.toContain(ADMIN.password);
    expect(await (await call('/api/setup')).json()).toEqual({ needed: false });
    const again = await call('/api/setup', {
      method: 'POST',
      body: { ...ADMIN, email: 'other@example.com' },
    });
    expect(again.status).toBe(409);
    expect(((await again.json()) as { error: { id: string } }).error.id).toBe('setup_done');
  });

  it('[R7] rejects a bad set-up body with a named error and creates nothing', async () => {
    for (const body of [
      {},
      { ...ADMIN, email: 'nope' },
      { ...ADMIN, password: 'short' },
      { ...ADMIN, extra: 1 },
    ]) {
      const res = await call('/api/setup', { method: 'POST', body });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { id: string } }).error.id).toBe('invalid_body');
    }
    const broken = await call('/api/setup', { method: 'POST', body: '{"email":' });
    expect(broken.status).toBe(400);
    expect(((await broken.json()) as { error: { id: string } }).error.id).toBe('invalid_json');
    const big = await call('/api/setup', {
      method: 'POST',
      body: { ...ADMIN, name: 'x'.repeat(70_000) },
    });
    expect(big.status).toBe(413);
    expect(await (await call('/api/setup')).json()).toEqual({ needed: true });
  });
});

describe('sessions and tokens', () => {
  it('signs in with an HttpOnly cookie, and signs out', async () => {
    await setupAndCookie();
    const wrong = await call('/api/session', {
      method: 'POST',
      body: { email: ADMIN.email, password: 'wrong password' },
    });
    expect(wrong.status).toBe(401);
    expect(((await wrong.json()) as { error: { id: string } }).error.id).toBe(
      'invalid_credentials',
    );

    const res = await call('/api/session', {
      method: 'POST',
      body: { email: ADMIN.email.toUpperCase(), password: ADMIN.password },
    });
    expect(res.status).toBe(200);
    const setCookie = res.headers.get('set-cookie')!;
    expect(setCookie).toMatch(/^stagecoach_session=scs_/);
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Lax/);
    const cookie = setCookie.split(';')[0]!;
    expect((await call('/api/session', { headers: { cookie } })).status).toBe(200);

    expect(
      (await call('/api/session', { method: 'DELETE', headers: { cookie, origin: ORIGIN } }))
        .status,
    ).toBe(204);
    expect((await call('/api/session', { headers: { cookie } })).status).toBe(401);
  });

  it('issues API tokens shown once, stored hashed, usable as Bearer', async () => {
    const auth = await bearer();
    const me = await call('/api/session', { headers: auth });
    expect(me.status).toBe(200);
    expect(((await me.json()) as { via: string }).via).toBe('token');
    const list = (await (await call('/api/tokens', { headers: auth })).json()) as {
      tokens: object[];
    };
    expect(list.tokens).toHaveLength(1);
    expect(JSON.stringify(list)).not.toContain(auth.authorization!.slice(7));
    const stored = await services.stored.all<{ token_hash: string }>(
      'SELECT token_hash FROM api_tokens',
    );
    expect(stored[0]!.token_hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('[R7] refuses every route but health and set-up without a session or token', async () => {
    await setupAndCookie();
    const routes: [string, string][] = [
      ['GET', '/api/session'],
      ['GET', '/api/tokens'],
      ['POST', '/api/tokens'],
      ['GET', '/api/projects'],
      ['POST', '/api/projects'],
      ['GET', '/api/projects/prj_x'],
      ['GET', '/api/environments/env_x/content'],
    ];
    for (const [method, path] of routes) {
      const attempts: Record<string, string>[] = [
        {},
        { authorization: 'Bearer sct_forged' },
        { authorization: 'Basic abc' },
        { cookie: 'stagecoach_session=scs_forged' },
      ];
      for (const headers of attempts) {
        const res = await call(path, {
          method,
          headers,
          body: method === 'POST' ? { name: 'x' } : undefined,
        });
        expect(res.status, `${method} ${path} ${JSON.stringify(headers)}`).toBe(401);
      }
    }
  });

  it('refuses cookie-authenticated writes from another origin', async () => {
    const cookie = await setupAndCookie();
    for (const origin of [undefined, 'https://evil.example']) {
      const headers: Record<string, string> = origin ? { cookie, origin } : { cookie };
      const res = await call('/api/projects', { method: 'POST', body: { name: 'X' }, headers });
      expect(res.status).toBe(403);
      expect(((await res.json()) as { error: { id: string } }).error.id).toBe('bad_origin');
    }
    expect(
      (
        await call('/api/projects', {
          method: 'POST',
          body: { name: 'X' },
          headers: { cookie, origin: ORIGIN },
        })
      ).status,
    ).toBe(201);
  });
});

describe('projects from presets', () => {
  it('creates a five-stage project by default, with stable environment ids and a draft only in DEV', async () => {
    const auth = await bearer();
    const res = await call('/api/projects', {
      method: 'POST',
      body: { name: 'Support' },
      headers: auth,
    });
    expect(res.status).toBe(201);
    const project = (await res.json()) as {
      id: string;
      name: string;
      environments: {
        id: string;
        name: string;
        kind: string;
        position: number;
        color: string;
        draftId?: string;
      }[];
    };
    expect(project.name).toBe('Support');
    expect(project.environments.map((e) => e.name)).toEqual([
      'DEV',
      'TEST',
      'UAT',
      'STAGING',
      'PRODUCTION',
    ]);
    expect(project.environments.map((e) => e.kind)).toEqual([
      'dev',
      'test',
      'uat',
      'staging',
      'production',
    ]);
    expect(project.environments.map((e) => e.position)).toEqual([0, 1, 2, 3, 4]);
    expect(project.environments.map((e) => e.color)).toEqual(
      PRESETS['five-stage'].stages.map((s) => s.color),
    );
    expect(project.environments[0]!.draftId).toMatch(/^dft_/);
    expect(project.environments.slice(1).every((e) => !('draftId' in e))).toBe(true);
    expect(new Set(project.environments.map((e) => e.id)).size).toBe(5);

    const got = await call(`/api/projects/${project.id}`, { headers: auth });
    expect(await got.json()).toEqual(project);
    const list = (await (await call('/api/projects', { headers: auth })).json()) as {
      projects: unknown[];
    };
    expect(list.projects).toEqual([project]);
  });

  it('creates a three-stage project (Staging → UAT → Production)', async () => {
    const auth = await bearer();
    const res = await call('/api/projects', {
      method: 'POST',
      body: { name: 'HR', preset: 'three-stage' },
      headers: auth,
    });
    const project = (await res.json()) as { environments: { name: string; draftId?: string }[] };
    expect(project.environments.map((e) => e.name)).toEqual(['Staging', 'UAT', 'Production']);
    expect(project.environments[0]!.draftId).toBeDefined();
  });

  it('[R7] rejects an unknown preset or a blank name, and answers 404 for unknown ids', async () => {
    const auth = await bearer();
    for (const body of [
      { name: 'X', preset: 'seven-stage' },
      { name: '   ' },
      { preset: 'five-stage' },
    ]) {
      expect((await call('/api/projects', { method: 'POST', body, headers: auth })).status).toBe(
        400,
      );
    }
    expect((await (await call('/api/projects', { headers: auth })).json()) as object).toEqual({
      projects: [],
    });
    const missing = await call('/api/projects/prj_nope', { headers: auth });
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { id: string } }).error.id).toBe(
      'project_not_found',
    );
    expect((await call('/api/environments/env_nope/content', { headers: auth })).status).toBe(404);
  });

  it('serves each environment content: the live draft in DEV, empty sections elsewhere until a snapshot arrives', async () => {
    const auth = await bearer();
    const project = (await (
      await call('/api/projects', { method: 'POST', body: { name: 'S' }, headers: auth })
    ).json()) as {
      environments: { id: string }[];
    };
    const empty = {
      agents: {},
      workflows: {},
      knowledge: {},
      integrations: {},
      channels: {},
      variables: {},
    };
    for (const env of project.environments) {
      const res = await call(`/api/environments/${env.id}/content`, { headers: auth });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual(empty);
    }
  });
});

describe('sample projects, problems and import', () => {
  async function project(auth: Record<string, string>, body: object) {
    const res = await call('/api/projects', {
      method: 'POST',
      body: { name: 'S', ...body },
      headers: auth,
    });
    expect(res.status).toBe(201);
    return (await res.json()) as { environments: { id: string; draftId?: string }[] };
  }

  it('creates a project with the sample workspace, which has no problems', async () => {
    const auth = await bearer();
    const p = await project(auth, { sample: true });
    const dev = p.environments[0]!.id;
    const content = (await (
      await call(`/api/environments/${dev}/content`, { headers: auth })
    ).json()) as WorkspaceContent;
    expect(canonicalContent(content)).toEqual(canonicalContent(sampleContent()));
    const problems = await call(`/api/environments/${dev}/problems`, { headers: auth });
    expect(problems.status).toBe(200);
    expect(await problems.json()).toEqual([]);
  });

  it('imports a workspace file into the draft and reports its problems as {section, itemId, field, message}', async () => {
    const auth = await bearer();
    const dev = (await project(auth, {})).environments[0]!.id;
    const file = toWorkspaceFile(sampleContent(), { project: 'S' });
    file.content.agents.agt_support!.instructions = 'Hi {{nobody}}';
    const res = await call(`/api/environments/${dev}/content`, {
      method: 'PUT',
      body: file,
      headers: auth,
    });
    expect(res.status).toBe(200);
    const { problems } = (await res.json()) as { problems: unknown[] };
    expect(problems).toEqual([
      {
        section: 'agents',
        itemId: 'agt_support',
        field: 'instructions',
        code: 'reference',
        message: expect.stringContaining('{{nobody}}') as string,
      },
    ]);
    expect(
      await (await call(`/api/environments/${dev}/problems`, { headers: auth })).json(),
    ).toEqual(problems);
    const content = (await (
      await call(`/api/environments/${dev}/content`, { headers: auth })
    ).json()) as WorkspaceContent;
    expect(Object.keys(content.knowledge).sort()).toEqual([
      'kb_returns',
      'kb_shipping',
      'kb_sizes',
    ]);
  });

  it('[R7] refuses an invalid workspace with a clear error and changes nothing', async () => {
    const auth = await bearer();
    const dev = (await project(auth, { sample: true })).environments[0]!.id;
    const before = await (await call(`/api/environments/${dev}/content`, { headers: auth })).json();
    const bad: unknown[] = [
      [],
      { format: 'something-else', version: 1, content: {} },
      { format: 'stagecoach.workspace', version: 99, content: {} },
      { robots: {} },
      { agents: { a1: { name: 'X', superpowers: true } } },
      { agents: { a1: { name: 42 } } },
      { agents: { 'bad id!': { name: 'X' } } },
      {
        workflows: {
          w: { name: 'W', steps: [{ id: 's', type: 'message', text: 'x', color: 'red' }] },
        },
      },
    ];
    for (const body of bad) {
      const res = await call(`/api/environments/${dev}/content`, {
        method: 'PUT',
        body,
        headers: auth,
      });
      expect(res.status, JSON.stringify(body)).toBe(422);
      const err = (
        (await res.json()) as { error: { id: string; message: string; details: string[] } }
      ).error;
      expect(err.id).toBe('invalid_workspace');
      expect(err.details.length).toBeGreaterThan(0);
    }
    expect(
      await (await call(`/api/environments/${dev}/content`, { headers: auth })).json(),
    ).toEqual(before);
  });

  it('[R1] refuses to write content into an environment after the first', async () => {
    const auth = await bearer();
    const test = (await project(auth, {})).environments[1]!.id;
    const res = await call(`/api/environments/${test}/content`, {
      method: 'PUT',
      body: sampleContent(),
      headers: auth,
    });
    expect(res.status).toBe(409);
    expect(((await res.json()) as { error: { id: string } }).error.id).toBe(
      'read_only_environment',
    );
    expect(
      await (await call(`/api/environments/${test}/problems`, { headers: auth })).json(),
    ).toEqual([]);
  });
});
