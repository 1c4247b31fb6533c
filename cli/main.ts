import { parseArgs, type FlagSpec } from './args.ts';
import { findProject, settingsOf, type Context } from './context.ts';
import { CliError } from './errors.ts';
import { EXIT } from './exit-codes.ts';
import { Api } from './http.ts';
import { Output } from './output.ts';
import { status } from './commands/status.ts';
import { history } from './commands/history.ts';
import { webhooks } from './commands/webhooks.ts';
import { diff, publish, rollback, sync, waitCommand } from './commands/releases.ts';
import { checks, requests } from './commands/requests.ts';
import { exportCommand, importCommand, runtimeKeys, secrets, vars } from './commands/local.ts';

/**
 * `stagecoach`: the command line for CI pipelines (CLI-1 … CLI-14). Each command is one file's
 * function; this file reads the arguments, builds the context and turns the outcome into an exit
 * code (cli/exit-codes.ts) and, with `--json`, one object on stdout (cli/output.ts).
 */
const COMMON: Record<string, FlagSpec> = {
  url: { kind: 'value' },
  /** The same as --url, for `checks report`, whose own --url is the check's link. */
  server: { kind: 'value' },
  token: { kind: 'value' },
  project: { kind: 'value' },
  json: { kind: 'boolean' },
  help: { kind: 'boolean', short: 'h' },
  'idempotency-key': { kind: 'value' },
};

interface Command {
  run: (ctx: Context) => Promise<number>;
  flags: Record<string, FlagSpec>;
  usage: string;
}

/** The most positional arguments each command takes: one more is a usage error, never ignored. */
const POSITIONALS: Record<string, number> = {
  status: 0,
  diff: 1,
  sync: 1,
  publish: 0,
  rollback: 1,
  history: 1,
  wait: 1,
  requests: 2,
  checks: 2,
  export: 1,
  import: 1,
  vars: 4,
  secrets: 4,
  webhooks: 3,
  'runtime-keys': 2,
};

const message: FlagSpec = { kind: 'value', short: 'm' };

const COMMANDS: Record<string, Command> = {
  status: { run: status, flags: {}, usage: 'status' },
  diff: {
    run: diff,
    flags: {
      from: { kind: 'value' },
      to: { kind: 'value' },
      'exit-code': { kind: 'boolean' },
      sections: { kind: 'value' },
    },
    usage: 'diff <env> [--from <side>] [--to <side>] [--sections a,b] [--exit-code]',
  },
  sync: {
    run: sync,
    flags: {
      'expect-target': { kind: 'value' },
      'expect-source': { kind: 'value' },
      message,
      'request-approval': { kind: 'boolean' },
      wait: { kind: 'optional' },
      at: { kind: 'value' },
      'confirm-undo-hotfix': { kind: 'boolean' },
      'confirm-missing-secrets': { kind: 'boolean' },
    },
    usage:
      'sync <env> [--expect-target S|none] [--expect-source S] [-m msg] [--request-approval] [--wait[=dur]] [--at time]',
  },
  publish: {
    run: publish,
    flags: {
      'expect-live': { kind: 'value' },
      'expect-source': { kind: 'value' },
      message,
      yes: { kind: 'boolean', short: 'y' },
      'wait-delivered': { kind: 'optional' },
      at: { kind: 'value' },
      'confirm-undo-hotfix': { kind: 'boolean' },
      'confirm-missing-secrets': { kind: 'boolean' },
    },
    usage: 'publish [--expect-live S|none] [-m msg] [--yes] [--wait-delivered[=dur]] [--at time]',
  },
  rollback: {
    run: rollback,
    flags: {
      to: { kind: 'value' },
      pointer: { kind: 'value' },
      message,
      yes: { kind: 'boolean', short: 'y' },
      'confirm-undo-hotfix': { kind: 'boolean' },
    },
    usage: 'rollback <env> --to S [--pointer current|live] [-m msg] [--yes]',
  },
  history: {
    run: history,
    flags: { verify: { kind: 'boolean' }, limit: { kind: 'value' } },
    usage: 'history <env> [--limit N] [--verify]',
  },
  wait: {
    run: waitCommand,
    flags: {
      request: { kind: 'value' },
      snapshot: { kind: 'value' },
      pointer: { kind: 'value' },
      timeout: { kind: 'value' },
    },
    usage:
      'wait --request <id> | wait <env> --snapshot S [--pointer current|live]  [--timeout dur]',
  },
  requests: {
    run: requests,
    flags: { message },
    usage: 'requests list | approve <id> [-m comment] | reject <id> [-m comment]',
  },
  checks: {
    run: checks,
    flags: {
      snapshot: { kind: 'value' },
      name: { kind: 'value' },
      state: { kind: 'value' },
      url: { kind: 'value' },
      summary: { kind: 'value' },
    },
    usage:
      'checks report <env> --name N --state pending|success|failure [--snapshot S] [--url U] [--summary text]',
  },
  export: {
    run: exportCommand,
    flags: {
      out: { kind: 'value', short: 'o' },
      pointer: { kind: 'value' },
      snapshot: { kind: 'value' },
    },
    usage: 'export <env> [--out file] [--pointer live] [--snapshot S]',
  },
  import: {
    run: importCommand,
    flags: { file: { kind: 'value', short: 'f' } },
    usage: 'import [<env>] --file <file|->',
  },
  vars: { run: vars, flags: {}, usage: 'vars get <env> [name] | vars set <env> <name> <value>' },
  secrets: {
    run: secrets,
    flags: { 'from-stdin': { kind: 'boolean' } },
    usage: 'secrets set <env> <NAME> --from-stdin',
  },
  webhooks: {
    run: webhooks,
    flags: {
      url: { kind: 'value' },
      events: { kind: 'value' },
      description: { kind: 'value' },
      limit: { kind: 'value' },
    },
    usage:
      'webhooks list | create --url U [--events a,b] [--description d] | test <id> | deliveries <id> [--limit N] | redeliver <id> <delivery id>',
  },
  'runtime-keys': {
    run: runtimeKeys,
    flags: { name: { kind: 'value' } },
    usage: 'runtime-keys create <env> --name <name>',
  },
};

