/**
 * Builds the OpenAPI 3.1 document of the HTTP API (OAS-1): the operations from the routes' own
 * descriptions (server/http/describe.ts `op`, beside each route; request bodies from the zod
 * schemas readJson validates with), the answer schemas from the TypeScript answer types of
 * schema/api/*.ts (ts-json-schema-generator), the error ids of schema/errors.ts and the webhook
 * payloads. `npm run openapi` writes it to schema/openapi.json; test/unit/openapi.test.ts proves the
 * committed file is what the code generates.
 */
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { generateSpecs } from 'hono-openapi';
import ts from 'typescript';
import {
  BaseType,
  createFormatter,
  createParser,
  createProgram,
  SchemaGenerator,
  DEFAULT_CONFIG,
  type CompletedConfig,
  type Definition,
  type SubNodeParser,
  type SubTypeFormatter,
} from 'ts-json-schema-generator';
import { z } from 'zod';
import * as apiSchemas from '../schema/api.ts';
import * as localSchemas from '../schema/local.ts';
import * as webhookSchemas from '../schema/api/webhooks.ts';
import { createApp } from '../server/http/app.ts';
import type { AppDeps } from '../server/http/context.ts';
import { completeOperation, TAGS } from '../server/http/describe.ts';
import { SESSION_COOKIE } from '../server/request/authenticate.ts';
import { ERRORS } from '../schema/errors.ts';
import { WEBHOOK_EVENTS, WebhookPayload } from '../schema/api/webhooks.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
export const DOCUMENT_PATH = `${root}schema/openapi.json`;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

/**
 * The app with dependencies nobody calls: building the routes reads a few limits, and generating
 * the document runs no handler.
 */
function describedApp() {
  const deps = new Proxy({} as AppDeps, {
    get: (_t, key) =>
      key === 'deliveryWaits' || key === 'eventStreams' ? {} : key === 'log' ? () => {} : undefined,
  });
  return createApp(deps);
}

/** The zod schemas an answer type may name through `z.infer<typeof X>`, by name. */
const ZOD_SCHEMAS = new Map<string, z.ZodType>();
for (const [name, value] of Object.entries({
  ...apiSchemas,
  ...localSchemas,
  ...webhookSchemas,
}) as [string, unknown][])
  if (value instanceof z.ZodType) ZOD_SCHEMAS.set(name, value);

/** A type written `z.infer<typeof X>` (or z.input, z.output): X's own JSON Schema. */
class ZodType extends BaseType {
  readonly name: string;
  readonly io: 'input' | 'output';
  constructor(name: string, io: 'input' | 'output') {
    super();
    this.name = name;
    this.io = io;
  }
  getId(): string {
    return `zod-${this.io}-${this.name}`;
  }
}

class ZodInferParser implements SubNodeParser {
  supportsNode(node: ts.Node): boolean {
    return (
      ts.isTypeReferenceNode(node) &&
      /^z\.(infer|input|output)$/.test(node.typeName.getText()) &&
      node.typeArguments?.length === 1 &&
      ts.isTypeQueryNode(node.typeArguments[0]!)
    );
  }
  createType(node: ts.Node): BaseType {
    const ref = node as ts.TypeReferenceNode;
    const name = (ref.typeArguments![0] as ts.TypeQueryNode).exprName.getText();
    if (!ZOD_SCHEMAS.has(name))
      throw new Error(
        `${name}: a zod schema of schema/api.ts or schema/local.ts is expected here.`,
      );
    return new ZodType(name, ref.typeName.getText() === 'z.input' ? 'input' : 'output');
  }
}

class ZodTypeFormatter implements SubTypeFormatter {
  supportsType(type: BaseType): boolean {
    return type instanceof ZodType;
  }
  getDefinition(type: BaseType): Definition {
    const t = type as ZodType;
    const { $schema: _, ...schema } = z.toJSONSchema(ZOD_SCHEMAS.get(t.name)!, {
      io: t.io,
      target: 'draft-2020-12',
    });
    return schema as Definition;
  }
  getChildren(): BaseType[] {
    return [];
  }
}

/**
 * JSON Schemas of the named answer types of schema/api/*.ts and the types they use, `$ref`s
 * pointing into components. An unknown name fails here (the message names it).
 */
