import {
  pgTable,
  text,
  integer,
  bigint,
  boolean,
  customType,
  index,
  uniqueIndex,
  primaryKey,
} from 'drizzle-orm/pg-core';
import { sql } from 'drizzle-orm';
import type { Section } from '../content/spec.ts';
import type { AudienceRule, EnvironmentSettings } from '../local.ts';
import type { Role } from '../permissions.ts';

/**
 * The PostgreSQL tables: every table of tables.ts with the same table, column and index names and
 * the same row types (PG-4, PG-5), so one set of row types serves both dialects. Times stay epoch
 * milliseconds as JS numbers (`bigint` mode number); booleans are `boolean`; byte columns `bytea`.
 * JSON stays `text` on both sides: hashed records (releases, audit events, flow rules) must keep
 * their exact bytes, and the `mode: 'json'` columns of tables.ts are read and written as the same
 * JSON text (jsonText). Autoincrement keys are identity columns BY DEFAULT, so a copy from SQLite
 * can keep its sequence numbers. Generated into server/store/pg-migrations (drizzle.pg.config.ts).
 */

/** Bytes (Buffer), as `blob({ mode: 'buffer' })` in SQLite. */
const bytea = customType<{ data: Buffer; driverData: Buffer }>({ dataType: () => 'bytea' });

/** JSON kept as text, read and written like SQLite's `text({ mode: 'json' })`. */
function jsonText<T>(name: string) {
  return customType<{ data: T; driverData: string }>({
    dataType: () => 'text',
    toDriver: (value) => JSON.stringify(value),
    fromDriver: (value) => JSON.parse(value) as T,
  })(name);
}

export const users = pgTable(
  'users',
  {
    id: text('id').primaryKey(),
    email: text('email').notNull(),
    name: text('name').notNull(),
    passwordHash: text('password_hash').notNull(),
    isInstanceAdmin: boolean('is_instance_admin').notNull().default(false),
    createdAt: bigint('created_at', { mode: 'number' }).notNull(),
  },
  (t) => [uniqueIndex('users_email').on(t.email)],
);

/** Server-side sessions; the cookie holds a random token, the row only its SHA-256. */
export const sessions = pgTable(
  'sessions',
  {
    tokenHash: text('token_hash').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    createdAt: bigint('created_at', { mode: 'number' }).notNull(),
    expiresAt: bigint('expires_at', { mode: 'number' }).notNull(),
  },
  (t) => [index('sessions_user').on(t.userId)],
);

/** Personal API tokens; shown once, stored as SHA-256. */
export const apiTokens = pgTable(
  'api_tokens',
  {
    id: text('id').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    tokenHash: text('token_hash').notNull(),
    createdAt: bigint('created_at', { mode: 'number' }).notNull(),
    lastUsedAt: bigint('last_used_at', { mode: 'number' }),
    /** Null: never expires (the owner revokes it). */
    expiresAt: bigint('expires_at', { mode: 'number' }),
  },
  (t) => [uniqueIndex('api_tokens_hash').on(t.tokenHash)],
);

export const projects = pgTable('projects', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  preset: text('preset').notNull(),
  /**
   * JSON {<section>: FlowRule} (schema/flow.ts); sections not named flow `up`. Kept as text, not
   * `mode: 'json'`: its exact text is hashed (the flow rules version) and compared on change.
   */
  flowRules: text('flow_rules').notNull().default('{}'),
  createdBy: text('created_by').notNull(),
  createdAt: bigint('created_at', { mode: 'number' }).notNull(),
});

