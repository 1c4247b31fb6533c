import {
  sqliteTable,
  text,
  integer,
  blob,
  index,
  uniqueIndex,
  primaryKey,
} from 'drizzle-orm/sqlite-core';
import { sql } from 'drizzle-orm';
import type { Section } from '../content/spec.ts';
import type { AudienceRule, EnvironmentSettings } from '../local.ts';
import type { Role } from '../permissions.ts';

/** SQLite tables (server only). Times are epoch milliseconds. */

export const users = sqliteTable(
  'users',
  {
    id: text('id').primaryKey(),
    email: text('email').notNull(),
    name: text('name').notNull(),
    passwordHash: text('password_hash').notNull(),
    isInstanceAdmin: integer('is_instance_admin', { mode: 'boolean' }).notNull().default(false),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [uniqueIndex('users_email').on(t.email)],
);

/** Server-side sessions; the cookie holds a random token, the row only its SHA-256. */
export const sessions = sqliteTable(
  'sessions',
  {
    tokenHash: text('token_hash').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    createdAt: integer('created_at').notNull(),
    expiresAt: integer('expires_at').notNull(),
  },
  (t) => [index('sessions_user').on(t.userId)],
);

/** Personal API tokens; shown once, stored as SHA-256. */
export const apiTokens = sqliteTable(
  'api_tokens',
  {
    id: text('id').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    tokenHash: text('token_hash').notNull(),
    createdAt: integer('created_at').notNull(),
    lastUsedAt: integer('last_used_at'),
    /** Null: never expires (the owner revokes it). */
    expiresAt: integer('expires_at'),
  },
  (t) => [uniqueIndex('api_tokens_hash').on(t.tokenHash)],
);

export const projects = sqliteTable('projects', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  preset: text('preset').notNull(),
  /**
   * JSON {<section>: FlowRule} (schema/flow.ts); sections not named flow `up`. Kept as text, not
   * `mode: 'json'`: its exact text is hashed (the flow rules version) and compared on change.
   */
  flowRules: text('flow_rules').notNull().default('{}'),
  createdBy: text('created_by').notNull(),
  createdAt: integer('created_at').notNull(),
});

export const environments = sqliteTable(
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
export const drafts = sqliteTable(
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
    createdAt: integer('created_at').notNull(),
    /** A hotfix draft: the live snapshot it was forked from. */
    baseSnapshotId: text('base_snapshot_id'),
    createdBy: text('created_by'),
    /** Set when a hotfix draft is published or discarded; a closed draft takes no connections. */
    closedAt: integer('closed_at'),
    /** JSON list of the sections this draft owns (may change); null: every section (five-stage authoring, hotfix). */
    sections: text('sections', { mode: 'json' }).$type<Section[]>(),
  },
  (t) => [index('drafts_environment').on(t.environmentId)],
);

