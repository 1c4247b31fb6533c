import { describeRoute, resolver } from 'hono-openapi';
import type { MiddlewareHandler } from 'hono';
import type { z } from 'zod';
import { ERRORS, type ErrorId } from '#schema/errors.ts';

/**
 * The OpenAPI description of one route (OAS-2), written beside it:
 *
 *     .post('/environments/:envId/sync', op({ id: 'syncEnvironment', tag: 'Releases',
 *       summary: '…', body: SyncBody, answers: { 200: 'SyncResult', 202: 'ScheduledResult' },
 *       errors: ['nothing_to_sync'] }), async (c) => …)
 *
 * `body` is the very zod schema the handler's readJson validates with; an answer names a
 * TypeScript answer type of schema/api/*.ts (the one the handler `satisfies`), turned into a JSON
 * Schema by `npm run openapi` (scripts/openapi.ts), which writes schema/openapi.json. The error ids
 * every route of its kind can answer (sign-in, bodies, storage) are added here; `errors` lists the
 * route's own. Describing changes nothing at run time: the middleware only calls next().
 */
export interface Operation {
  /** camelCase verb + noun, stable: the CLI's commands are generated from it. */
  id: string;
  tag: Tag;
  summary: string;
  description?: string;
  /**
   * Who may call: a person's API token or session cookie (default), nobody in particular
   * (sign-in, invitation and share links), or an environment's runtime key (delivery).
   */
  auth?: 'user' | 'public' | 'runtime';
  /** The zod schema of the JSON body, the one readJson validates with. */
  body?: z.ZodType;
  /** A body that may be left out (a bare DELETE). */
  bodyOptional?: boolean;
  query?: Record<string, QueryParam>;
  /** Headers the route reads (other than authentication). */
  headers?: Record<string, QueryParam>;
  /** A JSON body with no zod schema (the workspace file): its JSON Schema. */
  bodyJsonSchema?: Record<string, unknown>;
  /**
   * Status → the answer: the name of its type in schema/api/*.ts (the one the handler
   * `satisfies`), a zod schema, `'json'` for an untyped object, or null (no body).
   */
  answers: Partial<Record<200 | 201 | 202 | 204 | 304, string | z.ZodType | null>>;
  /** The route's own error ids (the common ones are added). */
  errors?: ErrorId[];
  /** A media type other than JSON for the 200 answer (server-sent events, a web page). */
  media?: 'text/event-stream' | 'text/html';
}

export interface QueryParam {
  description: string;
  required?: boolean;
  /** A JSON Schema (default: a string). */
  schema?: Record<string, unknown>;
}

/** The areas the document's tags group operations by (OAS-2). */
export const TAGS = {
  Accounts: 'Set-up, sign-in, sessions, API tokens, users and password resets.',
  Projects: 'Projects, their environments, flow rules, content, conflicts and pulls.',
  Releases:
    'Sync, Publish, rollback, scheduled moves, freezes, history, snapshots, diffs, the board and hotfixes.',
  Local: 'Per-environment variables, secrets, settings, runtime keys and audiences.',
  Access: 'Members, roles and invitations.',
  Approvals: 'Required checks, approval gates and release requests.',
  Sharing: 'Share links and the feedback that comes through them.',
  Delivery: 'What runtimes read: an environment’s published configuration, by runtime key.',
  Events: 'Project event streams and the notification inbox.',
  Webhooks:
    'A project’s webhook endpoints and their deliveries; what the endpoints receive is in the document’s `webhooks` section.',
  Meta: 'Health and this document.',
} as const;
export type Tag = keyof typeof TAGS;

/** The security schemes (components.securitySchemes) an operation names. */
const SECURITY: Record<'user' | 'public' | 'runtime', Record<string, string[]>[]> = {
  user: [{ apiToken: [] }, { sessionCookie: [] }],
  public: [],
  runtime: [{ runtimeKey: [] }],
};

const MUTATING = new Set(['post', 'put', 'patch', 'delete']);

/** What scripts/openapi.ts reads back from a generated operation to complete it. */
interface DescribedOperation {
  security?: readonly Record<string, unknown>[];
  requestBody?: unknown;
  parameters?: { in: string; name: string; description?: string; [key: string]: unknown }[];
  responses?: Record<string, unknown>;
  'x-error-ids'?: ErrorId[];
}

/**
 * The error ids an operation can answer: its own and those of every route of its kind (signed-in,
 * writing, with a body or a query), in ERRORS order.
 */
export function errorIdsOf(method: string, o: DescribedOperation): ErrorId[] {
  const ids = new Set<ErrorId>(o['x-error-ids'] ?? []);
  const schemes = (o.security ?? []).flatMap((s) => Object.keys(s));
  const user = schemes.includes('apiToken');
  if (schemes.length > 0) ids.add('unauthenticated');
  if (user) {
    ids.add('forbidden');
    if (MUTATING.has(method)) {
      ids.add('bad_origin');
      ids.add('invalid_idempotency_key');
      ids.add('idempotency_key_reused');
      ids.add('idempotency_in_progress');
      // The daily bound of kept Idempotency-Key answers (server/domain/idempotency.ts).
      ids.add('limit_reached');
    }
  }
  if (o.requestBody) {
    ids.add('invalid_json');
    ids.add('invalid_body');
    ids.add('unsupported_media_type');
    ids.add('body_too_large');
    if (user) ids.add('rate_limited');
  }
  if (o.parameters?.some((p) => p.in === 'query')) ids.add('invalid_body');
  ids.add('storage_unavailable');
  ids.add('internal');
  const order = Object.keys(ERRORS);
  return [...ids].sort((a, b) => order.indexOf(a) - order.indexOf(b));
}

