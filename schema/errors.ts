/**
 * The one error vocabulary. The server throws `AppError(id)`; HTTP answers carry
 * `{ error: { id, message, details? } }` with the status below; websocket closes use the
 * close code below. The web shows messages by id.
 */
export const ERRORS = {
  invalid_body: { status: 400, message: 'The request body is not valid.' },
  invalid_json: { status: 400, message: 'The request body is not valid JSON.' },
  body_too_large: { status: 413, message: 'The request body is too large.' },
  unauthenticated: { status: 401, message: 'Sign in, or send a valid API token.' },
  invalid_credentials: { status: 401, message: 'Wrong email or password.' },
  forbidden: { status: 403, message: 'You may not do this here.' },
  bad_origin: { status: 403, message: 'This request came from another site and was refused.' },
  not_found: { status: 404, message: 'Nothing here.' },
  project_not_found: { status: 404, message: 'No such project.' },
  environment_not_found: { status: 404, message: 'No such environment.' },
  draft_not_found: { status: 404, message: 'No such draft.' },
  invalid_workspace: { status: 422, message: 'This is not a valid workspace: nothing was changed.' },
  read_only_environment: { status: 409, message: 'This environment is read-only: its content arrives by Sync.' },
  setup_done: { status: 409, message: 'Stagecoach is already set up: sign in instead.' },
  email_taken: { status: 409, message: 'An account with this email already exists.' },
  internal: { status: 500, message: 'Something went wrong on the server. Try again.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorId = keyof typeof ERRORS;

/** Close codes of the collab websocket (4000–4999 are ours; 1009 is the standard "too big"). */
export const CLOSE = {
  /** A frame larger than the configured limit; nothing of it was applied. */
  frame_too_large: 1009,
  /** A frame that is not a well-formed y-websocket message; nothing of it was applied. */
  malformed_message: 4400,
  /** The connection may read but sent a change; the change was refused whole. */
  read_only: 4403,
  /** The document could not be stored; the client should reconnect later. */
  storage_failed: 4500,
  /** The server is shutting down; reconnect. */
  shutting_down: 4503,
} as const;

export type CloseReason = keyof typeof CLOSE;

export class AppError extends Error {
  readonly id: ErrorId;
  readonly status: number;
  readonly details: unknown;

  constructor(id: ErrorId, message?: string, details?: unknown) {
    super(message ?? ERRORS[id].message);
    this.name = 'AppError';
    this.id = id;
    this.status = ERRORS[id].status;
    this.details = details;
  }
}

export interface ErrorBody {
  error: { id: ErrorId; message: string; details?: unknown };
}
