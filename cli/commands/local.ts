import fs from 'node:fs';
import { toWorkspaceFile } from '../../schema/content/file.ts';
import {
  authoringOf,
  findEnv,
  isFullId,
  short,
  snapshotRef,
  str,
  type Context,
} from '../context.ts';
import { CliError, usage } from '../errors.ts';

/** The most a file or secret read from stdin or disk may hold (the server refuses more anyway). */
const MAX_INPUT_BYTES = 16 * 1024 * 1024;

async function readAll(stream: NodeJS.ReadableStream, what: string): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
    size += b.length;
    if (size > MAX_INPUT_BYTES) throw usage(`${what} is larger than ${MAX_INPUT_BYTES} bytes.`);
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * `export <env> [--out file] [--pointer live] [--snapshot S]` (CLI-13): the workspace file of an
 * environment's content, as the web app exports it; on stdout without `--out`.
 */
export async function exportCommand(ctx: Context): Promise<number> {
  const project = await ctx.project();
  const env = findEnv(project, ctx.positionals[0]);
  const query: Record<string, string> = {};
  const snapshot = str(ctx, 'snapshot');
  const pointer = str(ctx, 'pointer');
  if (snapshot) {
    const ref = snapshotRef(snapshot, 'snapshot');
    if (!isFullId(ref)) throw usage('--snapshot needs the whole id (64 hex characters) here.');
    query.snapshot = ref;
  } else if (pointer === 'live') query.pointer = 'live';
  else if (pointer !== undefined && pointer !== 'current')
    throw usage('--pointer is current or live.');
  const content = await ctx.api.get('/api/environments/{envId}/content', {
    path: { envId: env.id },
    query,
  });
  const file = toWorkspaceFile(content, {
    project: project.name,
    environment: env.name,
  });
  const text = `${JSON.stringify(file, null, 2)}\n`;
  const out = str(ctx, 'out');
  if (out) {
    fs.writeFileSync(out, text);
    ctx.out.say(`Exported ${env.name}${snapshot ? ` at ${short(query.snapshot)}` : ''} to ${out}.`);
    return ctx.out.done({ environment: env.name, out, bytes: Buffer.byteLength(text) });
  }
  ctx.out.value(text);
  return ctx.out.done({ environment: env.name, file });
}

/**
 * `import [<env>] --file F|-` (CLI-13): the authoring draft becomes the file (one change editors see
 * live); a malformed file changes nothing (exit 2). Content problems are listed, not refused.
 */
export async function importCommand(ctx: Context): Promise<number> {
  const project = await ctx.project();
  const env = ctx.positionals[0] ? findEnv(project, ctx.positionals[0]) : authoringOf(project);
  const path = str(ctx, 'file');
  if (!path) throw usage('import --file <workspace.json> (or --file - for stdin).');
  const text = path === '-' ? await readAll(ctx.stdin, 'stdin') : readFile(path);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new CliError(
      'invalid_workspace',
      `${path === '-' ? 'stdin' : path} is not JSON: nothing was sent.`,
    );
  }
  const r = await ctx.api.write(
    'PUT',
    '/api/environments/{envId}/content',
    'import',
    { path: { envId: env.id } },
    data,
  );
  const { problems } = r;
  ctx.out.say(
    `Imported into ${env.name}: ${problems.length} problem${problems.length === 1 ? '' : 's'}.`,
  );
  for (const p of problems.slice(0, 20))
    ctx.out.say(`  ${p.section}/${p.itemId} ${p.field}: ${p.message}`);
  return ctx.out.done({ environment: env.name, problems });
}

function readFile(path: string): string {
  try {
    const stat = fs.statSync(path);
    if (stat.size > MAX_INPUT_BYTES)
      throw usage(`${path} is larger than ${MAX_INPUT_BYTES} bytes.`);
    return fs.readFileSync(path, 'utf8');
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw usage(`Cannot read ${path}: ${(e as Error).message}`);
  }
}