export const environments = pgTable(
  'environments',
  {
    id: text('id').primaryKey(),
    projectId: text('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    kind: text('kind').notNull(),
    position: integer('position').notNull(),
    color: text('color').notNull(),
    /** The environment's current snapshot (what Sync moved here). */
    snapshotId: text('snapshot_id'),
    /** Production only: the snapshot that is live for end users (what Publish made live). */
    liveSnapshotId: text('live_snapshot_id'),
    /** Bumped on every change to environment-local data the delivery API serves (ETag). */
    overlayRevision: integer('overlay_revision').notNull().default(0),
  },
  (t) => [uniqueIndex('environments_position').on(t.projectId, t.position)],
);

/**
 * A live Yjs document: the authoring environment's workspace, a hotfix in production, or the `down`
 * sections edited in a later environment (kind `section`).
 */
export const drafts = pgTable(
  'drafts',
  {
    id: text('id').primaryKey(),
    projectId: text('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    environmentId: text('environment_id')
      .notNull()
      .references(() => environments.id, { onDelete: 'cascade' }),
    kind: text('kind').notNull(),
    createdAt: bigint('created_at', { mode: 'number' }).notNull(),
    /** A hotfix draft: the live snapshot it was forked from. */
    baseSnapshotId: text('base_snapshot_id'),
    createdBy: text('created_by'),
    /** Set when a hotfix draft is published or discarded; a closed draft takes no connections. */
    closedAt: bigint('closed_at', { mode: 'number' }),
    /** JSON list of the sections this draft owns (may change); null: every section (five-stage authoring, hotfix). */
    sections: jsonText<Section[]>('sections'),
  },
  (t) => [index('drafts_environment').on(t.environmentId)],
);

/** Append-only Yjs update log; compacted into draft_states in the background. */
export const draftUpdates = pgTable(
  'draft_updates',
  {
    seq: bigint('seq', { mode: 'number' }).primaryKey().generatedByDefaultAsIdentity(),
    draftId: text('draft_id')
      .notNull()
      .references(() => drafts.id, { onDelete: 'cascade' }),
    update: bytea('update').notNull(),
    createdAt: bigint('created_at', { mode: 'number' }).notNull(),
  },
  (t) => [index('draft_updates_draft_seq').on(t.draftId, t.seq)],
);

/** The compacted state of a draft: every logged update up to and including `uptoSeq`. */
export const draftStates = pgTable('draft_states', {
  draftId: text('draft_id')
    .primaryKey()
    .references(() => drafts.id, { onDelete: 'cascade' }),
  state: bytea('state').notNull(),
  uptoSeq: bigint('upto_seq', { mode: 'number' }).notNull(),
  updatedAt: bigint('updated_at', { mode: 'number' }).notNull(),
});

/**
 * Which process owns a draft (PG-70): written on PostgreSQL only (several processes), where every
 * append and compaction of the draft's log checks this row at `epoch` in the same statement. A
 * single SQLite process owns every draft and keeps the table empty. Times are PostgreSQL's clock.
 */
export const draftLeases = pgTable('draft_leases', {
  draftId: text('draft_id')
    .primaryKey()
    .references(() => drafts.id, { onDelete: 'cascade' }),
  ownerNode: text('owner_node').notNull(),
  ownerUrl: text('owner_url').notNull(),
  /** Grows with every acquisition (never reset: a release keeps the row), so it fences old owners. */
  epoch: bigint('epoch', { mode: 'number' }).notNull(),
  expiresAt: bigint('expires_at', { mode: 'number' }).notNull(),
  updatedAt: bigint('updated_at', { mode: 'number' }).notNull(),
});

/** Content-addressed items: id = SHA-256 of "item\0" + canonical JSON. Shared by every snapshot that holds the item. */
export const blobs = pgTable('blobs', {
  id: text('id').primaryKey(),
  json: text('json').notNull(),
});

/**
 * Frozen workspaces. id = SHA-256 of "tree\0" + the canonical tree (section → item id → blob id),
 * so equal content has the same id; one row per project that froze it.
 */
export const snapshots = pgTable(
  'snapshots',
  {
    projectId: text('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    id: text('id').notNull(),
    tree: text('tree').notNull(),
    kind: text('kind').notNull(),
    parentId: text('parent_id'),
    sourceDraftId: text('source_draft_id'),
    message: text('message'),
    createdBy: text('created_by').notNull(),
    createdAt: bigint('created_at', { mode: 'number' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.projectId, t.id] }), index('snapshots_id').on(t.id)],
);

/** Append-only, hash-chained record of every pointer move (sync, publish, rollback, hotfix). */
export const releases = pgTable(
  'releases',
  {
    seq: bigint('seq', { mode: 'number' }).primaryKey().generatedByDefaultAsIdentity(),
    projectId: text('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    environmentId: text('environment_id').notNull(),
    kind: text('kind').notNull(),
    pointer: text('pointer').notNull(),
    fromSnapshotId: text('from_snapshot_id'),
    toSnapshotId: text('to_snapshot_id').notNull(),
    sourceEnvironmentId: text('source_environment_id'),
    actorId: text('actor_id').notNull(),
    message: text('message'),
    /**
     * JSON: extra facts (e.g. hotfix changes a confirmed promotion undid). Kept as text, not
     * `mode: 'json'`: the record's hash covers this exact text (store/releases.ts).
     */
    detail: text('detail'),
    createdAt: bigint('created_at', { mode: 'number' }).notNull(),
    prevHash: text('prev_hash').notNull(),
    hash: text('hash').notNull(),
  },
  (t) => [
    index('releases_env').on(t.environmentId, t.seq),
    // A project's chain in order (VH-1 pages it; each append reads its last hash).
    index('releases_project').on(t.projectId, t.seq),
    // The board's "last replicated" per stage and section (a `replicate` row is written every few
    // seconds while someone edits upstream): found without walking the other sections' rows.
    // SQLite's json_extract(detail, '$.section') here; a PostgreSQL query must name this same
    // expression for the planner to use the index.
    index('releases_replicated')
      .on(t.environmentId, sql`(${t.detail}::jsonb ->> 'section')`, t.seq)
      .where(sql`${t.kind} = 'replicate'`),
  ],
);

/** Environment-local: a variable's value in one environment (never promoted). */
export const variableOverrides = pgTable(
  'variable_overrides',
  {
    environmentId: text('environment_id')
      .notNull()
      .references(() => environments.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    value: text('value').notNull(),
    updatedBy: text('updated_by').notNull(),
    updatedAt: bigint('updated_at', { mode: 'number' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.environmentId, t.name] })],
);

/** Environment-local secrets, AES-256-GCM encrypted (iv ‖ tag ‖ ciphertext). */
export const secrets = pgTable(
  'secrets',
  {
    environmentId: text('environment_id')
      .notNull()
      .references(() => environments.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    sealed: bytea('sealed').notNull(),
    updatedBy: text('updated_by').notNull(),
    updatedAt: bigint('updated_at', { mode: 'number' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.environmentId, t.name] })],
);

/** Environment-local settings: guardrails and evaluators (JSON validated by schema/local.ts). */
export const environmentSettings = pgTable('environment_settings', {
  environmentId: text('environment_id')
    .primaryKey()
    .references(() => environments.id, { onDelete: 'cascade' }),
  json: jsonText<EnvironmentSettings>('json').notNull(),
  updatedBy: text('updated_by').notNull(),
  updatedAt: bigint('updated_at', { mode: 'number' }).notNull(),
});

/**
 * Environment-local audiences: the same name in every environment, its own id in each. Content
 * refers to audiences by name; promotions check that the target has every name it refers to.
 */
export const audiences = pgTable(
  'audiences',
  {
    id: text('id').primaryKey(),
    environmentId: text('environment_id')
      .notNull()
      .references(() => environments.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    /** The name folded to lower case: unique per environment, what references match on. */
    nameKey: text('name_key').notNull(),
    description: text('description').notNull(),
    /** JSON array of rules (schema/local.ts AudienceRule). */
    rules: jsonText<AudienceRule[]>('rules').notNull(),
    updatedBy: text('updated_by').notNull(),
    updatedAt: bigint('updated_at', { mode: 'number' }).notNull(),
  },
  (t) => [uniqueIndex('audiences_environment_name').on(t.environmentId, t.nameKey)],
);

/**
 * Flow rules: for a draft that receives a `down` section, the upstream version of each item
 * it last took (its blob id). The base of the three-way merge that keeps local work and finds
 * conflicts. A row in conflict also holds the upstream blob that could not be taken.
 */
export const replicationBases = pgTable(
  'replication_bases',
  {
    draftId: text('draft_id')
      .notNull()
      .references(() => drafts.id, { onDelete: 'cascade' }),
    section: text('section').notNull(),
    itemId: text('item_id').notNull(),
    /** The upstream blob last taken (null: the item did not exist upstream). */
    baseBlobId: text('base_blob_id'),
    /** Set while in conflict: the upstream blob (or 'deleted') that local changes kept out. */
    conflictBlobId: text('conflict_blob_id'),
    updatedAt: bigint('updated_at', { mode: 'number' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.draftId, t.section, t.itemId] })],
);

/** Keys the runtime uses to read an environment through the delivery API; stored as SHA-256. */
export const runtimeKeys = pgTable(
  'runtime_keys',
  {
    id: text('id').primaryKey(),
    environmentId: text('environment_id')
      .notNull()
      .references(() => environments.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    keyHash: text('key_hash').notNull(),
    createdBy: text('created_by').notNull(),
    createdAt: bigint('created_at', { mode: 'number' }).notNull(),
  },
  (t) => [uniqueIndex('runtime_keys_hash').on(t.keyHash)],
);

/** A published hotfix: the field-level changes it made are tracked until DEV has them. */
export const hotfixes = pgTable('hotfixes', {
  id: text('id').primaryKey(),
  projectId: text('project_id')
    .notNull()
    .references(() => projects.id, { onDelete: 'cascade' }),
  environmentId: text('environment_id').notNull(),
  draftId: text('draft_id').notNull(),
  baseSnapshotId: text('base_snapshot_id').notNull(),
  snapshotId: text('snapshot_id').notNull(),
  publishedBy: text('published_by').notNull(),
  publishedAt: bigint('published_at', { mode: 'number' }).notNull(),
  /** open: tracked as divergence; resolved: DEV has it; overridden: a confirmed promotion undid it. */
  state: text('state').notNull(),
});

/** Who belongs to a project, with roles per environment: JSON {<environmentId>: [role, …]}. */
export const projectMembers = pgTable(
  'project_members',
  {
    projectId: text('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    roles: jsonText<Record<string, Role[]>>('roles').notNull(),
    updatedBy: text('updated_by').notNull(),
    updatedAt: bigint('updated_at', { mode: 'number' }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.projectId, t.userId] }),
    index('project_members_user').on(t.userId),
  ],
);

/** Single-use, expiring invitations; the link's token is stored as SHA-256. */
export const invitations = pgTable(
  'invitations',
  {
    id: text('id').primaryKey(),
    tokenHash: text('token_hash').notNull(),
    email: text('email').notNull(),
    name: text('name').notNull(),
    /** Optional membership to grant on acceptance: JSON {projectId, roles}. */
    grant: jsonText<{
      projectId: string;
      roles: Record<string, Role[]>;
    }>('grant'),
    createdBy: text('created_by').notNull(),
    createdAt: bigint('created_at', { mode: 'number' }).notNull(),
    expiresAt: bigint('expires_at', { mode: 'number' }).notNull(),
    usedAt: bigint('used_at', { mode: 'number' }),
  },
  (t) => [uniqueIndex('invitations_token').on(t.tokenHash)],
);

/** Append-only, hash-chained audit events (approvals, member changes, share links …). */
export const auditEvents = pgTable(
  'audit_events',
  {
    seq: bigint('seq', { mode: 'number' }).primaryKey().generatedByDefaultAsIdentity(),
    projectId: text('project_id'),
    environmentId: text('environment_id'),
    kind: text('kind').notNull(),
    actorId: text('actor_id'),
    // Canonical JSON kept as text, not `mode: 'json'`: the event's hash covers this exact text
    // (store/audit.ts), which drizzle's JSON.stringify would not reproduce.
    subject: text('subject').notNull(),
    createdAt: bigint('created_at', { mode: 'number' }).notNull(),
    prevHash: text('prev_hash').notNull(),
    hash: text('hash').notNull(),
  },
  (t) => [
    index('audit_project').on(t.projectId, t.seq),
    index('audit_env').on(t.environmentId, t.seq),
  ],
);

/** Four-eyes gate of an environment: approvals a Sync INTO it (or a Publish, in production) needs. */
export const gatePolicies = pgTable('gate_policies', {
  environmentId: text('environment_id')
    .primaryKey()
    .references(() => environments.id, { onDelete: 'cascade' }),
  requiredApprovals: integer('required_approvals').notNull(),
  allowSelfApproval: boolean('allow_self_approval').notNull(),
  /** Check names (JSON array) that must report `success` for the snapshot a move would bring in. */
  requiredChecks: text('required_checks').notNull().default('[]'),
  updatedBy: text('updated_by').notNull(),
  updatedAt: bigint('updated_at', { mode: 'number' }).notNull(),
});

/**
 * Required checks (CHK-2): the latest report per (environment, snapshot, name), made on the
 * gated environment for a snapshot that would move into it.
 */
export const environmentChecks = pgTable(
  'environment_checks',
  {
    environmentId: text('environment_id')
      .notNull()
      .references(() => environments.id, { onDelete: 'cascade' }),
    snapshotId: text('snapshot_id').notNull(),
    name: text('name').notNull(),
    /** pending | success | failure */
    state: text('state').notNull(),
    url: text('url'),
    summary: text('summary'),
    reportedBy: text('reported_by').notNull(),
    reportedAt: bigint('reported_at', { mode: 'number' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.environmentId, t.snapshotId, t.name] })],
);

/** A request to move one exact snapshot into an environment, and its approvals. */
export const promotionRequests = pgTable(
  'promotion_requests',
  {
    id: text('id').primaryKey(),
    projectId: text('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    kind: text('kind').notNull(),
    sourceEnvironmentId: text('source_environment_id').notNull(),
    targetEnvironmentId: text('target_environment_id').notNull(),
    snapshotId: text('snapshot_id').notNull(),
    message: text('message'),
    requestedBy: text('requested_by').notNull(),
    createdAt: bigint('created_at', { mode: 'number' }).notNull(),
    /** open → done | rejected | voided */
    state: text('state').notNull(),
    closedAt: bigint('closed_at', { mode: 'number' }),
    closedReason: text('closed_reason'),
  },
  (t) => [index('requests_target').on(t.targetEnvironmentId, t.state)],
);

export const approvals = pgTable(
  'approvals',
  {
    requestId: text('request_id')
      .notNull()
      .references(() => promotionRequests.id, { onDelete: 'cascade' }),
    userId: text('user_id').notNull(),
    decision: text('decision').notNull(),
    comment: text('comment'),
    createdAt: bigint('created_at', { mode: 'number' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.requestId, t.userId] })],
);

/** Read-only links for stakeholders without an account; token stored as SHA-256. */
export const shareLinks = pgTable(
  'share_links',
  {
    id: text('id').primaryKey(),
    environmentId: text('environment_id')
      .notNull()
      .references(() => environments.id, { onDelete: 'cascade' }),
    snapshotId: text('snapshot_id'),
    label: text('label').notNull(),
    tokenHash: text('token_hash').notNull(),
    allowFeedback: boolean('allow_feedback').notNull(),
    createdBy: text('created_by').notNull(),
    createdAt: bigint('created_at', { mode: 'number' }).notNull(),
    expiresAt: bigint('expires_at', { mode: 'number' }).notNull(),
    revokedAt: bigint('revoked_at', { mode: 'number' }),
  },
  (t) => [uniqueIndex('share_links_token').on(t.tokenHash)],
);

/** Stakeholder feedback on items through a share link: environment-local, never promoted. */
export const feedback = pgTable(
  'feedback',
  {
    id: text('id').primaryKey(),
    environmentId: text('environment_id')
      .notNull()
      .references(() => environments.id, { onDelete: 'cascade' }),
    shareLinkId: text('share_link_id').notNull(),
    section: text('section').notNull(),
    itemId: text('item_id').notNull(),
    author: text('author').notNull(),
    text: text('text').notNull(),
    createdAt: bigint('created_at', { mode: 'number' }).notNull(),
    /** The item's name in the content the link showed when the comment was made ('' for older rows). */
    itemName: text('item_name').notNull().default(''),
    /** Resolved by a member of the team (user id) at this time; null while open. */
    resolvedAt: bigint('resolved_at', { mode: 'number' }),
    resolvedBy: text('resolved_by'),
  },
  (t) => [
    index('feedback_env').on(t.environmentId, t.createdAt),
    // The board counts each stage's open feedback on every read: from this index alone, however
    // many resolved comments (and revoked links' comments) the stage keeps.
    index('feedback_open')
      .on(t.environmentId)
      .where(sql`${t.resolvedAt} IS NULL`),
  ],
);

/** The team's replies to a feedback post; stakeholders read them through the same link. */
export const feedbackReplies = pgTable(
  'feedback_replies',
  {
    id: text('id').primaryKey(),
    feedbackId: text('feedback_id')
      .notNull()
      .references(() => feedback.id, { onDelete: 'cascade' }),
    /** The member who replied (user id) and their name at the time (what a stakeholder reads). */
    createdBy: text('created_by').notNull(),
    authorName: text('author_name').notNull(),
    text: text('text').notNull(),
    createdAt: bigint('created_at', { mode: 'number' }).notNull(),
  },
  (t) => [index('feedback_replies_feedback').on(t.feedbackId, t.createdAt)],
);

/**
 * Single-use password-reset links an instance admin issues; the link holds a random token, the row
 * only its SHA-256.
 */
export const passwordResets = pgTable(
  'password_resets',
  {
    tokenHash: text('token_hash').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    createdBy: text('created_by').notNull(),
    createdAt: bigint('created_at', { mode: 'number' }).notNull(),
    expiresAt: bigint('expires_at', { mode: 'number' }).notNull(),
    usedAt: bigint('used_at', { mode: 'number' }),
  },
  (t) => [index('password_resets_user').on(t.userId)],
);

/**
 * What changed in a project, in order (`seq` is the `id` of the server-sent event stream and its
 * `Last-Event-ID`): thin rows, written in the same transaction as the change they announce, so a
 * change that rolls back announces nothing. `subject` holds ids for the server's reactors
 * (notifications), never content or secrets, and is not sent to browsers. `recipientId`: only
 * that person sees the event (their notifications). Old rows are pruned (domain/events.ts).
 */
export const projectEvents = pgTable(
  'project_events',
  {
    seq: bigint('seq', { mode: 'number' }).primaryKey().generatedByDefaultAsIdentity(),
    projectId: text('project_id').notNull(),
    environmentId: text('environment_id'),
    kind: text('kind').notNull(),
    actorId: text('actor_id'),
    recipientId: text('recipient_id'),
    subject: jsonText<Record<string, unknown>>('subject').notNull(),
    createdAt: bigint('created_at', { mode: 'number' }).notNull(),
  },
  (t) => [index('project_events_project').on(t.projectId, t.seq)],
);

/**
 * A person's inbox (server/domain/notifications.ts): one row per recipient of a notice, written by
 * the event reactor in the change's transaction. The title is in words (names, never ids), `href`
 * the place to act. At most NOTIFICATIONS_KEPT_PER_PERSON per person: older ones are deleted as new
 * ones arrive.
 */
export const notifications = pgTable(
  'notifications',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedByDefaultAsIdentity(),
    userId: text('user_id').notNull(),
    projectId: text('project_id').notNull(),
    environmentId: text('environment_id'),
    kind: text('kind').notNull(),
    title: text('title').notNull(),
    href: text('href').notNull(),
    /** For `approval_requested`: the request (the inbox offers to approve it). */
    requestId: text('request_id'),
    /** The project event it came from. */
    eventSeq: bigint('event_seq', { mode: 'number' }).notNull(),
    createdAt: bigint('created_at', { mode: 'number' }).notNull(),
    readAt: bigint('read_at', { mode: 'number' }),
  },
  (t) => [
    index('notifications_user').on(t.userId, t.id),
    index('notifications_request').on(t.requestId),
  ],
);

/**
 * The first answer to a mutating API request that carried an `Idempotency-Key`
 * (server/domain/idempotency.ts): scoped by the user and the credential (one API token, or one
 * session) that sent it, so another caller's key never replays. `requestHash` is SHA-256 of
 * method, path and body; a repeat with another request is refused. `body` is null when the answer
 * is not kept (it held a secret shown once, or was larger than the bound): a repeat is refused
 * with `409 idempotency_unavailable`. Rows older than 24 hours are swept.
 */
export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    /** `session:<session id>` or `token:<token id>`. */
    credential: text('credential').notNull(),
    key: text('key').notNull(),
    requestHash: text('request_hash').notNull(),
    status: integer('status').notNull(),
    contentType: text('content_type'),
    body: text('body'),
    createdAt: bigint('created_at', { mode: 'number' }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.userId, t.credential, t.key] }),
    index('idempotency_keys_user_created').on(t.userId, t.createdAt),
    index('idempotency_keys_created').on(t.createdAt),
  ],
);

