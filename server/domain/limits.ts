import { AppError } from '#schema/errors.ts';
import { windowRetryAfter } from '../lib/rates.ts';

/**
 * Bounds on what a user can multiply that have no configuration key: each is far above honest
 * use and low enough that a hostile holder of the weakest role that creates it cannot grow the
 * database or an answer without limit. The configurable ones live in server/config.ts; both
 * kinds are listed, with why, in docs/security/limits.md.
 */
export const LIMITS = {
  /** Feedback posts kept per share link (the poster is anonymous; each post is at most ~2.2 KB). */
  MAX_FEEDBACK_PER_LINK: 1000,
  /** The team's replies kept per feedback post (each at most 2,000 characters). */
  MAX_REPLIES_PER_FEEDBACK: 20,
  /** Feedback posts the environment's Feedback tab lists at once (newest first, per status). */
  FEEDBACK_LISTED: 500,
  /** Feedback posts a share page lists (that link's, newest first). */
  FEEDBACK_LISTED_PER_LINK: 300,
  /** Runtime keys per environment (an environment admin creates them). */
  MAX_RUNTIME_KEYS_PER_ENVIRONMENT: 50,
  /**
   * Audiences per environment (an environment admin creates them; each holds up to ~200 KB of
   * rules: 20 rules × 100 values × 100 characters).
   */
  MAX_AUDIENCES_PER_ENVIRONMENT: 200,
  /** Unused, unexpired invitations into one project (a project admin creates them). */
  MAX_PENDING_INVITATIONS_PER_PROJECT: 200,
  /** Personal API tokens per user (any signed-in user creates them). */
  MAX_API_TOKENS_PER_USER: 100,
  /** Approval requests out of one environment per hour: each one from the authoring stage freezes a snapshot. */
  APPROVAL_REQUESTS_PER_ENVIRONMENT_PER_HOUR: 60,
  /**
   * Invitations into one project per day: each accepted one is a new account, and used ones no
   * longer count as open.
   */
  INVITATIONS_PER_PROJECT_PER_DAY: 200,
  /** Hotfixes started per production environment per day: each start copies the live content into a new draft. */
  HOTFIXES_PER_ENVIRONMENT_PER_DAY: 20,
  /**
   * Sessions kept per user: signing in again past this ends the oldest (never refused: the owner
   * must always get in).
   */
  MAX_SESSIONS_PER_USER: 50,
  /** Check names reported per (environment, snapshot): a CI job reports a few; each row is ~3 KB at most. */
  MAX_CHECKS_PER_SNAPSHOT: 50,
  /** Check reports per environment per minute (in memory): a retrying or looping CI job cannot flood the table. */
  CHECK_REPORTS_PER_ENVIRONMENT_PER_MINUTE: 120,
  /**
   * Idempotency keys one person stores in 24 hours (IDEM-8): each keeps one answer of at most
   * 64 KB for a day; a CI step sends one per mutating call.
   */
  IDEMPOTENCY_KEYS_PER_USER_PER_DAY: 1000,
} as const;

/** Refuses (409 limit_reached, details `{limit, max}`) to add one more when `count` already reached `max`. */
export function requireBelow(limit: string, max: number, count: number, message: string): void {
  if (count >= max) throw new AppError('limit_reached', message, { limit, max });
}

/**
 * Refuses (429 rate_limited) an action that already happened `max` times in the window; the
 * answer's Retry-After (from details.retryAfter, seconds) is when the oldest one leaves it.
 */
export function requireRate(
  limit: string,
  max: number,
  times: readonly number[],
  windowMs: number,
  now: number,
  message: string,
): void {
  const retryAfter = windowRetryAfter(times, max, windowMs, now);
  if (retryAfter > 0) throw new AppError('rate_limited', message, { limit, max, retryAfter });
}
