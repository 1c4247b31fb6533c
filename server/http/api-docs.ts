import { createHash } from 'node:crypto';

/**
 * `GET /api/docs` (OAS-5): the API reference as one HTML page rendered on the server from the
 * OpenAPI document: a table of contents, then per tag each operation's method, path, summary,
 * sign-in, parameters, body and answer schemas and error ids, then the webhooks, the schemas and
 * the error ids. No script and nothing from another origin: the only style is the inline <style>,
 * allowed by its hash in the page's own Content-Security-Policy.
 */

type Schema = { [key: string]: unknown };
interface Parameter {
  name: string;
  in: string;
  required?: boolean;
  description?: string;
  schema?: Schema;
}
interface Operation {
  operationId: string;
  summary?: string;
  description?: string;
  tags?: string[];
  security?: Record<string, unknown>[];
  parameters?: Parameter[];
  requestBody?: { required?: boolean; content: Record<string, { schema: Schema }> };
  responses: Record<
    string,
    { description?: string; content?: Record<string, { schema: Schema; 'x-event-data'?: Schema }> }
  >;
  'x-error-ids'?: string[];
}
export interface OpenApiDocument {
  info: { title: string; version: string };
  tags: { name: string; description?: string }[];
  paths: Record<string, Record<string, Operation>>;
  webhooks?: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema> };
}

const escape = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
/** Plain text with `code` spans: the only markup the document's prose uses. */
const prose = (s: string) =>
  escape(s).replace(/`([^`]+)`/g, (_, code: string) => `<code>${code}</code>`);
const schemaAnchor = (name: string) => `schema-${name.replace(/[^A-Za-z0-9_-]/g, '_')}`;

/** A schema as a TypeScript-like type, `$ref`s linked to their entry below. */
function typeOf(schema: unknown, indent = ''): string {
  if (schema === true || schema === undefined) return 'any';
  if (schema === false) return 'never';
  const s = schema as Schema;
  if (typeof s.$ref === 'string') {
    const name = decodeURIComponent(s.$ref.split('/').pop()!);
    return `<a href="#${schemaAnchor(name)}">${escape(name)}</a>`;
  }
  if ('const' in s) return escape(JSON.stringify(s.const));
  if (Array.isArray(s.enum)) return s.enum.map((v) => escape(JSON.stringify(v))).join(' | ');
  for (const [key, joint] of [
    ['anyOf', ' | '],
    ['oneOf', ' | '],
    ['allOf', ' &amp; '],
  ] as const)
    if (Array.isArray(s[key]))
      return (s[key] as unknown[]).map((x) => typeOf(x, indent)).join(joint);
  const types = Array.isArray(s.type) ? (s.type as string[]) : s.type ? [s.type as string] : [];
  if (types.length > 1) return types.map((t) => typeOf({ ...s, type: t }, indent)).join(' | ');
  switch (types[0]) {
    case 'array':
      return `${wrap(typeOf(s.items, indent))}[]`;
    case 'object':
      return objectType(s, indent);
    case 'integer':
      return 'integer';
    case undefined:
      return s.properties ? objectType(s, indent) : 'any';
    default:
      return escape(types[0]);
  }
}
const wrap = (t: string) => (t.includes(' | ') || t.includes(' &amp; ') ? `(${t})` : t);

function objectType(s: Schema, indent: string): string {
  const properties = (s.properties ?? {}) as Record<string, Schema>;
  const required = new Set((s.required ?? []) as string[]);
  const inner = `${indent}  `;
  const lines = Object.entries(properties).map(([key, value]) => {
    const note =
      typeof value.description === 'string'
        ? `${inner}<span class="note">// ${prose(value.description.replace(/\s+/g, ' '))}</span>\n`
        : '';
    return `${note}${inner}${escape(key)}${required.has(key) ? '' : '?'}: ${typeOf(value, inner)}`;
  });
  const extra = s.additionalProperties;
  if (extra && typeof extra === 'object' && lines.length === 0)
    return `Record&lt;string, ${typeOf(extra, indent)}&gt;`;
  if (extra && typeof extra === 'object')
    lines.push(`${inner}[key: string]: ${typeOf(extra, inner)}`);
  else if (extra === undefined && lines.length === 0) return 'object';
  if (lines.length === 0) return '{}';
  return `{\n${lines.join('\n')}\n${indent}}`;
}

const AUTH: Record<string, string> = {
  apiToken: 'API token',
  sessionCookie: 'session cookie',
  runtimeKey: 'runtime key',
};
function signIn(op: Operation): string {
  const schemes = (op.security ?? []).flatMap((s) => Object.keys(s));
  return schemes.length === 0 ? 'none' : schemes.map((s) => AUTH[s] ?? s).join(' or ');
}

/** An answer: a named schema is shown with its name and its fields (one level). */
function answerType(schema: Schema, schemas: Record<string, Schema>): string {
  if (typeof schema.$ref !== 'string') return typeOf(schema);
  const name = decodeURIComponent(schema.$ref.split('/').pop()!);
  const target = schemas[name];
  return target ? `${typeOf(schema)} ${typeOf(target)}` : typeOf(schema);
}

