import type { AudienceRule } from '../local.ts';
import type { WorkspaceContent } from '../content/ydoc.ts';

/** Environment-local answers: variables, secrets, runtime keys, audiences, share links and feedback. */
export interface VariableView {
  name: string;
  type: string;
  description: string;
  defaultValue: string;
  override: { value: string; updatedBy: string; updatedAt: string } | null;
  /** The override's value when it fits the variable's type, else the default. */
  effectiveValue: string;
  /** An override whose variable is no longer in this environment's content. */
  orphaned: boolean;
  /**
   * Why the override no longer fits the variable's type (a Sync changed it), in words; null when it
   * fits or there is none.
   */
  invalidOverride: string | null;
}

/** GET /environments/:id/variables. */
export interface VariablesView {
  variables: VariableView[];
}

/** A secret: its name and who set it when; a value is never returned once saved. */
export interface SecretView {
  name: string;
  updatedBy: string;
  updatedAt: string;
}

/** A secret the environment's integrations name but it does not hold. */
export interface MissingSecret {
  name: string;
  usedBy: { itemId: string; name: string }[];
}

/** GET /environments/:id/secrets. */
export interface SecretsView {
  secrets: SecretView[];
  missing: MissingSecret[];
}

export interface RuntimeKeyView {
  id: string;
  name: string;
  createdAt: string;
}

/** GET /environments/:id/runtime-keys. */
export interface RuntimeKeysView {
  keys: RuntimeKeyView[];
}

/** POST /environments/:id/runtime-keys: the key itself, shown this once. */
export interface RuntimeKeyCreated {
  id: string;
  name: string;
  key: string;
}

export interface AudienceView {
  id: string;
  name: string;
  description: string;
  rules: AudienceRule[];
  updatedBy: string;
  updatedAt: string;
}

/** GET /environments/:id/audiences. */
export interface AudiencesView {
  audiences: AudienceView[];
}

export interface ShareLinkView {
  id: string;
  environmentId: string;
  label: string;
  /** Pinned to this snapshot; null: whatever the environment holds. */
  snapshotId: string | null;
  allowFeedback: boolean;
  createdBy: string;
  createdAt: string;
  expiresAt: string;
  revokedAt: string | null;
}

/** GET /environments/:id/share-links. */
export interface ShareLinksView {
  links: ShareLinkView[];
}

/** POST /environments/:id/share-links: the token, shown this once. */
export interface ShareLinkCreated extends ShareLinkView {
  token: string;
  path: string;
  url: string;
}

/** A team member's reply to feedback: their name, never their id. */
export interface FeedbackReplyView {
  author: string;
  text: string;
  createdAt: string;
}

/** Feedback on an item, as the team reads it. */
export interface FeedbackView {
  id: string;
  section: string;
  itemId: string;
  /**
   * The item's name in the content the link showed when the comment was made (for older comments,
   * in what the environment shows now); '' when the item is in neither.
   */
  itemName: string;
  author: string;
  text: string;
  shareLinkId: string;
  /** The link it came through: its label, and the snapshot it is pinned to (null: the environment's current). */
  link: { label: string; snapshotId: string | null };
  createdAt: string;
  /** Who resolved it (a name) and when; null while open. */
  resolved: { by: string; at: string } | null;
  /** Oldest first, at most MAX_REPLIES_PER_FEEDBACK. */
  replies: FeedbackReplyView[];
}

/**
 * GET /environments/:id/feedback?status=open|resolved|all: newest first, at most 500; `counts` are
 * the environment's totals.
 */
export interface FeedbackListView {
  feedback: FeedbackView[];
  counts: { open: number; resolved: number };
  /** True when more feedback of this status exists than the list holds. */
  truncated: boolean;
  /** Whether the caller may reply and resolve (the permission that manages share links). */
  canRespond: boolean;
}

/** POST /share/:token/feedback: the feedback stored. */
export interface FeedbackPosted {
  id: string;
  environmentId: string;
  section: string;
  itemId: string;
  itemName: string;
  author: string;
  text: string;
  createdAt: string;
}

/** POST /feedback/:id/replies and /feedback/:id/resolve: the feedback as it is now. */
export interface FeedbackChanged {
  feedback: FeedbackView;
}

/** A comment made through a share link, as that link's holders read it. */
export interface SharedFeedback {
  id: string;
  section: string;
  itemId: string;
  author: string;
  text: string;
  createdAt: string;
  resolved: boolean;
  replies: FeedbackReplyView[];
}

/** GET /share/:token: what a stakeholder sees, never a secret value. */
export interface SharedView {
  label: string;
  expiresAt: string;
  allowFeedback: boolean;
  pinned: boolean;
  project: { name: string };
  environment: { name: string; kind: string; color: string };
  snapshot: {
    id: string;
    kind: string;
    parentId: string | null;
    sourceDraftId: string | null;
    message: string | null;
    createdBy: string;
    createdAt: string;
  } | null;
  content: WorkspaceContent | null;
  /** Variables at their effective values. */
  variables: { name: string; type: string; description: string; value: string }[];
  /**
   * This link's feedback (never another link's), newest first, at most 300, with the team's
   * replies; none when the link takes none.
   */
  feedback: SharedFeedback[];
}

/**
 * One message of the delivery event stream (`GET /api/delivery/:envId/events`, `data:` of a
 * server-sent event): what the environment delivers now. Fetch the body when `etag` differs.
 */
export interface DeliveryEvent {
  /** The delivery ETag, as sent in the `ETag` header (quotes included). */
  etag: string;
  snapshotId: string;
  overlayRevision: number;
  /** When the served snapshot arrived (epoch ms of its Publish, Sync or rollback); null when unknown. */
  publishedAt: number | null;
}

/** One runtime instance of `GET /environments/:envId/runtimes`, as it reported itself (RTC-8). */
export interface RuntimeInstanceView {
  /** The name it sends in `Stagecoach-Runtime`. */
  instance: string;
  /** What it was last given or confirmed it has (null: not known yet, e.g. only a stream opened). */
  snapshotId: string | null;
  lastSeenAt: string;
  /** When it first reported the environment's served snapshot (null: it serves another one). */
  pickedUpAt: string | null;
  /** It holds a delivery event stream open now. */
  streaming: boolean;
}

/**
 * GET /environments/:envId/runtimes: the runtime instances heard from in the last two minutes (or
 * holding a stream open), in memory of this server process, by name; at most
 * DELIVERY_RUNTIMES_PER_ENVIRONMENT (RTC-8).
 */
export interface RuntimesView {
  runtimes: RuntimeInstanceView[];
  /** What the environment serves: production its live snapshot, other stages their current one. */
  liveSnapshotId: string | null;
  /** When that snapshot arrived there (its Publish, Sync or rollback); null when unknown. */
  publishedAt: string | null;
}