/**
 * Scheduled releases (SCHED): a Sync or Publish stored to run at `at`, bound to the snapshot that
 * would move when it was scheduled (`snapshotId`) and to what the target held then
 * (`expectedTargetSnapshotId`). `state`: pending → done | failed | cancelled. It is claimed and
 * moved in one transaction (server/domain/schedule.ts), so it runs once even across restarts and
 * processes.
 */
export const scheduledReleases = pgTable(
  'scheduled_releases',
  {
    id: text('id').primaryKey(),
    projectId: text('project_id').notNull(),
    environmentId: text('environment_id')
      .notNull()
      .references(() => environments.id, { onDelete: 'cascade' }),
    kind: text('kind').$type<'sync' | 'publish'>().notNull(),
    snapshotId: text('snapshot_id').notNull(),
    expectedTargetSnapshotId: text('expected_target_snapshot_id'),
    at: bigint('at', { mode: 'number' }).notNull(),
    createdBy: text('created_by').notNull(),
    message: text('message'),
    confirmMissingSecrets: boolean('confirm_missing_secrets').notNull(),
    confirmUndoHotfix: boolean('confirm_undo_hotfix').notNull(),
    state: text('state').$type<'pending' | 'done' | 'failed' | 'cancelled'>().notNull(),
    errorId: text('error_id'),
    errorMessage: text('error_message'),
    releaseSeq: bigint('release_seq', { mode: 'number' }),
    createdAt: bigint('created_at', { mode: 'number' }).notNull(),
    finishedAt: bigint('finished_at', { mode: 'number' }),
  },
  (t) => [
    index('scheduled_releases_due').on(t.state, t.at),
    index('scheduled_releases_env').on(t.environmentId, t.state),
  ],
);

