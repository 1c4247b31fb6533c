import { z } from 'zod';

/**
 * Control messages between the processes of one installation (PG-60). They carry only ids and a
 * short reason: each receiver re-reads what it needs from the database, so a lost message delays a
 * wake-up or a close, never loses data.
 */
const Id = z.string().min(1).max(128);
const Reason = z.string().max(200);

export const ClusterMessage = z.discriminatedUnion('type', [
  /** A role change or removal: close this person's sockets and streams on every process. */
  z.strictObject({ type: z.literal('closeUser'), userId: Id, reason: Reason }),
  /**
   * A session or token ended (sign-out, revocation, expiry) or an account was removed: close what
   * was opened with it (`OpenCredentials.closeFor`).
   */
  z.strictObject({
    type: z.literal('credentialEnded'),
    kind: z.enum(['session', 'token', 'user']),
    id: Id,
  }),
  /**
   * Close every connection to a draft, with `Rooms.close`'s reasons: closed for good (hotfix
   * published or discarded), or its sections changed (flow rules) and everyone reconnects.
   */
  z.strictObject({
    type: z.literal('closeDraft'),
    draftId: Id,
    reason: z.enum(['draft_closed', 'rights_changed']),
  }),
  /** A project's flow rules changed: open drafts re-read their read-only sections. */
  z.strictObject({ type: z.literal('flowRulesChanged'), projectId: Id }),
  /** A project event was stored: wake that project's event-stream subscribers. */
  z.strictObject({ type: z.literal('projectEvent'), projectId: Id }),
  /** A delivery changed: wake that environment's long-polls and delivery streams. */
  z.strictObject({ type: z.literal('deliveryEvent'), projectId: Id, environmentId: Id }),
  /**
   * The sender lost control messages it could not keep for resending (PG-180): every process runs
   * its re-validation sweep (`onResynced`), as after its own outage. The bus handles it itself.
   */
  z.strictObject({ type: z.literal('resync') }),
  /** A webhook delivery was queued: every process's worker looks for due ones (PG-171). */
  z.strictObject({ type: z.literal('webhooksDue') }),
]);
export type ClusterMessage = z.infer<typeof ClusterMessage>;
export type ClusterMessageType = ClusterMessage['type'];
export type MessageOf<T extends ClusterMessageType> = Extract<ClusterMessage, { type: T }>;

/**
 * The largest envelope sent or accepted, in bytes (PG-61). Every valid message is far smaller (ids
 * and a 200-character reason); the cap lets a receiver drop junk before parsing it.
 */
export const MAX_MESSAGE_BYTES = 2048;

/** What travels on the channel: the sender's bus id (so it skips its own echo) and the message. */
const Envelope = z.strictObject({ from: z.string().min(1).max(64), message: ClusterMessage });
export type Envelope = z.infer<typeof Envelope>;

/** The envelope of a raw channel payload, or why it was dropped. Never throws. */
export function readEnvelope(
  raw: string,
): { envelope: Envelope } | { dropped: 'oversized' | 'malformed' } {
  // String length ≤ byte length, so a long string is too big without counting its bytes.
  if (raw.length > MAX_MESSAGE_BYTES || Buffer.byteLength(raw) > MAX_MESSAGE_BYTES)
    return { dropped: 'oversized' };
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return { dropped: 'malformed' };
  }
  const parsed = Envelope.safeParse(json);
  return parsed.success ? { envelope: parsed.data } : { dropped: 'malformed' };
}
