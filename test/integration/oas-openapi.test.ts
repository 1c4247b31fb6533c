import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import {
  inProcessInstance,
  overTheWire,
  serverWithProject,
  type Reply,
} from '../helpers/fixture.ts';
import { schemaErrors } from '../helpers/json-schema.ts';
import { DOCUMENT_PATH } from '../../scripts/openapi-document.ts';

/**
 * OAS-3: real answers of the server are what schema/openapi.json says: their status is one the
 * operation lists, a 2xx body matches the answer schema, an error body matches `Error` and its id
 * is one of the operation's `x-error-ids`.
 */
const cleanup = cleanupAfterEach();
interface Operation {
  operationId: string;
  security?: Record<string, unknown>[];
  responses: Record<string, { content?: Record<string, { schema: Record<string, unknown> }> }>;
  'x-error-ids'?: string[];
}
const document = JSON.parse(readFileSync(DOCUMENT_PATH, 'utf8')) as {
  paths: Record<string, Record<string, Operation>>;
};

/** What is wrong with one answer by the document's operation `method path` (path as in the document). */
function undocumented(method: string, path: string, reply: Reply<unknown>): string[] {
  const where = `${method} ${path} → ${reply.status}`;
  const op = document.paths[path]?.[method.toLowerCase()];
  if (!op) return [`${where}: no such operation`];
  const answer = op.responses[String(reply.status)];
  if (!answer) return [`${where}: status not listed (${JSON.stringify(reply.body).slice(0, 120)})`];
  const problems: string[] = [];
  if (reply.status >= 400) {
    const id = (reply.body as { error: { id: string } }).error.id;
    if (!op['x-error-ids']?.includes(id)) problems.push(`${where}: error id ${id} not listed`);
  }
  const schema = answer.content?.['application/json']?.schema;
  if (schema)
    problems.push(...schemaErrors(reply.body, schema, document).map((e) => `${where}: ${e}`));
  else if (reply.body !== null) problems.push(`${where}: a body where none is documented`);
  return problems;
}

/** Checks one answer against the document. */
function expectDocumented(method: string, path: string, reply: Reply<unknown>): void {
  expect(undocumented(method, path, reply)).toEqual([]);
}