export function answerSchemas(names: string[]): JsonObject {
  const config: CompletedConfig = {
    ...DEFAULT_CONFIG,
    path: `${root}schema/api/*.ts`,
    tsconfig: `${root}tsconfig.json`,
    expose: 'export',
    topRef: true,
    skipTypeCheck: true,
    additionalProperties: false,
    jsDoc: 'basic',
  };
  const program = createProgram(config);
  const generator = new SchemaGenerator(
    program,
    createParser(program, config, (parser) => parser.addNodeParser(new ZodInferParser())),
    createFormatter(config, (formatter) => formatter.addTypeFormatter(new ZodTypeFormatter())),
    config,
  );
  const definitions: JsonObject = {};
  for (const name of names) {
    try {
      Object.assign(definitions, generator.createSchema(name).definitions);
    } catch (err) {
      throw new Error(
        `An operation answers “${name}”: no exported type of that name in schema/api/*.ts can be turned into a JSON Schema (${(err as Error).message}).`,
        { cause: err },
      );
    }
  }
  return JSON.parse(
    JSON.stringify(definitions).replaceAll('"#/definitions/', '"#/components/schemas/'),
  ) as JsonObject;
}

/** A path with its parameters' names left out: two routes with the same shape are one OpenAPI path. */
export const pathShape = (path: string) => path.replace(/\{[^}]+\}|:[^/]+/g, '{}');

/**
 * Routes of the same shape with different parameter names (`DELETE /invitations/:id`, `GET
 * /invitations/:token`) are one path in OpenAPI: their parameter is renamed `idOrToken` in each.
 */
function mergeSamePaths(
  paths: Record<string, Record<string, JsonObject>>,
): Record<string, Record<string, JsonObject>> {
  const byShape = new Map<string, string[]>();
  for (const path of Object.keys(paths))
    byShape.set(pathShape(path), [...(byShape.get(pathShape(path)) ?? []), path]);
  const out: Record<string, Record<string, JsonObject>> = {};
  for (const [shape, same] of byShape) {
    if (same.length === 1) {
      out[same[0]!] = paths[same[0]!]!;
      continue;
    }
    const names = same.map((p) => [...p.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!));
    const merged = names[0]!.map((_, i) =>
      [...new Set(names.map((n) => n[i]!))]
        .map((n, j) => (j === 0 ? n : n[0]!.toUpperCase() + n.slice(1)))
        .join('Or'),
    );
    let k = 0;
    const path = shape.replace(/\{\}/g, () => `{${merged[k++]}}`);
    out[path] = {};
    same.forEach((p, i) => {
      for (const [method, op] of Object.entries(paths[p]!)) {
        for (const param of (op.parameters ?? []) as JsonObject[])
          if (param.in === 'path') {
            const at = names[i]!.indexOf(param.name as string);
            if (at >= 0) param.name = merged[at]!;
          }
        out[path]![method] = op;
      }
    });
  }
  return out;
}

/** The component names the operations' answers `$ref` (the types op() was given). */
function referencedAnswers(paths: JsonObject): string[] {
  const names = new Set<string>();
  for (const m of JSON.stringify(paths).matchAll(/"#\/components\/schemas\/([^"]+)"/g))
    if (m[1] !== 'Error') names.add(m[1]!);
  return [...names].sort();
}

/** Keys in a stable order (sorted), arrays kept: the committed file changes only with the API. */
function sorted(value: Json): Json {
  if (Array.isArray(value)) return value.map(sorted);
  if (value === null || typeof value !== 'object') return value;
  const out: JsonObject = {};
  for (const key of Object.keys(value).sort()) out[key] = sorted(value[key]!);
  return out;
}

const pascal = (s: string) =>
  s
    .split(/[^a-zA-Z0-9]+/)
    .filter(Boolean)
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join('');

/** The error ids with their statuses, for the document's description (OAS-2). */
function errorTable(): string {
  const rows = Object.entries(ERRORS).map(
    ([id, e]) => `| \`${id}\` | ${e.status} | ${e.message.replaceAll('|', '\\|')} |`,
  );
  return ['| Error id | Status | Message |', '| --- | --- | --- |', ...rows].join('\n');
}

