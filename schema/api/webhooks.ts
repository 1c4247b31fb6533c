import { z } from 'zod';

/**
 * Signed webhooks (Standard Webhooks): what a project's endpoints may subscribe to, the body of
 * every delivery, and the answers of `/api/projects/:id/webhooks` and `/api/webhooks/:id/…`.
 */
export const WEBHOOK_EVENTS = [
  'snapshot.created',
  'environment.synced',
  'environment.published',
  'environment.rolled_back',
  'approval.requested',
  'approval.approved',
  'approval.rejected',
  'approval.voided',
  'hotfix.opened',
  'hotfix.published',
  'hotfix.applied_to_dev',
  'overlay.changed',
  'check.requested',
  'release.scheduled',
  'release.schedule_failed',
  'feedback.created',
  'webhook.test',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENTS)[number];

/**
 * What a delivery says happened: thin (ids, names, a link), never content and never a secret value.
 * Fields that do not apply to the event are absent.
 */
export const WebhookData = z.object({
  projectId: z.string(),
  projectName: z.string(),
  environmentId: z.string().optional(),
  environmentName: z.string().optional(),
  /** What the environment points at after the change (the new snapshot for snapshot.created). */
  snapshotId: z.string().optional(),
  /** What it pointed at before (null: nothing yet). */
  previousSnapshotId: z.string().nullable().optional(),
  /** The environment's release sequence number: how many release records it has, this one included. */
  releaseSeq: z.number().int().optional(),
  /** The release record's hash in the project's chain: an outside system can prove it saw an unbroken chain. */
  recordHash: z.string().optional(),
  /** Who did it; null for the scheduler. */
  actor: z.object({ id: z.string(), name: z.string() }).nullable().optional(),
  /** The reason or message given with the change. */
  message: z.string().nullable().optional(),
  /** Approval requests, checks, scheduled releases, feedback: the id of the thing itself. */
  requestId: z.string().optional(),
  checkNames: z.array(z.string()).optional(),
  scheduledId: z.string().optional(),
  feedbackId: z.string().optional(),
  /** release.schedule_failed: the error id that refused it. */
  errorId: z.string().optional(),
  /** The page in the app that shows it. */
  url: z.string(),
});
export type WebhookData = z.infer<typeof WebhookData>;

/** The JSON body of every delivery (the Standard Webhooks payload shape). */
export const WebhookPayload = z.object({
  type: z.enum(WEBHOOK_EVENTS),
  /** ISO 8601, when the change happened. */
  timestamp: z.string(),
  data: WebhookData,
});
export type WebhookPayload = z.infer<typeof WebhookPayload>;

/** Why an endpoint stopped receiving: its receiver answered 410, it failed for days, or an admin paused it. */
export type WebhookDisabledReason = 'gone' | 'failing' | 'manual';

export interface WebhookView {
  id: string;
  projectId: string;
  url: string;
  description: string;
  /** Subscribed events; `['*']` is every event. */
  events: string[];
  enabled: boolean;
  disabledReason: WebhookDisabledReason | null;
  createdAt: string;
  /** Until then deliveries are signed with the previous secret too (rotation with overlap). */
  previousSecretValidUntil: string | null;
  /** Its newest delivery (in the list only; null when none yet). */
  lastDelivery?: WebhookDeliveryView | null;
}

export interface WebhookAttemptView {
  at: string;
  /** The receiver's status; null when no answer came (timeout, refused, blocked address). */
  status: number | null;
  durationMs: number;
  /** Why it failed when there was no status ("timeout after 15 s", "address not allowed" …). */
  error: string | null;
  /** The first bytes of the receiver's answer. */
  responseExcerpt: string | null;
}

export interface WebhookDeliveryView {
  id: string;
  /** The `webhook-id` header: the same on every attempt and on a redelivery's attempts. */
  messageId: string;
  event: WebhookEventType;
  createdAt: string;
  state: 'pending' | 'succeeded' | 'failed';
  attempts: WebhookAttemptView[];
  /** When the next attempt is due; null when none is. */
  nextAttemptAt: string | null;
  payload: WebhookPayload;
}

/** POST /api/projects/:id/webhooks and POST /api/webhooks/:id/rotate-secret: the secret, shown once. */
export interface WebhookCreated {
  webhook: WebhookView;
  /** `whsec_` + base64 of 32 random bytes. */
  secret: string;
}

/** GET /api/projects/:id/webhooks. */
export interface WebhooksView {
  webhooks: WebhookView[];
}

/** PATCH /api/webhooks/:id. */
export interface WebhookResult {
  webhook: WebhookView;
}

/** GET /api/webhooks/:id/deliveries: newest first; `next` is the `before` of the next page (null: no more). */
export interface WebhookDeliveriesView {
  deliveries: WebhookDeliveryView[];
  next: string | null;
}

/** POST /api/webhooks/:id/test and …/deliveries/:deliveryId/redeliver (202): the delivery queued. */
export interface WebhookDeliveryResult {
  delivery: WebhookDeliveryView;
}