describe('[OAS-3] real answers match the document', () => {
  it('[OAS-3] Sync: a bad body, an unknown environment and a real Sync answer as documented', async () => {
    const { server, admin, project, dev } = await serverWithProject(cleanup);
    const api = overTheWire(server.url, admin.token);
    const sync = '/api/environments/{envId}/sync';

    const bad = await api.call('POST', `/api/environments/${dev.id}/sync`, { message: 42 });
    expect(bad.status).toBe(400);
    expect((bad.body as { error: { id: string } }).error.id).toBe('invalid_body');
    expectDocumented('POST', sync, bad);
    const unknownField = await api.call('POST', `/api/environments/${dev.id}/sync`, { nope: 1 });
    expectDocumented('POST', sync, unknownField);
    expectDocumented('POST', sync, await api.call('POST', '/api/environments/nope/sync', {}));
    const last = project.environments.at(-1)!;
    expectDocumented('POST', sync, await api.call('POST', `/api/environments/${last.id}/sync`, {}));

    const scheduled = await api.call('POST', `/api/environments/${dev.id}/sync`, {
      at: new Date(Date.now() + 3_600_000).toISOString(),
    });
    expect(scheduled.status).toBe(202);
    expectDocumented('POST', sync, scheduled);
    const moved = await api.call('POST', `/api/environments/${dev.id}/sync`, {});
    expect(moved.status).toBe(200);
    expectDocumented('POST', sync, moved);
  });

  it('[OAS-3] reads: the board, the project, history, the session and signed-out answers', async () => {
    const { server, admin, project, dev } = await serverWithProject(cleanup);
    const api = overTheWire(server.url, admin.token);
    await api.ok('POST', `/api/environments/${dev.id}/sync`, {});
    const board = await api.call('GET', `/api/projects/${project.id}/board`);
    expect(board.status).toBe(200);
    expectDocumented('GET', '/api/projects/{id}/board', board);
    expectDocumented(
      'GET',
      '/api/projects/{id}',
      await api.call('GET', `/api/projects/${project.id}`),
    );
    expectDocumented('GET', '/api/projects', await api.call('GET', '/api/projects'));
    expectDocumented(
      'GET',
      '/api/environments/{envId}/history',
      await api.call('GET', `/api/environments/${project.environments[1]!.id}/history`),
    );
    expectDocumented('GET', '/api/session', await api.call('GET', '/api/session'));
    expectDocumented('GET', '/api/tokens', await api.call('GET', '/api/tokens'));
    const anonymous = overTheWire(server.url, '');
    expectDocumented('GET', '/api/session', await anonymous.call('GET', '/api/session'));
    expectDocumented('GET', '/api/whoami', await anonymous.call('GET', '/api/whoami'));
    expectDocumented(
      'GET',
      '/api/projects/{id}/board',
      await anonymous.call('GET', `/api/projects/${project.id}/board`),
    );
    expectDocumented('GET', '/api/projects/{id}', await api.call('GET', '/api/projects/nope'));
  });

  it('[OAS-3] every GET of a project and its environments, and a few writes, answer as documented', async () => {
    const { server, admin, project, dev } = await serverWithProject(cleanup);
    const api = overTheWire(server.url, admin.token);
    await api.ok('POST', `/api/environments/${dev.id}/sync`, {});
    const test = project.environments[1]!;
    const prod = project.environments.at(-1)!;
    const problems: string[] = [];
    const get = async (template: string, path: string) =>
      problems.push(...undocumented('GET', template, await api.call('GET', path)));
    await get('/api/health', '/api/health');
    await get('/api/setup', '/api/setup');
    await get('/api/roles', '/api/roles');
    await get('/api/users', '/api/users');
    await get('/api/notifications', '/api/notifications');
    for (const tail of ['my-roles', 'members', 'invitations', 'requests', 'locked-members'])
      await get(`/api/projects/{id}/${tail}`, `/api/projects/${project.id}/${tail}`);
    for (const env of [dev, test, prod])
      for (const tail of [
        'conflicts',
        'content',
        'problems',
        'scheduled',
        'freeze',
        'history',
        'hotfix',
        'divergence',
        'audiences',
        'variables',
        'secrets',
        'settings',
        'runtime-keys',
        'gate',
        'share-links',
        'feedback',
      ])
        await get(`/api/environments/{envId}/${tail}`, `/api/environments/${env.id}/${tail}`);
    const snapshotId = (
      await api.ok<{ environments: { snapshotId: string | null }[] }>(
        'GET',
        `/api/projects/${project.id}`,
      )
    ).environments[1]!.snapshotId!;
    await get('/api/snapshots/{id}', `/api/snapshots/${snapshotId}?project=${project.id}`);
    await get(
      '/api/environments/{envId}/checks',
      `/api/environments/${test.id}/checks?snapshotId=${snapshotId}`,
    );
    await get('/api/diff', `/api/diff?from=env:${dev.id}&to=env:${test.id}`);
    await get(
      '/api/environments/{envId}/pull',
      `/api/environments/${dev.id}/pull?from=${test.id}&section=agents`,
    );

    const write = async (method: string, template: string, path: string, body?: unknown) =>
      problems.push(...undocumented(method, template, await api.call(method, path, body)));
    await write('PATCH', '/api/environments/{envId}', `/api/environments/${test.id}`, {
      name: 'Test',
    });
    await write('POST', '/api/tokens', '/api/tokens', { name: 'ci' });
    await write(
      'POST',
      '/api/environments/{envId}/runtime-keys',
      `/api/environments/${prod.id}/runtime-keys`,
      { name: 'web' },
    );
    const content = await api.ok('GET', `/api/environments/${dev.id}/content`);
    await write(
      'PUT',
      '/api/environments/{envId}/content',
      `/api/environments/${dev.id}/content`,
      content,
    );
    await write(
      'PUT',
      '/api/environments/{envId}/content',
      `/api/environments/${test.id}/content`,
      content,
    );
    expect(problems).toEqual([]);
  });
});