/** `vars get <env> [name]` / `vars set <env> <name> <value>` (CLI-13): environment-local values. */
export async function vars(ctx: Context): Promise<number> {
  const [sub, envRef, name, value] = ctx.positionals;
  if (sub !== 'get' && sub !== 'set')
    throw usage('vars get <env> [name] | vars set <env> <name> <value>');
  ctx.out.command = `vars ${sub}`;
  const project = await ctx.project();
  const env = findEnv(project, envRef);
  if (sub === 'get') {
    const { variables } = await ctx.api.get('/api/environments/{envId}/variables', {
      path: { envId: env.id },
    });
    if (name) {
      const v = variables.find((x) => x.name === name);
      if (!v) throw new CliError('variable_not_found', `No variable "${name}" in ${env.name}.`);
      ctx.out.value(v.effectiveValue);
      return ctx.out.done({ environment: env.name, variable: v });
    }
    for (const v of variables)
      ctx.out.say(
        `${v.name} = ${v.effectiveValue}${v.override ? ' (set here)' : ''}${v.invalidOverride ? ` (${v.invalidOverride})` : ''}`,
      );
    return ctx.out.done({ environment: env.name, variables });
  }
  if (!name || value === undefined) throw usage('vars set <env> <name> <value>');
  const r = await ctx.api.write(
    'PUT',
    '/api/environments/{envId}/variables/{name}',
    'vars-set',
    { path: { envId: env.id, name } },
    { value },
  );
  ctx.out.say(`${env.name}: ${r.name} = ${r.effectiveValue}.`);
  return ctx.out.done({ environment: env.name, variable: r });
}

/**
 * `secrets set <env> <name> --from-stdin` (CLI-13): the value only from stdin (never argv, where
 * `ps` and shell history see it), never echoed or in `--json`.
 */
export async function secrets(ctx: Context): Promise<number> {
  const [sub, envRef, name, extra] = ctx.positionals;
  if (sub !== 'set') throw usage('secrets set <env> <NAME> --from-stdin');
  ctx.out.command = 'secrets set';
  if (extra !== undefined)
    throw usage(
      'A secret value is never an argument (process lists and shell history keep it): pipe it with --from-stdin.',
    );
  if (ctx.flags.get('from-stdin') !== true)
    throw usage('secrets set reads the value from stdin: add --from-stdin and pipe it in.');
  if (!name) throw usage('secrets set <env> <NAME> --from-stdin');
  const project = await ctx.project();
  const env = findEnv(project, envRef);
  if (ctx.stdin.isTTY) ctx.out.say('Reading the value from stdin (end with Ctrl-D)…');
  const value = (await readAll(ctx.stdin, 'The secret')).replace(/\r?\n$/, '');
  if (!value) throw usage('stdin was empty: a secret cannot be empty.');
  const r = await ctx.api.write(
    'PUT',
    '/api/environments/{envId}/secrets/{name}',
    'secrets-set',
    { path: { envId: env.id, name } },
    { value },
  );
  ctx.out.say(`Secret ${r.name} set in ${env.name}.`);
  return ctx.out.done({ environment: env.name, name: r.name, updatedAt: r.updatedAt });
}

/**
 * `runtime-keys create <env> --name N` (CLI-13): the key is shown once — on stdout (or in
 * `result.key` with `--json`), never on stderr.
 */
export async function runtimeKeys(ctx: Context): Promise<number> {
  const [sub, envRef] = ctx.positionals;
  if (sub !== 'create') throw usage('runtime-keys create <env> --name <name>');
  ctx.out.command = 'runtime-keys create';
  const name = str(ctx, 'name');
  if (!name) throw usage('--name <name> is needed (say which runtime uses the key).');
  const project = await ctx.project();
  const env = findEnv(project, envRef);
  const r = await ctx.api.write(
    'POST',
    '/api/environments/{envId}/runtime-keys',
    'runtime-key',
    { path: { envId: env.id } },
    { name },
  );
  ctx.out.say(`Runtime key "${r.name}" created for ${env.name} (shown once, on stdout).`);
  ctx.out.value(r.key);
  return ctx.out.done({ environment: env.name, id: r.id, name: r.name, key: r.key });
}