function operationHtml(
  method: string,
  path: string,
  op: Operation,
  errors: ErrorRows,
  schemas: Record<string, Schema>,
): string {
  const out: string[] = [];
  out.push(`<section class="op" id="${escape(op.operationId)}">`);
  out.push(
    `<h3><span class="method ${method}">${method.toUpperCase()}</span> <code class="path">${escape(path)}</code></h3>`,
  );
  out.push(`<p class="summary">${prose(op.summary ?? '')}</p>`);
  if (op.description) out.push(`<p>${prose(op.description)}</p>`);
  out.push(
    `<p class="meta">Operation <code>${escape(op.operationId)}</code> · Sign-in: ${escape(signIn(op))}</p>`,
  );
  if (op.parameters?.length) {
    out.push(
      '<h4>Parameters</h4><table class="stack"><thead><tr><th>Name</th><th>In</th><th>Type</th><th>About</th></tr></thead><tbody>',
    );
    for (const p of op.parameters)
      out.push(
        `<tr><td><code>${escape(p.name)}</code>${p.required ? '' : ' <span class="opt">optional</span>'}</td><td>${escape(p.in)}</td><td><code>${typeOf(p.schema)}</code></td><td>${prose(p.description ?? '')}</td></tr>`,
      );
    out.push('</tbody></table>');
  }
  if (op.requestBody) {
    const [media, body] = Object.entries(op.requestBody.content)[0]!;
    out.push(
      `<h4>Body <span class="opt">${escape(media)}${op.requestBody.required ? '' : ', optional'}</span></h4>`,
    );
    out.push(`<pre>${typeOf(body.schema)}</pre>`);
  }
  out.push('<h4>Answers</h4><dl class="answers">');
  for (const [status, answer] of Object.entries(op.responses)) {
    if (Number(status) >= 400) continue;
    const content = answer.content ? Object.entries(answer.content)[0] : undefined;
    out.push(`<dt>${escape(status)}</dt><dd>${prose(answer.description ?? '')}`);
    if (content)
      out.push(
        content[0] === 'application/json'
          ? `<pre>${answerType(content[1].schema, schemas)}</pre>`
          : ` <code>${escape(content[0])}</code>${
              content[1].schema.description
                ? `<p>${prose(String(content[1].schema.description))}</p>`
                : ''
            }${
              content[1]['x-event-data']
                ? `<pre>${answerType(content[1]['x-event-data'], schemas)}</pre>`
                : ''
            }`,
      );
    out.push('</dd>');
  }
  out.push('</dl>');
  const ids = op['x-error-ids'] ?? [];
  if (ids.length) {
    out.push('<h4>Errors</h4><ul class="errors">');
    for (const id of ids)
      out.push(
        `<li><a href="#error-${escape(id)}"><code>${escape(id)}</code></a> ${errors.get(id)?.status ?? ''}</li>`,
      );
    out.push('</ul>');
  }
  out.push('</section>');
  return out.join('\n');
}

type ErrorRows = Map<string, { status: number; message: string }>;

const STYLE = `
:root { --ink: #0f172a; --muted: #64748b; --line: #e2e8f0; --accent: #1d4ed8; --bg: #f6f7f9; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, 'Segoe UI', sans-serif; color: var(--ink); background: var(--bg); }
main { max-width: 64rem; margin: 0 auto; padding: 1.5rem 1rem 4rem; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; }
h2 { font-size: 1.25rem; margin: 2.5rem 0 .5rem; padding-top: .5rem; border-top: 2px solid var(--line); }
h3 { font-size: 1rem; margin: 0; display: flex; flex-wrap: wrap; gap: .5rem; align-items: baseline; }
h4 { font-size: .85rem; margin: 1rem 0 .25rem; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
a { color: var(--accent); }
code, pre { font: 13px/1.45 ui-monospace, 'SFMono-Regular', Menlo, Consolas, monospace; }
.path { overflow-wrap: anywhere; font-size: 14px; }
pre { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: .6rem .75rem; white-space: pre-wrap; overflow-wrap: anywhere; margin: .25rem 0; }
.note { color: var(--muted); }
.op { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 1rem; margin: 1rem 0; }
.op pre { background: var(--bg); }
.summary { margin: .5rem 0 .25rem; font-weight: 600; }
.meta, .opt, .lead { color: var(--muted); }
.meta { font-size: 13px; margin: 0; }
.opt { font-size: 12px; font-weight: 400; text-transform: none; letter-spacing: 0; }
.method { display: inline-block; min-width: 4.2rem; text-align: center; font: 700 12px/1.9 ui-monospace, Menlo, monospace; border-radius: 6px; color: #fff; background: #475569; }
.method.get { background: #15803d; } .method.post { background: #1d4ed8; } .method.put, .method.patch { background: #b45309; } .method.delete { background: #b91c1c; }
table { border-collapse: collapse; width: 100%; font-size: 14px; display: block; overflow-x: auto; }
th, td { text-align: left; vertical-align: top; padding: .3rem .5rem; border-bottom: 1px solid var(--line); }
dl.answers { margin: 0; } dl.answers dt { font-weight: 700; } dl.answers dd { margin: 0 0 .5rem 0; }
ul.errors { display: flex; flex-wrap: wrap; gap: .25rem .9rem; padding: 0; margin: 0; list-style: none; font-size: 14px; }
nav ol { padding-left: 1.2rem; } nav li { margin: .15rem 0; }
nav ul { list-style: none; padding-left: .5rem; margin: .25rem 0 .75rem; font-size: 14px; }
nav .method { min-width: 3.6rem; font-size: 11px; line-height: 1.6; }
.schema { scroll-margin-top: 1rem; }
@media (max-width: 600px) {
  table.stack thead { display: none; }
  table.stack tr { display: block; padding: .4rem 0; border-bottom: 1px solid var(--line); }
  table.stack td { display: inline; border: 0; padding: 0 .5rem 0 0; }
  table.stack td:last-child { display: block; padding-top: .15rem; }
}
`;