describe('[OAS-3] unknown ids answer as documented', () => {
  it('[OAS-3] as the instance admin, every signed-in operation with unknown ids (and no body) answers a documented status and error id', async () => {
    const api = await inProcessInstance();
    cleanup.push(() => api.close());
    const problems: string[] = [];
    for (const [template, methods] of Object.entries(document.paths))
      for (const [method, op] of Object.entries(methods)) {
        if (!(op.security ?? []).some((s) => 'apiToken' in s)) continue;
        if (template.endsWith('/events')) continue; // a stream: checked by OAS-7 and its own tests
        const path = template.replace(/\{[^}]+\}/g, 'nope');
        const reply = await api.call(method.toUpperCase(), path, method === 'get' ? undefined : {});
        problems.push(...undocumented(method, template, reply));
      }
    expect(problems).toEqual([]);
  });
});

describe('[OAS-6] the document is public and holds no instance data', () => {
  it('[OAS-6] GET /api/openapi.json needs no sign-in and serves the committed file, with nothing of this instance', async () => {
    const { server, admin, project } = await serverWithProject(cleanup);
    const res = await fetch(`${server.url}/api/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual(JSON.parse(readFileSync(DOCUMENT_PATH, 'utf8')));
    const session = await overTheWire(server.url, admin.token).ok<{
      user: { id: string; email: string };
    }>('GET', '/api/session');
    for (const instanceValue of [
      session.user.id,
      session.user.email,
      project.id,
      project.environments[0]!.id,
      admin.token,
      server.url,
    ])
      expect(text).not.toContain(instanceValue);
  });
});

describe('[OAS-7] each operation names how it is signed in to, and means it', () => {
  it('[OAS-7] without a credential: every signed-in or runtime-key operation answers 401 as documented; the public ones do not', async () => {
    const api = await inProcessInstance();
    cleanup.push(() => api.close());
    const anonymous = api.as('');
    let checked = 0;
    const problems: string[] = [];
    for (const [template, methods] of Object.entries(document.paths))
      for (const [method, op] of Object.entries(methods)) {
        const path = template.replace(/\{[^}]+\}/g, 'x');
        const res = await anonymous.raw(path, {
          method: method.toUpperCase(),
          headers: { origin: anonymous.origin },
        });
        const where = `${method} ${template}`;
        const schemes = (op.security ?? []).flatMap((s) => Object.keys(s));
        if (schemes.length > 0 && res.status !== 401)
          problems.push(`${where}: ${res.status}, not 401`);
        if (schemes.length === 0 && res.status === 401) problems.push(`${where}: 401 but public`);
        const json = /json/.test(res.headers.get('content-type') ?? '');
        if (res.status !== 200 || json)
          problems.push(
            ...undocumented(method, template, {
              status: res.status,
              body: json ? await res.json() : (await res.text()) || null,
            }),
          );
        else await res.body?.cancel();
        checked++;
      }
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThan(90);
  });
});

describe('[OAS-5] /api/docs: the reference as one page', () => {
  it('[OAS-5] needs no sign-in; every operation, schema and error id is on it; no script, nothing from elsewhere', async () => {
    const { server } = await serverWithProject(cleanup);
    const res = await fetch(`${server.url}/api/docs`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await res.text();
    for (const methods of Object.values(document.paths))
      for (const op of Object.values(methods)) expect(html).toContain(`id="${op.operationId}"`);
    expect(html).toContain('id="schema-BoardView"');
    expect(html).toContain('id="error-invalid_body"');
    expect(html).toContain('href="#tag-Releases"');
    // Nothing to load or run: no script, no external resource; the CSP allows only its own style.
    expect(html).not.toMatch(/<script|<link|<img|<iframe|\ssrc=|@import|url\(/i);
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toMatch(/^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/=]+'/);
    expect(csp).not.toContain('unsafe');
    const style = /<style>([\s\S]*?)<\/style>/.exec(html)![1]!;
    const { createHash } = await import('node:crypto');
    expect(csp).toContain(`'sha256-${createHash('sha256').update(style).digest('base64')}'`);
  });
});