/** Freeze windows per environment (SCHED): JSON `[{from, to, reason}]` (epoch ms), at most 50. */
export const freezeWindows = pgTable('freeze_windows', {
  environmentId: text('environment_id')
    .primaryKey()
    .references(() => environments.id, { onDelete: 'cascade' }),
  windows: text('windows').notNull(),
  updatedBy: text('updated_by').notNull(),
  updatedAt: bigint('updated_at', { mode: 'number' }).notNull(),
});

/**
 * A project's webhook endpoints (WH): where signed deliveries go. The signing secret is sealed
 * (server/domain/sealer.ts, slot `webhook:<id>`); after a rotation the previous one keeps signing
 * until `previousSecretValidUntil` (WH-6). `events`: JSON array of event names, or `["*"]`.
 */
export const webhooks = pgTable(
  'webhooks',
  {
    id: text('id').primaryKey(),
    projectId: text('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    url: text('url').notNull(),
    description: text('description').notNull(),
    events: jsonText<string[]>('events').notNull(),
    enabled: boolean('enabled').notNull(),
    disabledReason: text('disabled_reason').$type<'gone' | 'failing' | 'manual'>(),
    sealedSecret: bytea('sealed_secret').notNull(),
    previousSealedSecret: bytea('previous_sealed_secret'),
    previousSecretValidUntil: bigint('previous_secret_valid_until', { mode: 'number' }),
    createdBy: text('created_by').notNull(),
    createdAt: bigint('created_at', { mode: 'number' }).notNull(),
  },
  (t) => [index('webhooks_project').on(t.projectId, t.createdAt)],
);

/**
 * The webhook outbox (WH): one row per delivery, written by the event reactor in the change's
 * transaction and sent after commit by the delivery worker, which claims a row with a lease
 * (`leaseUntil`) so no two processes send it at once and a crashed send is retried after it.
 * `attempts`: JSON array of WebhookAttemptView (bounded by the retry schedule).
 */
export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    id: text('id').primaryKey(),
    webhookId: text('webhook_id')
      .notNull()
      .references(() => webhooks.id, { onDelete: 'cascade' }),
    projectId: text('project_id').notNull(),
    /** The `webhook-id` header: the same on every attempt and on a redelivery. */
    messageId: text('message_id').notNull(),
    event: text('event').notNull(),
    payload: text('payload').notNull(),
    state: text('state').$type<'pending' | 'succeeded' | 'failed'>().notNull(),
    attempts: jsonText<unknown[]>('attempts').notNull(),
    nextAttemptAt: bigint('next_attempt_at', { mode: 'number' }),
    leaseUntil: bigint('lease_until', { mode: 'number' }),
    createdAt: bigint('created_at', { mode: 'number' }).notNull(),
  },
  (t) => [
    index('webhook_deliveries_due').on(t.state, t.nextAttemptAt),
    index('webhook_deliveries_webhook').on(t.webhookId, t.createdAt),
    index('webhook_deliveries_created').on(t.createdAt),
  ],
);

