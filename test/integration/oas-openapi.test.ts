import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { overTheWire, serverWithProject, type Reply } from '../helpers/fixture.ts';
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
  responses: Record<string, { content?: Record<string, { schema: Record<string, unknown> }> }>;
  'x-error-ids'?: string[];
}
const document = JSON.parse(readFileSync(DOCUMENT_PATH, 'utf8')) as {
  paths: Record<string, Record<string, Operation>>;
};

/** Checks one answer against the document's operation `method path` (path as in the document). */
function expectDocumented(method: string, path: string, reply: Reply<unknown>): void {
  const op = document.paths[path]?.[method.toLowerCase()];
  expect(op, `${method} ${path} is in the document`).toBeDefined();
  const answer = op!.responses[String(reply.status)];
  expect(answer, `${method} ${path} lists status ${reply.status}`).toBeDefined();
  const schema = answer!.content?.['application/json']?.schema;
  if (reply.status >= 400) {
    const id = (reply.body as { error: { id: string } }).error.id;
    expect(op!['x-error-ids'], `${method} ${path} lists error id ${id}`).toContain(id);
  }
  if (schema) expect(schemaErrors(reply.body, schema, document), `${method} ${path}`).toEqual([]);
  else expect(reply.body).toBeNull();
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

  it('[OAS-3] GET /api/openapi.json needs no sign-in and serves the committed document', async () => {
    const { server } = await serverWithProject(cleanup);
    const res = await fetch(`${server.url}/api/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual(JSON.parse(readFileSync(DOCUMENT_PATH, 'utf8')));
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
