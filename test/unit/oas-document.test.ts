import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { AppDeps } from '../../server/http/context.ts';
import { createApp } from '../../server/http/app.ts';
import { TAGS } from '../../server/http/describe.ts';
import { ERRORS, type ErrorId } from '../../schema/errors.ts';
import { WEBHOOK_EVENTS, WebhookPayload } from '../../schema/api/webhooks.ts';
import { schemaErrors } from '../helpers/json-schema.ts';
import {
  buildDocument,
  documentText,
  DOCUMENT_PATH,
  pathShape,
} from '../../scripts/openapi-document.ts';

interface Operation {
  operationId?: string;
  tags?: string[];
  responses: Record<string, { content?: unknown; description: string }>;
  'x-error-ids'?: ErrorId[];
}
interface Document {
  paths: Record<string, Record<string, Operation>>;
  webhooks: Record<string, Record<string, Operation>>;
  tags: { name: string }[];
}
const committed = readFileSync(DOCUMENT_PATH, 'utf8');
const document = JSON.parse(committed) as Document;
const operations = Object.entries(document.paths).flatMap(([path, methods]) =>
  Object.entries(methods).map(([method, op]) => ({ path, method, op })),
);

describe('[OAS-1] the committed document is what the code generates', () => {
  it('[OAS-1] npm run openapi writes exactly schema/openapi.json', async () => {
    const generated = documentText(await buildDocument());
    // Not toBe on 500 KB: say what to do, then where it differs.
    if (generated !== committed) {
      const a = generated.split('\n');
      const b = committed.split('\n');
      const line = a.findIndex((l, i) => l !== b[i]);
      expect.fail(
        `schema/openapi.json is out of date: run \`npm run openapi\` and commit it. First difference at line ${line + 1}:\n  generated: ${a[line]}\n  committed: ${b[line]}`,
      );
    }
  }, 120_000);
});

describe('[OAS-2] every route has an operation', () => {
  it('[OAS-2] each route Hono registers under /api has an operation with an operationId, unique', () => {
    const deps = new Proxy({} as AppDeps, {
      get: (_t, key) => (key === 'deliveryWaits' || key === 'eventStreams' ? {} : undefined),
    });
    const routes = createApp(deps).routes.filter(
      (r) => r.method !== 'ALL' && r.path.startsWith('/api/'),
    );
    expect(routes.length).toBeGreaterThan(90);
    const byShape = new Map(Object.entries(document.paths).map(([p, m]) => [pathShape(p), m]));
    const missing = routes
      .map((r) => ({
        route: `${r.method} ${r.path}`,
        op: byShape.get(pathShape(r.path))?.[r.method.toLowerCase()],
      }))
      .filter((r) => !r.op?.operationId)
      .map((r) => r.route);
    expect(missing, 'describe these routes with op() (server/http/describe.ts)').toEqual([]);
    // No operation without a route either.
    const registered = new Set(routes.map((r) => `${r.method.toLowerCase()} ${pathShape(r.path)}`));
    for (const { path, method } of operations)
      expect(registered.has(`${method} ${pathShape(path)}`), `${method} ${path}`).toBe(true);

    const ids = [
      ...operations.map((o) => o.op.operationId),
      ...Object.values(document.webhooks).flatMap((m) =>
        Object.values(m).map((o) => o.operationId),
      ),
    ];
    expect(ids.filter((id, i) => ids.indexOf(id) !== i)).toEqual([]);
    for (const id of ids) expect(id).toMatch(/^[a-z][a-zA-Z0-9]*$/);
  });

  it('[OAS-2] each operation has a known tag, its error ids with their statuses, and an answer', () => {
    const tags = new Set(document.tags.map((t) => t.name));
    for (const name of Object.keys(TAGS)) expect(tags.has(name)).toBe(true);
    for (const { path, method, op } of operations) {
      const where = `${method} ${path}`;
      expect(op.tags?.length, where).toBe(1);
      expect(tags.has(op.tags![0]!), where).toBe(true);
      const ids = op['x-error-ids'] ?? [];
      expect(ids, where).toContain('internal');
      for (const id of ids) {
        expect(ERRORS[id], `${where}: ${id}`).toBeDefined();
        const answer = op.responses[String(ERRORS[id].status)];
        expect(answer?.description, `${where}: ${id}`).toContain(`\`${id}\``);
      }
      expect(
        Object.keys(op.responses).some((s) => /^[23]/.test(s)),
        where,
      ).toBe(true);
    }
  });
});

describe('[OAS-8] the webhooks section describes every delivery', () => {
  it('[OAS-8] one entry per event, its body the WebhookPayload of that type; a real payload fits, another type does not', () => {
    expect(Object.keys(document.webhooks).sort()).toEqual([...WEBHOOK_EVENTS].sort());
    for (const event of WEBHOOK_EVENTS) {
      const schema = (
        document.webhooks[event]!.post as unknown as {
          requestBody: { content: { 'application/json': { schema: Record<string, unknown> } } };
        }
      ).requestBody.content['application/json'].schema;
      const payload = WebhookPayload.parse({
        type: event,
        timestamp: '2026-11-30T12:00:00.000Z',
        data: {
          projectId: 'prj_1',
          projectName: 'Support bots',
          environmentId: 'env_1',
          environmentName: 'PROD',
          snapshotId: 'a'.repeat(64),
          previousSnapshotId: null,
          releaseSeq: 3,
          actor: { id: 'usr_1', name: 'Ada' },
          url: 'https://stagecoach.example.com/projects/prj_1',
        },
      });
      expect(schemaErrors(payload, schema, document), event).toEqual([]);
      const other = WEBHOOK_EVENTS.find((e) => e !== event)!;
      expect(schemaErrors({ ...payload, type: other }, schema, document)).not.toEqual([]);
      expect(schemaErrors({ ...payload, data: { url: 'x' } }, schema, document)).not.toEqual([]);
    }
  });
});
