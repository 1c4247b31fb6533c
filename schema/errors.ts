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
  invalid_workspace: {
    status: 422,
    message: 'This is not a valid workspace: nothing was changed.',
  },
  read_only_environment: {
    status: 409,
    message: 'This environment is read-only: its content arrives by Sync.',
  },
  draft_has_problems: {
    status: 422,
    message: 'The draft has problems: fix them before it can leave this environment.',
  },
  nothing_to_sync: { status: 409, message: 'There is no snapshot here to sync yet.' },
  nothing_to_publish: { status: 409, message: 'Nothing has been synced to production yet.' },
  no_next_environment: {
    status: 409,
    message: 'This is the last environment: use Publish instead.',
  },
  not_production: {
    status: 409,
    message: 'Only production publishes, hotfixes and has a live pointer.',
  },
  target_moved: {
    status: 409,
    message: 'The target environment moved since you looked: reload and try again.',
  },
  source_moved: {
    status: 409,
    message: 'The source environment moved while syncing: reload and try again.',
  },
  not_in_history: {
    status: 409,
    message:
      'That snapshot was never here: rollback only goes back in this environment’s own history.',
  },
  would_undo_hotfix: {
    status: 409,
    message:
      'This would undo a hotfix in production. Confirm to go ahead, or apply the hotfix to DEV first.',
  },
  hotfix_open: {
    status: 409,
    message: 'A hotfix is already open in production: publish or discard it first.',
  },
  no_hotfix: { status: 409, message: 'There is no open hotfix.' },
  nothing_live: { status: 409, message: 'Nothing is live in production yet: publish first.' },
  snapshot_not_found: { status: 404, message: 'No such snapshot.' },
  snapshot_corrupt: {
    status: 500,
    message: 'A stored snapshot does not match its id: it was altered outside Stagecoach.',
  },
  variable_not_found: {
    status: 404,
    message: 'No variable with this name in this environment’s content.',
  },
  invalid_value: { status: 400, message: 'This value does not fit the variable’s type.' },
  draft_closed: { status: 410, message: 'This draft is closed (a published or discarded hotfix).' },
  not_a_member: { status: 404, message: 'No such project (or you are not a member of it).' },
  user_not_found: { status: 404, message: 'No such user.' },
  invitation_invalid: {
    status: 410,
    message:
      'This invitation link has expired, was revoked or was already used. Ask for a new one.',
  },
  approval_required: {
    status: 409,
    message: 'This Sync needs approval first: request it, and have an approver approve it.',
  },
  approval_voided: {
    status: 409,
    message: 'The approval no longer holds: the source moved since it was given. Request again.',
  },
  self_approval: {
    status: 403,
    message: 'You cannot approve your own request here: another approver must.',
  },
  request_closed: { status: 409, message: 'This request is no longer open.' },
  share_link_expired: {
    status: 410,
    message: 'This link has expired. Ask the team for a new one.',
  },
  authoring_not_shareable: {
    status: 409,
    message:
      'The authoring environment is a live draft, not a snapshot: share a later stage (stakeholders review in UAT), after a Sync.',
  },
  share_link_revoked: {
    status: 410,
    message: 'This link was revoked. Ask the team for a new one.',
  },
  too_many_attempts: {
    status: 429,
    message: 'Too many failed sign-in attempts. Wait a few minutes and try again.',
  },
  setup_done: { status: 409, message: 'Stagecoach is already set up: sign in instead.' },
  email_taken: { status: 409, message: 'An account with this email already exists.' },
  section_read_only: {
    status: 409,
    message:
      'Part of this change is in a section that is read-only here (it flows down from another environment).',
  },
  audience_not_found: { status: 404, message: 'There is no such audience in this environment.' },
  audience_exists: {
    status: 409,
    message: 'This environment already has an audience with that name.',
  },
  audience_missing: {
    status: 409,
    message:
      'The content refers to audiences this environment does not have: create them there (same names), then try again.',
  },
  storage_unavailable: {
    status: 503,
    message:
      'The server cannot write to its database right now (locked or full). Nothing was changed: try again in a moment.',
  },
  internal: { status: 500, message: 'Something went wrong on the server. Try again.' },
  unsupported_media_type: {
    status: 415,
    message: 'Send JSON: this route accepts only Content-Type: application/json.',
  },
  weak_password: {
    status: 400,
    message: 'This password is too easy to guess: choose a longer one, or a few unrelated words.',
  },
  too_many_connections: {
    status: 429,
    message: 'Too many open connections: close some tabs or wait, then try again.',
  },
  rate_limited: { status: 429, message: 'Too many requests: wait a moment and try again.' },
  limit_reached: {
    status: 409,
    message:
      'A limit of this server was reached: remove something first, or ask an admin to raise the limit.',
  },
  audience_in_use: {
    status: 409,
    message:
      'This audience is still named by the content of this environment: change that content first.',
  },
  reset_link_invalid: {
    status: 410,
    message:
      'This password-reset link has expired or was already used. Ask an admin for a new one.',
  },
  live_moved: {
    status: 409,
    message:
      'Production went live with something else since this hotfix started: rebase the hotfix onto what is live now, or discard it.',
  },
  rules_moved: {
    status: 409,
    message: 'The flow rules changed since you looked: reload and try again.',
  },
  secrets_missing: {
    status: 409,
    message:
      'The content names secrets this environment does not have: add them first, or confirm going ahead without them.',
  },
  pull_overwrites_newer: {
    status: 409,
    message:
      'The target changed these items after the source did: pulling would overwrite newer content. Review the diff and confirm the overwrite.',
  },
  checks_failed: {
    status: 409,
    message:
      'A required check failed for this exact snapshot: nothing moved. Fix it and report the check again.',
  },
  checks_pending: {
    status: 409,
    message:
      'Required checks have not passed yet for this exact snapshot: nothing moved. Wait for them to report success.',
  },
  invalid_idempotency_key: {
    status: 400,
    message: 'The Idempotency-Key header must be 1 to 255 printable ASCII characters.',
  },
  idempotency_key_reused: {
    status: 422,
    message:
      'This Idempotency-Key was already used for a different request (method, path or body): use a new key for a new request.',
  },
  idempotency_in_progress: {
    status: 409,
    message:
      'A request with this Idempotency-Key is still running: wait a moment, then retry to get its answer.',
  },
  idempotency_unavailable: {
    status: 409,
    message:
      'A request with this Idempotency-Key already ran, but its answer is not kept (it held a secret shown once, or was too large): nothing ran again. Check the result, then use a new key if needed.',
  },
  frozen: {
    status: 409,
    message:
      'This environment is in a freeze window: nothing moved. Wait until it ends, or (a hotfix) override the freeze.',
  },
  scheduled_not_found: { status: 404, message: 'No such scheduled release.' },
  too_many_scheduled: {
    status: 409,
    message:
      'This environment already has as many scheduled releases as it may hold: cancel one first.',
  },
  chain_not_readable: {
    status: 403,
    message:
      'The release history names what moved in every environment: only members who may read every environment may read it.',
  },
  webhook_not_found: { status: 404, message: 'No such webhook.' },
  webhook_delivery_not_found: { status: 404, message: 'No such webhook delivery.' },
  webhook_url_not_allowed: {
    status: 422,
    message:
      'Webhooks only go to https URLs at public addresses (not loopback, private or link-local ones).',
  },
  too_many_webhooks: {
    status: 409,
    message: 'This project already has as many webhooks as it may hold: delete one first.',
  },
  too_many_webhook_deliveries: {
    status: 409,
    message:
      'This webhook already has as many deliveries waiting as it may hold: let them go out (or fix the receiver) first.',
  },
  draft_elsewhere: {
    status: 503,
    message:
      'Another server process holds this draft right now and this one cannot reach it yet. Nothing was changed: try again in a moment.',
  },
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
  /** The person's rights changed (role changed or removed): reconnect to get the new ones. */
  rights_changed: 4401,
  /** The draft was closed (a hotfix published or discarded); do not reconnect. */
  draft_closed: 4410,
  /** The server is shutting down; reconnect. */
  shutting_down: 4503,
  /** The sign-in behind the connection ended (sign-out, expiry, token revoked, user removed). */
  session_ended: 4401,
  /** A presence (awareness) state larger than COLLAB_MAX_PRESENCE_BYTES; nothing of it was applied. */
  presence_too_large: 4413,
  /**
   * A presence change for a client id this connection did not introduce, or more client ids than
   * one connection may hold.
   */
  presence_refused: 4406,
  /**
   * The person is over a budget of theirs: refused updates that each cost a copy of the draft, or
   * bytes of unfinished frames; reconnect in a moment.
   */
  too_many_messages: 4420,
  /** The client did not read what the server sent: its unsent data passed the bound and was freed. */
  too_slow: 4429,
  /**
   * An update whose shape does not fit the content spec (unknown top-level type, too deep, wrong
   * Yjs type); refused whole.
   */
  invalid_shape: 4422,
  /** An update that depends on changes the server does not have (pending structs or deletes); refused whole. */
  incomplete_update: 4424,
  /** An update that would grow the draft past COLLAB_MAX_DRAFT_BYTES; refused whole. */
  draft_too_large: 4507,
  /**
   * Another process took over the draft (PG-73): this one may no longer write it, and nothing it
   * could not store was shown to anyone. Reconnect to reach the new owner (outside 44xx, which
   * y-websocket clients do not retry).
   */
  owner_moved: 4502,
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