/** Append-only Yjs update log; compacted into draft_states in the background. */
export const draftUpdates = sqliteTable(
  'draft_updates',
  {
    seq: integer('seq').primaryKey({ autoIncrement: true }),
    draftId: text('draft_id')
      .notNull()
      .references(() => drafts.id, { onDelete: 'cascade' }),
    update: blob('update', { mode: 'buffer' }).notNull(),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [index('draft_updates_draft_seq').on(t.draftId, t.seq)],
);

/** The compacted state of a draft: every logged update up to and including `uptoSeq`. */
export const draftStates = sqliteTable('draft_states', {
  draftId: text('draft_id')
    .primaryKey()
    .references(() => drafts.id, { onDelete: 'cascade' }),
  state: blob('state', { mode: 'buffer' }).notNull(),
  uptoSeq: integer('upto_seq').notNull(),
  updatedAt: integer('updated_at').notNull(),
});

/**
 * Which process owns a draft (PG-70): written on PostgreSQL only (several processes), where every
 * append and compaction of the draft's log checks this row at `epoch` in the same statement. A
 * single SQLite process owns every draft and keeps the table empty. Times are PostgreSQL's clock.
 */
export const draftLeases = sqliteTable('draft_leases', {
  draftId: text('draft_id')
    .primaryKey()
    .references(() => drafts.id, { onDelete: 'cascade' }),
  ownerNode: text('owner_node').notNull(),
  ownerUrl: text('owner_url').notNull(),
  /** Grows with every acquisition (never reset: a release keeps the row), so it fences old owners. */
  epoch: integer('epoch').notNull(),
  expiresAt: integer('expires_at').notNull(),
  updatedAt: integer('updated_at').notNull(),
});

/** Content-addressed items: id = SHA-256 of "item\0" + canonical JSON. Shared by every snapshot that holds the item. */
export const blobs = sqliteTable('blobs', {
  id: text('id').primaryKey(),
  json: text('json').notNull(),
});

/**
 * Frozen workspaces. id = SHA-256 of "tree\0" + the canonical tree (section → item id → blob id),
 * so equal content has the same id; one row per project that froze it.
 */
export const snapshots = sqliteTable(
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
    createdAt: integer('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.projectId, t.id] }), index('snapshots_id').on(t.id)],
);

/** Append-only, hash-chained record of every pointer move (sync, publish, rollback, hotfix). */
export const releases = sqliteTable(
  'releases',
  {
    seq: integer('seq').primaryKey({ autoIncrement: true }),
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
    createdAt: integer('created_at').notNull(),
    prevHash: text('prev_hash').notNull(),
    hash: text('hash').notNull(),
  },
  (t) => [
    index('releases_env').on(t.environmentId, t.seq),
    // A project's chain in order (VH-1 pages it; each append reads its last hash).
    index('releases_project').on(t.projectId, t.seq),
    // The board's "last replicated" per stage and section (a `replicate` row is written every few
    // seconds while someone edits upstream): found without walking the other sections' rows.
    index('releases_replicated')
      .on(t.environmentId, sql`json_extract(${t.detail}, '$.section')`, t.seq)
      .where(sql`${t.kind} = 'replicate'`),
  ],
);

/** Environment-local: a variable's value in one environment (never promoted). */
export const variableOverrides = sqliteTable(
  'variable_overrides',
  {
    environmentId: text('environment_id')
      .notNull()
      .references(() => environments.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    value: text('value').notNull(),
    updatedBy: text('updated_by').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.environmentId, t.name] })],
);

/** Environment-local secrets, AES-256-GCM encrypted (iv ‖ tag ‖ ciphertext). */
export const secrets = sqliteTable(
  'secrets',
  {
    environmentId: text('environment_id')
      .notNull()
      .references(() => environments.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    sealed: blob('sealed', { mode: 'buffer' }).notNull(),
    updatedBy: text('updated_by').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.environmentId, t.name] })],
);

/** Environment-local settings: guardrails and evaluators (JSON validated by schema/local.ts). */
export const environmentSettings = sqliteTable('environment_settings', {
  environmentId: text('environment_id')
    .primaryKey()
    .references(() => environments.id, { onDelete: 'cascade' }),
  json: text('json', { mode: 'json' }).$type<EnvironmentSettings>().notNull(),
  updatedBy: text('updated_by').notNull(),
  updatedAt: integer('updated_at').notNull(),
});

/**
 * Environment-local audiences: the same name in every environment, its own id in each. Content
 * refers to audiences by name; promotions check that the target has every name it refers to.
 */
export const audiences = sqliteTable(
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
    rules: text('rules', { mode: 'json' }).$type<AudienceRule[]>().notNull(),
    updatedBy: text('updated_by').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [uniqueIndex('audiences_environment_name').on(t.environmentId, t.nameKey)],
);

/**
 * Flow rules: for a draft that receives a `down` section, the upstream version of each item
 * it last took (its blob id). The base of the three-way merge that keeps local work and finds
 * conflicts. A row in conflict also holds the upstream blob that could not be taken.
 */
export const replicationBases = sqliteTable(
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
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.draftId, t.section, t.itemId] })],
);