/** One entry per webhook event: the Standard Webhooks POST an endpoint receives (OAS-1). */
function webhooks(): JsonObject {
  const out: JsonObject = {};
  for (const event of WEBHOOK_EVENTS)
    out[event] = {
      post: {
        operationId: `webhook${pascal(event)}`,
        summary: `The \`${event}\` delivery`,
        tags: ['Webhooks'],
        description:
          'Signed per Standard Webhooks: `webhook-id`, `webhook-timestamp` and `webhook-signature` headers; a 2xx answer acknowledges it.',
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                allOf: [
                  { $ref: '#/components/schemas/WebhookPayload' },
                  { type: 'object', properties: { type: { const: event } } },
                ],
              },
            },
          },
        },
        responses: { '200': { description: 'Received.' } },
      },
    };
  return out;
}

/** The document, keys sorted. Deterministic: the same code gives the same bytes. */
export async function buildDocument(): Promise<JsonObject> {
  const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { version: string };
  // Cloned: the operations share objects with the routes' descriptions, and are completed below.
  const generated = structuredClone(
    await generateSpecs(describedApp(), {
      excludeMethods: ['OPTIONS', 'HEAD'],
      excludeStaticFile: false,
      defaultValidationErrorResponse: false,
      documentation: {},
    }),
  ) as unknown as { paths: Record<string, Record<string, JsonObject>>; components?: JsonObject };

  const paths: JsonObject = {};
  for (const [path, methods] of Object.entries(mergeSamePaths(generated.paths))) {
    const entry: JsonObject = {};
    for (const [method, operation] of Object.entries(methods)) {
      completeOperation(method, path, operation as Parameters<typeof completeOperation>[2]);
      entry[method] = operation;
    }
    paths[path] = entry;
  }

  const schemas: JsonObject = {
    ...((generated.components?.schemas as JsonObject | undefined) ?? {}),
    ...answerSchemas(referencedAnswers(paths)),
    WebhookPayload: z.toJSONSchema(WebhookPayload, { target: 'draft-2020-12' }) as JsonObject,
    Error: {
      type: 'object',
      description:
        'Every error answer: `id` is one of the error ids listed in the description of this document (with its status); `message` is for people; `details` depends on the id.',
      properties: {
        error: {
          type: 'object',
          properties: {
            id: { type: 'string', enum: Object.keys(ERRORS) },
            message: { type: 'string' },
            details: {},
          },
          required: ['id', 'message'],
          additionalProperties: false,
        },
      },
      required: ['error'],
      additionalProperties: false,
    },
  };
  delete (schemas.WebhookPayload as JsonObject).$schema;

  const document: JsonObject = {
    openapi: '3.1.0',
    info: {
      title: 'Stagecoach API',
      version: pkg.version,
      license: { name: 'Proprietary', identifier: 'LicenseRef-Proprietary' },
      description: [
        'The HTTP API of a Stagecoach server: every route under `/api`. Answers are JSON; an error answers `{ "error": { "id", "message", "details"? } }` (schema `Error`) with the status of its id. Each operation lists the ids it can answer in `x-error-ids` and, grouped by status, in its responses.',
        '',
        'Writes of a signed-in person accept an `Idempotency-Key` header: the first answer is kept 24 hours and replayed for the same key.',
        '',
        '## Error ids',
        '',
        errorTable(),
      ].join('\n'),
    },
    servers: [{ url: '/', description: 'This server.' }],
    security: [{ apiToken: [] }, { sessionCookie: [] }],
    tags: Object.entries(TAGS).map(([name, description]) => ({ name, description })),
    paths,
    webhooks: webhooks(),
    components: {
      securitySchemes: {
        apiToken: {
          type: 'http',
          scheme: 'bearer',
          description:
            'A personal API token (`POST /api/tokens`), as `Authorization: Bearer <token>`.',
        },
        sessionCookie: {
          type: 'apiKey',
          in: 'cookie',
          name: SESSION_COOKIE,
          description:
            'The web app’s session (`POST /api/session`). Writes must come from the server’s own origin (`bad_origin`).',
        },
        runtimeKey: {
          type: 'http',
          scheme: 'bearer',
          description:
            'A runtime key of the environment (`POST /api/environments/{envId}/runtime-keys`), as `Authorization: Bearer <key>`: only the delivery routes take it.',
        },
      },
      schemas,
    },
  };
  return sorted(document) as JsonObject;
}

/** The file's text: two-space JSON and a final newline (what prettier would write). */
export const documentText = (document: JsonObject) => `${JSON.stringify(document, null, 2)}\n`;