const HELP = `stagecoach — drive a Stagecoach pipeline from CI

Environment: STAGECOACH_URL, STAGECOACH_TOKEN (an API token), STAGECOACH_PROJECT (id or name);
--url, --token, --project override them. --json: one JSON object on stdout.

Commands:
${Object.values(COMMANDS)
  .map((c) => `  stagecoach ${c.usage}`)
  .join('\n')}

Exit codes: 0 ok · 1 server fault · 2 usage · 3 not authenticated · 4 not permitted · 5 not found ·
6 state moved · 7 pending (approval, checks) · 8 blocked · 9 nothing to do · 10 wait timed out ·
11 retryable (network, 429, 503)
`;

export interface Io {
  argv: string[];
  env: Record<string, string | undefined>;
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

export async function run(io: Io): Promise<number> {
  const json = io.argv.includes('--json');
  const out = new Output(json, io.stdout, io.stderr);
  const [name, ...rest] = io.argv;
  try {
    if (!name || name === '--help' || name === '-h' || name === 'help') {
      io.stderr.write(HELP);
      return name ? EXIT.ok : EXIT.usage;
    }
    const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
    if (!command) {
      if (name !== '--json') out.command = name;
      throw new CliError('usage', `Unknown command "${name}". Run stagecoach --help.`);
    }
    out.command = name;
    const { positionals, flags } = parseArgs(rest, { ...COMMON, ...command.flags });
    const extra = positionals[POSITIONALS[name] ?? Infinity];
    if (extra !== undefined)
      throw new CliError(
        'usage',
        `Unexpected argument "${extra}"${/^\d/.test(extra) ? ' (a duration goes after an =, e.g. --wait=10m)' : ''}. Usage: stagecoach ${command.usage}`,
      );
    if (flags.get('help') === true) {
      io.stderr.write(`stagecoach ${command.usage}\n`);
      return EXIT.ok;
    }
    // `checks report --url` is the check's link (the issue's flag): the server then comes from
    // STAGECOACH_URL or --server.
    const settings = settingsOf(flags, io.env, Object.hasOwn(command.flags, 'url'));
    const idem = flags.get('idempotency-key');
    const api = new Api({
      url: settings.url,
      token: settings.token,
      keyPrefix: typeof idem === 'string' ? idem : undefined,
      say: (line) => out.say(line),
      backoffMs: Number(io.env.STAGECOACH_RETRY_MS) || undefined,
    });
    let project: ReturnType<Context['project']> | undefined;
    const ctx: Context = {
      api,
      out,
      flags,
      positionals,
      stdin: io.stdin,
      project: () => (project ??= findProject(api, settings.project)),
    };
    return await command.run(ctx);
  } catch (e) {
    if (e instanceof CliError) return out.fail(e);
    return out.fail(
      new CliError(
        'server_fault',
        `Unexpected failure: ${e instanceof Error ? e.message : String(e)}`,
        null,
        EXIT.server_fault,
      ),
    );
  }
}

// Run when started as a program (node cli/main.ts, dist/cli.js), not when imported by a test.
const started = process.argv[1] ?? '';
if (/(^|[/\\])(main\.ts|cli\.js|stagecoach)$/.test(started)) {
  const code = await run({
    argv: process.argv.slice(2),
    env: process.env,
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
  });
  process.exitCode = code;
}