/**
 * Work that must run once, whichever process runs it (PG-80 … PG-88; server/cluster/jobs.ts): a
 * row waits until `run_at`, a runner claims it (`claimed_by`, a fresh `claim_token`, until
 * `claim_expires_at`, on PostgreSQL's clock), and deletes it when done. A claim whose holder died
 * expires and the row is claimed again. Among waiting rows (unclaimed) `(kind, key)` is unique, so
 * a burst of enqueues of one piece of work coalesces into one row (PG-81). `payload`: JSON text,
 * at most 64 KiB.
 */
export const jobs = pgTable(
  'jobs',
  {
    id: text('id').primaryKey(),
    kind: text('kind').notNull(),
    key: text('key').notNull(),
    payload: text('payload').notNull(),
    runAt: bigint('run_at', { mode: 'number' }).notNull(),
    attempts: integer('attempts').notNull().default(0),
    claimedBy: text('claimed_by'),
    claimToken: text('claim_token'),
    claimExpiresAt: bigint('claim_expires_at', { mode: 'number' }),
    createdAt: bigint('created_at', { mode: 'number' }).notNull(),
  },
  (t) => [
    uniqueIndex('jobs_waiting')
      .on(t.kind, t.key)
      .where(sql`${t.claimedBy} IS NULL`),
    index('jobs_due').on(t.kind, t.runAt),
    // A claim skips keys with a live claim (PG-81): found by key among claimed rows too.
    index('jobs_key').on(t.kind, t.key),
  ],
);
