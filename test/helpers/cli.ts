import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { bundled } from './bundles.ts';

/** One run of the CLI as CI runs it: a separate process (node on its bundle), env vars, no TTY. */
export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The one JSON object `--json` printed (undefined without `--json`). */
  json: CliJson | undefined;
}

export type CliJson =
  | { ok: true; command: string; result: Record<string, unknown> & { [k: string]: unknown } }
  | {
      ok: false;
      command?: string;
      error: { id: string; message: string; details: unknown };
      exitCode: number;
    };

export interface CliEnv {
  url: string;
  token: string;
  project?: string;
}

/**
 * Spawns `node <this run's bundle of cli/main.ts> …args` (or `$CLI_ENTRY`) with STAGECOACH_* from `target`; `input` is piped to stdin (stdin
 * is a pipe either way: never a terminal). Polls and retries are made fast for tests.
 * `whenSaid: [text, run]` runs `run` once stderr first says `text` (e.g. "waiting": the CLI is
 * waiting, now make what it waits for happen); the run ends after both.
 */
export function cli(
  target: CliEnv,
  args: string[],
  options: {
    input?: string;
    env?: Record<string, string>;
    whenSaid?: [string, () => Promise<unknown>];
  } = {},
): Promise<CliRun> {
  // CLI_ENTRY=dist/cli.js runs the built bundle instead (after `npm run build`).
  const child = spawn(process.execPath, [process.env.CLI_ENTRY ?? bundled('cli'), ...args], {
    cwd: process.cwd(),
    env: {
      PATH: process.env.PATH ?? '',
      STAGECOACH_URL: target.url,
      STAGECOACH_TOKEN: target.token,
      ...(target.project ? { STAGECOACH_PROJECT: target.project } : {}),
      STAGECOACH_POLL_MS: '150',
      STAGECOACH_RETRY_MS: '50',
      ...options.env,
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  let reaction: Promise<unknown> = Promise.resolve();
  child.stderr.on('data', (d: Buffer) => {
    const before = stderr;
    stderr += d.toString();
    const [text, run] = options.whenSaid ?? [];
    if (text && run && !before.includes(text) && stderr.includes(text)) {
      reaction = run();
      reaction.catch(() => undefined); // reported when the process ends
    }
  });
  child.stdin.end(options.input ?? '');
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      void reaction.then(() => finish(code), reject);
    });
    const finish = (code: number | null) => {
      let json: CliJson | undefined;
      if (args.includes('--json')) {
        const lines = stdout.trim().split('\n');
        if (lines.length !== 1)
          return reject(new Error(`--json printed ${lines.length} lines: ${stdout}\n${stderr}`));
        json = JSON.parse(lines[0]!) as CliJson;
      }
      resolve({ code, stdout, stderr, json });
    };
  });
}

/** The `result` of a successful `--json` run (a throw with stderr when it failed). */
export function resultOf<T>(run: CliRun): T {
  if (!run.json?.ok) throw new Error(`the CLI failed (${run.code}): ${run.stderr}`);
  return run.json.result as unknown as T;
}

/**
 * The CLI on a terminal: `script` (util-linux) gives it a pseudo-terminal whose input is `input`;
 * stdout and stderr both come back as `output`. Null where `script` is missing.
 */
export async function cliOnTerminal(
  target: CliEnv,
  args: string[],
  input: string,
): Promise<{ code: number | null; output: string } | null> {
  if (!fs.existsSync('/usr/bin/script')) return null;
  const command = [process.execPath, process.env.CLI_ENTRY ?? bundled('cli'), ...args]
    .map((a) => `'${a.replaceAll("'", "'\\''")}'`)
    .join(' ');
  const child = spawn('/usr/bin/script', ['-qec', command, '/dev/null'], {
    cwd: process.cwd(),
    env: {
      PATH: process.env.PATH ?? '',
      STAGECOACH_URL: target.url,
      STAGECOACH_TOKEN: target.token,
      ...(target.project ? { STAGECOACH_PROJECT: target.project } : {}),
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  // Answer once the question is on the terminal.
  const asked = setInterval(() => {
    if (/Type "yes"/.test(output)) {
      clearInterval(asked);
      child.stdin.write(input);
    }
  }, 50);
  return await new Promise((resolve) => {
    child.once('close', (code) => {
      clearInterval(asked);
      resolve({ code, output });
    });
  });
}
