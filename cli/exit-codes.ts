import type { ErrorId } from '../schema/errors.ts';

/**
 * The CLI's exit codes (CLI-3): one number per kind of outcome, so a pipeline can branch on them.
 * 1 is a server fault, never "differences" (see `diff --exit-code`, CLI-6).
 */
export const EXIT = {
  ok: 0,
  server_fault: 1,
  usage: 2,
  unauthenticated: 3,
  forbidden: 4,
  not_found: 5,
  state_moved: 6,
  pending: 7,
  blocked: 8,
  nothing_to_do: 9,
  timed_out: 10,
  retryable: 11,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/**
 * Every server error id and its exit code (CLI-3). A `Record<ErrorId, …>`: a new id in
 * schema/errors.ts fails the type check until it is placed here (and the CLI-3 test too).
 */
export const ERROR_EXIT: Record<ErrorId, ExitCode> = {
  invalid_body: EXIT.usage,
  invalid_json: EXIT.usage,
  body_too_large: EXIT.usage,
  unauthenticated: EXIT.unauthenticated,
  invalid_credentials: EXIT.unauthenticated,
  forbidden: EXIT.forbidden,
  bad_origin: EXIT.forbidden,
  not_found: EXIT.not_found,
  project_not_found: EXIT.not_found,
  environment_not_found: EXIT.not_found,
  draft_not_found: EXIT.not_found,
  invalid_workspace: EXIT.usage,
  read_only_environment: EXIT.usage,
  draft_has_problems: EXIT.blocked,
  nothing_to_sync: EXIT.nothing_to_do,
  nothing_to_publish: EXIT.nothing_to_do,
  no_next_environment: EXIT.usage,
  not_production: EXIT.usage,
  target_moved: EXIT.state_moved,
  source_moved: EXIT.state_moved,
  not_in_history: EXIT.not_found,
  would_undo_hotfix: EXIT.state_moved,
  hotfix_open: EXIT.blocked,
  no_hotfix: EXIT.nothing_to_do,
  nothing_live: EXIT.nothing_to_do,
  snapshot_not_found: EXIT.not_found,
  snapshot_corrupt: EXIT.server_fault,
  variable_not_found: EXIT.not_found,
  invalid_value: EXIT.usage,
  draft_closed: EXIT.state_moved,
  not_a_member: EXIT.not_found,
  user_not_found: EXIT.not_found,
  invitation_invalid: EXIT.not_found,
  approval_required: EXIT.pending,
  approval_voided: EXIT.state_moved,
  self_approval: EXIT.forbidden,
  request_closed: EXIT.state_moved,
  share_link_expired: EXIT.not_found,
  authoring_not_shareable: EXIT.usage,
  share_link_revoked: EXIT.not_found,
  too_many_attempts: EXIT.retryable,
  setup_done: EXIT.usage,
  email_taken: EXIT.usage,
  section_read_only: EXIT.usage,
  audience_not_found: EXIT.not_found,
  audience_exists: EXIT.usage,
  audience_missing: EXIT.blocked,
  storage_unavailable: EXIT.retryable,
  internal: EXIT.server_fault,
  unsupported_media_type: EXIT.usage,
  weak_password: EXIT.usage,
  too_many_connections: EXIT.retryable,
  rate_limited: EXIT.retryable,
  limit_reached: EXIT.blocked,
  audience_in_use: EXIT.blocked,
  reset_link_invalid: EXIT.not_found,
  live_moved: EXIT.state_moved,
  rules_moved: EXIT.state_moved,
  secrets_missing: EXIT.blocked,
  pull_overwrites_newer: EXIT.state_moved,
  checks_failed: EXIT.blocked,
  checks_pending: EXIT.pending,
  invalid_idempotency_key: EXIT.usage,
  idempotency_key_reused: EXIT.usage,
  idempotency_in_progress: EXIT.retryable,
  idempotency_unavailable: EXIT.state_moved,
  frozen: EXIT.blocked,
  scheduled_not_found: EXIT.not_found,
  too_many_scheduled: EXIT.blocked,
  chain_not_readable: EXIT.forbidden,
  webhook_not_found: EXIT.not_found,
  webhook_delivery_not_found: EXIT.not_found,
  webhook_url_not_allowed: EXIT.usage,
  too_many_webhooks: EXIT.blocked,
  too_many_webhook_deliveries: EXIT.retryable,
  draft_elsewhere: EXIT.retryable,
};

/**
 * Outcomes the CLI itself names (no server error id): how they are spelled in `--json` and which
 * code they exit with.
 */
export const CLI_ERRORS = {
  usage: EXIT.usage,
  network: EXIT.retryable,
  server_fault: EXIT.server_fault,
  needs_yes: EXIT.usage,
  ambiguous: EXIT.usage,
  wait_timeout: EXIT.timed_out,
  approval_pending: EXIT.pending,
  request_rejected: EXIT.blocked,
  request_closed_elsewhere: EXIT.state_moved,
  history_broken: EXIT.state_moved,
} as const;

export type CliErrorId = keyof typeof CLI_ERRORS;

/** The exit code of an error id, the server's or the CLI's; an unknown one by its HTTP status. */
export function exitCodeOf(id: string, status?: number): ExitCode {
  if (Object.hasOwn(ERROR_EXIT, id)) return ERROR_EXIT[id as ErrorId];
  if (Object.hasOwn(CLI_ERRORS, id)) return CLI_ERRORS[id as CliErrorId];
  if (status === undefined) return EXIT.server_fault;
  if (status === 401) return EXIT.unauthenticated;
  if (status === 403) return EXIT.forbidden;
  if (status === 404) return EXIT.not_found;
  if (status === 429 || status === 503) return EXIT.retryable;
  if (status >= 500) return EXIT.server_fault;
  return EXIT.usage;
}