/** What a path parameter names, by the path segment before it (`/projects/{id}`: a project). */
const NAMED_BY: Record<string, string> = {
  projects: 'The project’s id.',
  environments: 'The environment’s id.',
  delivery: 'The environment’s id.',
  users: 'The user’s id.',
  members: 'The member’s user id.',
  tokens: 'The API token’s id (never its value).',
  'runtime-keys': 'The runtime key’s id (never its value).',
  audiences: 'The audience’s id.',
  variables: 'The variable’s name.',
  secrets: 'The secret’s name.',
  snapshots: 'The snapshot’s id (64 hex characters).',
  scheduled: 'The scheduled move’s id.',
  requests: 'The release request’s id.',
  feedback: 'The feedback’s id.',
  'share-links': 'The share link’s id.',
  share: 'The share link’s token (from its URL).',
  'password-reset': 'The reset link’s token (from its URL).',
};

/** Path parameters without a description get one from the segment before them. */
function describeParameters(path: string, o: DescribedOperation): void {
  const segments = path.split('/');
  for (const p of o.parameters ?? []) {
    if (p.in !== 'path' || p.description) continue;
    const before = segments[segments.indexOf(`{${p.name}}`) - 1] ?? '';
    const description =
      before === 'invitations'
        ? p.name === 'token'
          ? 'The invitation link’s token (from its URL).'
          : p.name === 'id'
            ? 'The invitation’s id.'
            : 'The invitation’s id (DELETE) or its link’s token (GET).'
        : NAMED_BY[before];
    if (description) p.description = description;
  }
}

/**
 * Adds the error answers to a generated operation: `x-error-ids` (every id), and per status one
 * response with the `Error` schema whose description names the ids (OAS-2).
 */
export function completeOperation(method: string, path: string, o: DescribedOperation): void {
  const ids = errorIdsOf(method, o);
  describeParameters(path, o);
  const user = (o.security ?? []).some((s) => 'apiToken' in s);
  if (user && MUTATING.has(method))
    (o.parameters ??= []).push({
      name: 'Idempotency-Key',
      in: 'header',
      required: false,
      description:
        'Any 1–255 printable ASCII characters, new for each change: the first answer is kept 24 hours and replayed for a repeat with the same key (a retried step never moves twice).',
      schema: { type: 'string', minLength: 1, maxLength: 255 },
    });
  o['x-error-ids'] = ids;
  const byStatus = new Map<number, ErrorId[]>();
  for (const id of ids) {
    const status = ERRORS[id].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), id]);
  }
  o.responses ??= {};
  for (const [status, list] of [...byStatus].sort((a, b) => a[0] - b[0]))
    o.responses[String(status)] = {
      description: list.map((id) => `\`${id}\``).join(', '),
      content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
    };
}

const answerSchema = (answer: string | z.ZodType) =>
  typeof answer !== 'string'
    ? resolver(answer as never)
    : answer === 'json'
      ? { type: 'object' as const }
      : { $ref: `#/components/schemas/${answer}` };

const STATUS_TEXT: Record<string, string> = {
  200: 'OK.',
  201: 'Created.',
  202: 'Accepted: stored to run at its time.',
  204: 'Done; no body.',
  304: 'Not modified since the ETag sent in If-None-Match.',
};

/** Describes one route (see Operation); the middleware only calls next(). */
export function op(o: Operation): MiddlewareHandler {
  const responses: Record<string, unknown> = {};
  for (const [status, answer] of Object.entries(o.answers))
    responses[status] =
      answer === null || answer === undefined
        ? { description: STATUS_TEXT[status] }
        : {
            description: STATUS_TEXT[status],
            content:
              o.media === 'text/event-stream' && status === '200'
                ? {
                    [o.media]: {
                      schema: {
                        type: 'string',
                        description:
                          typeof answer === 'string'
                            ? `Server-sent events: each message's \`data\` is a JSON ${answer} (\`x-event-data\`), its \`id\` what Last-Event-ID resumes after; comment lines keep the connection alive.`
                            : 'Server-sent events.',
                      },
                      ...(typeof answer === 'string'
                        ? { 'x-event-data': answerSchema(answer) }
                        : {}),
                    },
                  }
                : o.media && status === '200'
                  ? { [o.media]: { schema: { type: 'string' } } }
                  : { 'application/json': { schema: answerSchema(answer) } },
          };
  const param = (where: 'query' | 'header') => (entry: [string, QueryParam]) => ({
    name: entry[0],
    in: where,
    required: entry[1].required ?? false,
    description: entry[1].description,
    schema: entry[1].schema ?? { type: 'string' },
  });
  const parameters = [
    ...Object.entries(o.query ?? {}).map(param('query')),
    ...Object.entries(o.headers ?? {}).map(param('header')),
  ];
  return describeRoute({
    operationId: o.id,
    summary: o.summary,
    ...(o.description ? { description: o.description } : {}),
    tags: [o.tag],
    security: SECURITY[o.auth ?? 'user'],
    ...(parameters.length ? { parameters } : {}),
    ...(o.body
      ? {
          requestBody: {
            required: !o.bodyOptional,
            content: { 'application/json': { schema: resolver(o.body as never) } },
          },
        }
      : o.bodyJsonSchema
        ? {
            requestBody: {
              required: !o.bodyOptional,
              content: { 'application/json': { schema: o.bodyJsonSchema } },
            },
          }
        : {}),
    responses,
    ...(o.errors?.length ? { 'x-error-ids': o.errors } : {}),
  } as unknown as Parameters<typeof describeRoute>[0]);
}