/** The page and its Content-Security-Policy (the style's hash, nothing else allowed). */
export function renderApiDocs(
  doc: OpenApiDocument,
  errors: Record<string, { status: number; message: string }>,
): { html: string; csp: string } {
  const errorRows: ErrorRows = new Map(Object.entries(errors));
  const byTag = new Map<string, { method: string; path: string; op: Operation }[]>();
  for (const [path, methods] of Object.entries(doc.paths))
    for (const [method, op] of Object.entries(methods)) {
      const tag = op.tags?.[0] ?? 'Other';
      byTag.set(tag, [...(byTag.get(tag) ?? []), { method, path, op }]);
    }
  const tags = doc.tags.filter((t) => byTag.has(t.name));
  const body: string[] = [];
  body.push(`<h1>${escape(doc.info.title)}</h1>`);
  body.push(
    `<p class="lead">Version ${escape(doc.info.version)}. Every route under <code>/api</code>, generated from the code. Machine-readable: <a href="/api/openapi.json"><code>/api/openapi.json</code></a> (OpenAPI 3.1). An error answers <code>{ "error": { "id", "message", "details"? } }</code> with the status of its id.</p>`,
  );
  body.push('<nav aria-label="Contents"><h2>Contents</h2><ol>');
  for (const t of tags) {
    body.push(`<li><a href="#tag-${escape(t.name)}">${escape(t.name)}</a><ul>`);
    for (const { method, path, op } of byTag.get(t.name)!)
      body.push(
        `<li><a href="#${escape(op.operationId)}"><span class="method ${method}">${method.toUpperCase()}</span> ${prose(op.summary ?? path)}</a></li>`,
      );
    body.push('</ul></li>');
  }
  if (doc.webhooks) body.push('<li><a href="#webhooks">Webhooks</a></li>');
  body.push('<li><a href="#schemas">Schemas</a></li><li><a href="#errors">Error ids</a></li>');
  body.push('</ol></nav>');

  for (const t of tags) {
    body.push(`<h2 id="tag-${escape(t.name)}">${escape(t.name)}</h2>`);
    if (t.description) body.push(`<p class="lead">${prose(t.description)}</p>`);
    for (const { method, path, op } of byTag.get(t.name)!)
      body.push(operationHtml(method, path, op, errorRows, doc.components.schemas));
  }

  if (doc.webhooks) {
    body.push(
      '<h2 id="webhooks">Webhooks</h2><p class="lead">What a project’s webhook endpoints receive: a signed POST (Standard Webhooks) whose body is <a href="#schema-WebhookPayload"><code>WebhookPayload</code></a> with <code>type</code> the event.</p><ul>',
    );
    for (const [event, methods] of Object.entries(doc.webhooks))
      for (const op of Object.values(methods))
        body.push(`<li><code>${escape(event)}</code> — ${prose(op.summary ?? '')}</li>`);
    body.push('</ul>');
  }

  body.push('<h2 id="schemas">Schemas</h2>');
  for (const [name, schema] of Object.entries(doc.components.schemas)) {
    body.push(
      `<section class="schema" id="${schemaAnchor(name)}"><h3><code>${escape(name)}</code></h3>`,
    );
    if (typeof schema.description === 'string') body.push(`<p>${prose(schema.description)}</p>`);
    body.push(`<pre>${typeOf(schema)}</pre></section>`);
  }

  body.push(
    '<h2 id="errors">Error ids</h2><table class="stack"><thead><tr><th>Id</th><th>Status</th><th>Message</th></tr></thead><tbody>',
  );
  for (const [id, e] of errorRows)
    body.push(
      `<tr id="error-${escape(id)}"><td><code>${escape(id)}</code></td><td>${e.status}</td><td>${escape(e.message)}</td></tr>`,
    );
  body.push('</tbody></table>');

  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(doc.info.title)} reference</title>
<style>${STYLE}</style>
</head>
<body><main>
${body.join('\n')}
</main></body>
</html>
`;
  const hash = createHash('sha256').update(STYLE).digest('base64');
  return {
    html,
    csp: `default-src 'none'; style-src 'sha256-${hash}'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'`,
  };
}
