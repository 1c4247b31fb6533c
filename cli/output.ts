import { type CliError } from './errors.ts';
import { EXIT, type ExitCode } from './exit-codes.ts';

/**
 * Where the CLI speaks (CLI-2): human text always on stderr; stdout holds either the ONE JSON
 * object of `--json`, or (without it) only a value a pipeline captures (an export file, a runtime
 * key shown once), never prose.
 */
export class Output {
  command = '';
  readonly json: boolean;
  readonly #err: NodeJS.WritableStream;
  readonly #out: NodeJS.WritableStream;

  constructor(json: boolean, out: NodeJS.WritableStream, err: NodeJS.WritableStream) {
    this.json = json;
    this.#out = out;
    this.#err = err;
  }

  /** A line for people (stderr). */
  say(line: string): void {
    this.#err.write(`${line}\n`);
  }

  /** A value for the pipeline: on stdout without `--json` (with it, it is part of `result`). */
  value(text: string): void {
    if (!this.json) this.#out.write(text.endsWith('\n') ? text : `${text}\n`);
  }

  /** The end of a command that did what was asked: exit 0 (or `code`, e.g. 9 nothing to do). */
  done(result: unknown, code: ExitCode = EXIT.ok): ExitCode {
    if (this.json)
      this.#out.write(`${JSON.stringify({ ok: true, command: this.command, result })}\n`);
    return code;
  }

  /** The end of a command that failed: the message on stderr, the error object with `--json`. */
  fail(error: CliError): ExitCode {
    this.say(`error: ${error.message}${error.id === 'usage' ? '' : ` (${error.id})`}`);
    for (const line of detailLines(error.details)) this.say(`  ${line}`);
    if (this.json)
      this.#out.write(
        `${JSON.stringify({
          ok: false,
          command: this.command || undefined,
          error: { id: error.id, message: error.message, details: error.details },
          exitCode: error.exitCode,
        })}\n`,
      );
    return error.exitCode;
  }
}

/** A few readable lines from an error's details (checks, missing names, problems); bounded. */
function detailLines(details: unknown): string[] {
  if (!details || typeof details !== 'object') return [];
  const d = details as Record<string, unknown>;
  const lines: string[] = [];
  if (Array.isArray(d.checks))
    for (const c of d.checks as { name: string; state: string }[])
      lines.push(`check ${c.name}: ${c.state}`);
  if (Array.isArray(d.missing)) lines.push(`missing: ${(d.missing as unknown[]).join(', ')}`);
  if (Array.isArray(details))
    for (const p of (details as { message?: string; path?: string }[]).slice(0, 10))
      if (p && typeof p === 'object' && p.message)
        lines.push(p.path ? `${p.path}: ${p.message}` : p.message);
  return lines.slice(0, 20);
}
