import type { ProjectView, EnvironmentView } from '../schema/api.ts';
import { type Api } from './http.ts';
import { CliError, usage } from './errors.ts';
import type { Output } from './output.ts';

/**
 * What every command gets: the API client, the output, its flags, and the project it works on
 * (CLI-1: `--url/--token/--project` over STAGECOACH_URL/TOKEN/PROJECT).
 */
export interface Context {
  api: Api;
  out: Output;
  flags: Map<string, string | true>;
  positionals: string[];
  /** Standard input (for `--from-stdin`, `import -`) and whether it is a terminal. */
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  project(): Promise<ProjectView>;
}

export interface Settings {
  url: string;
  token: string;
  project: string | undefined;
}

/** Flags win over the environment; a missing URL or token is a usage error (2). */
export function settingsOf(
  flags: Map<string, string | true>,
  env: Record<string, string | undefined>,
  urlIsTheCommands = false,
): Settings {
  const pick = (flag: string, name: string) => {
    const f = flags.get(flag);
    if (f === true) throw usage(`--${flag} needs a value.`);
    return f ?? (env[name] || undefined);
  };
  const url = flags.has('server')
    ? pick('server', 'STAGECOACH_URL')
    : pick(urlIsTheCommands ? 'server' : 'url', 'STAGECOACH_URL');
  const token = pick('token', 'STAGECOACH_TOKEN');
  if (!url) throw usage('Say which server: set STAGECOACH_URL (or --url).');
  if (!/^https?:\/\//i.test(url))
    throw usage(`STAGECOACH_URL must be an http(s) URL, not "${url}".`);
  if (!token) throw usage('Set STAGECOACH_TOKEN to an API token (or pass --token).');
  const host = new URL(url).hostname;
  if (/^http:/i.test(url) && !['localhost', '127.0.0.1', '[::1]'].includes(host))
    process.stderr.write(`warning: ${url} is plain http: the API token travels unencrypted.\n`);
  return { url, token, project: pick('project', 'STAGECOACH_PROJECT') };
}

const fold = (s: string) => s.normalize('NFKC').toLowerCase().trim();

/**
 * The project by id, else by name ignoring case (CLI-1); two projects of that name are a usage
 * error naming their ids, so a pipeline pins the id.
 */
export async function findProject(api: Api, ref: string | undefined): Promise<ProjectView> {
  const { projects } = await api.get('/api/projects');
  if (!ref) {
    if (projects.length === 1) return projects[0]!;
    throw usage(
      projects.length
        ? `Say which project: set STAGECOACH_PROJECT (or --project) to one of: ${projects.map((p) => p.name).join(', ')}.`
        : 'Set STAGECOACH_PROJECT (or --project): this token sees no project.',
    );
  }
  const byId = projects.find((p) => p.id === ref);
  if (byId) return byId;
  const named = projects.filter((p) => fold(p.name) === fold(ref));
  if (named.length === 1) return named[0]!;
  if (named.length > 1)
    throw new CliError(
      'ambiguous',
      `${named.length} projects are named "${ref}": set STAGECOACH_PROJECT to the id of one.`,
      { ids: named.map((p) => p.id) },
    );
  throw new CliError('project_not_found', `No project "${ref}" that this token may see.`);
}

/** An environment by id or by name ignoring case (CLI-4). */
export function findEnv(
  project: ProjectView,
  ref: string | undefined,
  what = 'environment',
): EnvironmentView {
  if (!ref) throw usage(`Name the ${what} (one of: ${names(project)}).`);
  const env =
    project.environments.find((e) => e.id === ref) ??
    project.environments.find((e) => fold(e.name) === fold(ref));
  if (!env)
    throw new CliError(
      'environment_not_found',
      `No environment "${ref}" in ${project.name} (its stages: ${names(project)}).`,
    );
  return env;
}

const names = (p: ProjectView) => p.environments.map((e) => e.name).join(', ');

export const ordered = (p: ProjectView) =>
  [...p.environments].sort((a, b) => a.position - b.position);
export const productionOf = (p: ProjectView) => ordered(p).at(-1)!;
export const authoringOf = (p: ProjectView) => ordered(p)[0]!;
export const isProductionEnv = (p: ProjectView, e: EnvironmentView) => productionOf(p).id === e.id;
/** The stage just before `e` (what a Sync into `e` comes from), or null for the authoring one. */
export function previousOf(p: ProjectView, e: EnvironmentView): EnvironmentView | null {
  const list = ordered(p);
  const i = list.findIndex((x) => x.id === e.id);
  return i > 0 ? list[i - 1]! : null;
}

export const board = (ctx: Context, project: ProjectView) =>
  ctx.api.get('/api/projects/{id}/board', { path: { id: project.id } });

export const short = (id: string | null | undefined) => (id ? `#${id.slice(0, 8)}` : 'none');

const HEX64 = /^[0-9a-f]{64}$/;

/**
 * A snapshot the caller names (a full id, or a prefix of at least 6 hex characters as `status`
 * shows them, with or without `#`) matched against the ids it could mean.
 */
export function snapshotRef(text: string, flag: string): string {
  const s = text.trim().replace(/^#/, '').toLowerCase();
  if (!/^[0-9a-f]{6,64}$/.test(s))
    throw usage(
      `--${flag}: "${text}" is not a snapshot id (64 hex characters, or a prefix of 6 or more).`,
    );
  return s;
}

export const isFullId = (s: string) => HEX64.test(s);

/** Resolves a prefix among known ids; a full id passes as it is. Null when nothing matches. */
export function resolvePrefix(ref: string, known: (string | null | undefined)[]): string | null {
  if (isFullId(ref)) return ref;
  const hits = [...new Set(known.filter((k): k is string => !!k && k.startsWith(ref)))];
  if (hits.length > 1)
    throw new CliError(
      'ambiguous',
      `Snapshot prefix ${ref} matches ${hits.length} snapshots: give more characters.`,
      {
        matches: hits,
      },
    );
  return hits[0] ?? null;
}

/**
 * Whether a production move may run (CLI-5): `--yes`, or a person answering "yes" on a terminal.
 * Without a terminal and without `--yes`: exit 2, nothing sent.
 */
export async function confirmProduction(ctx: Context, what: string): Promise<void> {
  if (ctx.flags.get('yes') === true) return;
  if (!ctx.stdin.isTTY)
    throw new CliError(
      'needs_yes',
      `${what} changes what production serves: pass --yes to confirm (stdin is not a terminal, so nobody can be asked).`,
    );
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: ctx.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`${what}. Type "yes" to go ahead: `);
    if (answer.trim().toLowerCase() !== 'yes')
      throw new CliError('needs_yes', 'Not confirmed: nothing was sent.');
  } finally {
    rl.close();
  }
}

/** A flag's string value (undefined when absent); `true` (no value) is a usage error. */
export function str(ctx: Context, flag: string): string | undefined {
  const v = ctx.flags.get(flag);
  if (v === true) throw usage(`--${flag} needs a value.`);
  return v;
}