/** Keys the runtime uses to read an environment through the delivery API; stored as SHA-256. */
export const runtimeKeys = sqliteTable(
  'runtime_keys',
  {
    id: text('id').primaryKey(),
    environmentId: text('environment_id')
      .notNull()
      .references(() => environments.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    keyHash: text('key_hash').notNull(),
    createdBy: text('created_by').notNull(),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [uniqueIndex('runtime_keys_hash').on(t.keyHash)],
);

/** A published hotfix: the field-level changes it made are tracked until DEV has them. */
export const hotfixes = sqliteTable('hotfixes', {
  id: text('id').primaryKey(),
  projectId: text('project_id')
    .notNull()
    .references(() => projects.id, { onDelete: 'cascade' }),
  environmentId: text('environment_id').notNull(),
  draftId: text('draft_id').notNull(),
  baseSnapshotId: text('base_snapshot_id').notNull(),
  snapshotId: text('snapshot_id').notNull(),
  publishedBy: text('published_by').notNull(),
  publishedAt: integer('published_at').notNull(),
  /** open: tracked as divergence; resolved: DEV has it; overridden: a confirmed promotion undid it. */
  state: text('state').notNull(),
});

/** Who belongs to a project, with roles per environment: JSON {<environmentId>: [role, …]}. */
export const projectMembers = sqliteTable(
  'project_members',
  {
    projectId: text('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    roles: text('roles', { mode: 'json' }).$type<Record<string, Role[]>>().notNull(),
    updatedBy: text('updated_by').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.projectId, t.userId] }),
    index('project_members_user').on(t.userId),
  ],
);

/** Single-use, expiring invitations; the link's token is stored as SHA-256. */
export const invitations = sqliteTable(
  'invitations',
  {
    id: text('id').primaryKey(),
    tokenHash: text('token_hash').notNull(),
    email: text('email').notNull(),
    name: text('name').notNull(),
    /** Optional membership to grant on acceptance: JSON {projectId, roles}. */
    grant: text('grant', { mode: 'json' }).$type<{
      projectId: string;
      roles: Record<string, Role[]>;
    }>(),
    createdBy: text('created_by').notNull(),
    createdAt: integer('created_at').notNull(),
    expiresAt: integer('expires_at').notNull(),
    usedAt: integer('used_at'),
  },
  (t) => [uniqueIndex('invitations_token').on(t.tokenHash)],
);

/** Append-only, hash-chained audit events (approvals, member changes, share links …). */
export const auditEvents = sqliteTable(
  'audit_events',
  {
    seq: integer('seq').primaryKey({ autoIncrement: true }),
    projectId: text('project_id'),
    environmentId: text('environment_id'),
    kind: text('kind').notNull(),
    actorId: text('actor_id'),
    // Canonical JSON kept as text, not `mode: 'json'`: the event's hash covers this exact text
    // (store/audit.ts), which drizzle's JSON.stringify would not reproduce.
    subject: text('subject').notNull(),
    createdAt: integer('created_at').notNull(),
    prevHash: text('prev_hash').notNull(),
    hash: text('hash').notNull(),
  },
  (t) => [
    index('audit_project').on(t.projectId, t.seq),
    index('audit_env').on(t.environmentId, t.seq),
  ],
);

/** Four-eyes gate of an environment: approvals a Sync INTO it (or a Publish, in production) needs. */
export const gatePolicies = sqliteTable('gate_policies', {
  environmentId: text('environment_id')
    .primaryKey()
    .references(() => environments.id, { onDelete: 'cascade' }),
  requiredApprovals: integer('required_approvals').notNull(),
  allowSelfApproval: integer('allow_self_approval', { mode: 'boolean' }).notNull(),
  /** Check names (JSON array) that must report `success` for the snapshot a move would bring in. */
  requiredChecks: text('required_checks').notNull().default('[]'),
  updatedBy: text('updated_by').notNull(),
  updatedAt: integer('updated_at').notNull(),
});

/**
 * Required checks (CHK-2): the latest report per (environment, snapshot, name), made on the
 * gated environment for a snapshot that would move into it.
 */
