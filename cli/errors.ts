import { exitCodeOf, type ExitCode } from './exit-codes.ts';

/** A failure the CLI reports: an error id (the server's or the CLI's own), words, details, exit code. */
export class CliError extends Error {
  readonly id: string;
  readonly details: unknown;
  readonly exitCode: ExitCode;
  /** The server replayed this refusal for a key used before (Idempotent-Replayed): nothing ran. */
  replayed = false;

  constructor(
    id: string,
    message: string,
    details?: unknown,
    exitCode?: ExitCode,
    status?: number,
  ) {
    super(message);
    this.name = 'CliError';
    this.id = id;
    this.details = details ?? null;
    this.exitCode = exitCode ?? exitCodeOf(id, status);
  }
}

export const usage = (message: string): CliError => new CliError('usage', message);