export const environmentChecks = sqliteTable(
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
    reportedAt: integer('reported_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.environmentId, t.snapshotId, t.name] })],
);

/** A request to move one exact snapshot into an environment, and its approvals. */
export const promotionRequests = sqliteTable(
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
    createdAt: integer('created_at').notNull(),
    /** open → done | rejected | voided */
    state: text('state').notNull(),
    closedAt: integer('closed_at'),
    closedReason: text('closed_reason'),
  },
  (t) => [index('requests_target').on(t.targetEnvironmentId, t.state)],
);

export const approvals = sqliteTable(
  'approvals',
  {
    requestId: text('request_id')
      .notNull()
      .references(() => promotionRequests.id, { onDelete: 'cascade' }),
    userId: text('user_id').notNull(),
    decision: text('decision').notNull(),
    comment: text('comment'),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.requestId, t.userId] })],
);

/** Read-only links for stakeholders without an account; token stored as SHA-256. */
export const shareLinks = sqliteTable(
  'share_links',
  {
    id: text('id').primaryKey(),
    environmentId: text('environment_id')
      .notNull()
      .references(() => environments.id, { onDelete: 'cascade' }),
    snapshotId: text('snapshot_id'),
    label: text('label').notNull(),
    tokenHash: text('token_hash').notNull(),
    allowFeedback: integer('allow_feedback', { mode: 'boolean' }).notNull(),
    createdBy: text('created_by').notNull(),
    createdAt: integer('created_at').notNull(),
    expiresAt: integer('expires_at').notNull(),
    revokedAt: integer('revoked_at'),
  },
  (t) => [uniqueIndex('share_links_token').on(t.tokenHash)],
);

/** Stakeholder feedback on items through a share link: environment-local, never promoted. */
export const feedback = sqliteTable(
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
    createdAt: integer('created_at').notNull(),
    /** The item's name in the content the link showed when the comment was made ('' for older rows). */
    itemName: text('item_name').notNull().default(''),
    /** Resolved by a member of the team (user id) at this time; null while open. */
    resolvedAt: integer('resolved_at'),
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
export const feedbackReplies = sqliteTable(
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
    createdAt: integer('created_at').notNull(),
  },
  (t) => [index('feedback_replies_feedback').on(t.feedbackId, t.createdAt)],
);

/**
 * Single-use password-reset links an instance admin issues; the link holds a random token, the row
 * only its SHA-256.
 */
export const passwordResets = sqliteTable(
  'password_resets',
  {
    tokenHash: text('token_hash').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    createdBy: text('created_by').notNull(),
    createdAt: integer('created_at').notNull(),
    expiresAt: integer('expires_at').notNull(),
    usedAt: integer('used_at'),
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
export const projectEvents = sqliteTable(
  'project_events',
  {
    seq: integer('seq').primaryKey({ autoIncrement: true }),
    projectId: text('project_id').notNull(),
    environmentId: text('environment_id'),
    kind: text('kind').notNull(),
    actorId: text('actor_id'),
    recipientId: text('recipient_id'),
    subject: text('subject', { mode: 'json' }).$type<Record<string, unknown>>().notNull(),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [index('project_events_project').on(t.projectId, t.seq)],
);

/**
 * A person's inbox (server/domain/notifications.ts): one row per recipient of a notice, written by
 * the event reactor in the change's transaction. The title is in words (names, never ids), `href`
 * the place to act. At most NOTIFICATIONS_KEPT_PER_PERSON per person: older ones are deleted as new
 * ones arrive.
 */
export const notifications = sqliteTable(
  'notifications',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    userId: text('user_id').notNull(),
    projectId: text('project_id').notNull(),
    environmentId: text('environment_id'),
    kind: text('kind').notNull(),
    title: text('title').notNull(),
    href: text('href').notNull(),
    /** For `approval_requested`: the request (the inbox offers to approve it). */
    requestId: text('request_id'),
    /** The project event it came from. */
    eventSeq: integer('event_seq').notNull(),
    createdAt: integer('created_at').notNull(),
    readAt: integer('read_at'),
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
export const idempotencyKeys = sqliteTable(
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
    createdAt: integer('created_at').notNull(),
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
export const scheduledReleases = sqliteTable(
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
    at: integer('at').notNull(),
    createdBy: text('created_by').notNull(),
    message: text('message'),
    confirmMissingSecrets: integer('confirm_missing_secrets', { mode: 'boolean' }).notNull(),
    confirmUndoHotfix: integer('confirm_undo_hotfix', { mode: 'boolean' }).notNull(),
    state: text('state').$type<'pending' | 'done' | 'failed' | 'cancelled'>().notNull(),
    errorId: text('error_id'),
    errorMessage: text('error_message'),
    releaseSeq: integer('release_seq'),
    createdAt: integer('created_at').notNull(),
    finishedAt: integer('finished_at'),
  },
  (t) => [
    index('scheduled_releases_due').on(t.state, t.at),
    index('scheduled_releases_env').on(t.environmentId, t.state),
  ],
);

/** Freeze windows per environment (SCHED): JSON `[{from, to, reason}]` (epoch ms), at most 50. */
export const freezeWindows = sqliteTable('freeze_windows', {
  environmentId: text('environment_id')
    .primaryKey()
    .references(() => environments.id, { onDelete: 'cascade' }),
  windows: text('windows').notNull(),
  updatedBy: text('updated_by').notNull(),
  updatedAt: integer('updated_at').notNull(),
});

/**
 * A project's webhook endpoints (WH): where signed deliveries go. The signing secret is sealed
 * (server/domain/sealer.ts, slot `webhook:<id>`); after a rotation the previous one keeps signing
 * until `previousSecretValidUntil` (WH-6). `events`: JSON array of event names, or `["*"]`.
 */
export const webhooks = sqliteTable(
  'webhooks',
  {
    id: text('id').primaryKey(),
    projectId: text('project_id')
      .notNull()
      .references(() => projects.id, { onDelete: 'cascade' }),
    url: text('url').notNull(),
    description: text('description').notNull(),
    events: text('events', { mode: 'json' }).$type<string[]>().notNull(),
    enabled: integer('enabled', { mode: 'boolean' }).notNull(),
    disabledReason: text('disabled_reason').$type<'gone' | 'failing' | 'manual'>(),
    sealedSecret: blob('sealed_secret', { mode: 'buffer' }).notNull(),
    previousSealedSecret: blob('previous_sealed_secret', { mode: 'buffer' }),
    previousSecretValidUntil: integer('previous_secret_valid_until'),
    createdBy: text('created_by').notNull(),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [index('webhooks_project').on(t.projectId, t.createdAt)],
);

/**
 * The webhook outbox (WH): one row per delivery, written by the event reactor in the change's
 * transaction and sent after commit by the delivery worker, which claims a row with a lease
 * (`leaseUntil`) so no two processes send it at once and a crashed send is retried after it.
 * `attempts`: JSON array of WebhookAttemptView (bounded by the retry schedule).
 */
export const webhookDeliveries = sqliteTable(
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
    attempts: text('attempts', { mode: 'json' }).$type<unknown[]>().notNull(),
    nextAttemptAt: integer('next_attempt_at'),
    leaseUntil: integer('lease_until'),
    createdAt: integer('created_at').notNull(),
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
 * `claim_expires_at`), and deletes it when done. A claim whose holder died expires and the row is
 * claimed again. Among waiting rows (unclaimed) `(kind, key)` is unique, so a burst of enqueues of
 * one piece of work coalesces into one row (PG-81). `payload`: JSON text, at most 64 KiB.
 */
export const jobs = sqliteTable(
  'jobs',
  {
    id: text('id').primaryKey(),
    kind: text('kind').notNull(),
    key: text('key').notNull(),
    payload: text('payload').notNull(),
    runAt: integer('run_at').notNull(),
    attempts: integer('attempts').notNull().default(0),
    claimedBy: text('claimed_by'),
    claimToken: text('claim_token'),
    claimExpiresAt: integer('claim_expires_at'),
    createdAt: integer('created_at').notNull(),
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
