import type { Config } from './config.ts';
import type { DraftLog } from './collab/draft-log.ts';
import { Leases } from './cluster/leases.ts';
import { ownedDraftLog } from './cluster/owned-drafts.ts';
import { holdNodeId } from './store/pg/node-lock.ts';
import type { Transactor } from './store/port.ts';
import { openDatabase, type OpenDatabase } from './store/db.ts';
import { createAccountStore } from './store/accounts.ts';
import { createProjectStore } from './store/projects.ts';
import { createDraftStore } from './store/drafts.ts';
import { createReplicationStore } from './store/replication.ts';
import { createReleaseStore } from './store/releases.ts';
import { createSnapshotStore } from './store/snapshots.ts';
import { createHotfixStore } from './store/hotfixes.ts';
import { createLocalStore } from './store/local.ts';
import { createMemberStore } from './store/members.ts';
import { createInvitationStore } from './store/invitations.ts';
import { createAuditStore } from './store/audit.ts';
import { createGateStore } from './store/gates.ts';
import { createShareStore } from './store/shares.ts';
import { createAudienceStore } from './store/audiences.ts';
import { createPasswordResetStore } from './store/password-resets.ts';
import { createRetentionStore } from './store/retention.ts';
import { createEventStore } from './store/events.ts';
import { createScheduleStore } from './store/schedule.ts';
import { createNotificationStore } from './store/notifications.ts';
import { createIdempotencyStore } from './store/idempotency.ts';
import { createWebhookStore } from './store/webhooks.ts';
import { createJobStore } from './store/jobs.ts';
import {
  openOwnerPool,
  openPostgres,
  SERVER_APPLICATION_NAME,
  type Postgres,
} from './store/pg/db.ts';
import { createLeaseStore } from './store/pg/leases.ts';
import { createPgAccountStore } from './store/pg/accounts.ts';
import { createPgProjectStore } from './store/pg/projects.ts';
import { createPgReplicationStore } from './store/pg/replication.ts';
import { createPgReleaseStore } from './store/pg/releases.ts';
import { createPgSnapshotStore } from './store/pg/snapshots.ts';
import { createPgHotfixStore } from './store/pg/hotfixes.ts';
import { createPgLocalStore } from './store/pg/local.ts';
import { createPgMemberStore } from './store/pg/members.ts';
import { createPgInvitationStore } from './store/pg/invitations.ts';
import { createPgAuditStore } from './store/pg/audit.ts';
import { createPgGateStore } from './store/pg/gates.ts';
import { createPgShareStore } from './store/pg/shares.ts';
import { createPgAudienceStore } from './store/pg/audiences.ts';
import { createPgPasswordResetStore } from './store/pg/password-resets.ts';
import { createPgRetentionStore } from './store/pg/retention.ts';
import { createPgEventStore } from './store/pg/events.ts';
import { createPgScheduleStore } from './store/pg/schedule.ts';
import { createPgNotificationStore } from './store/pg/notifications.ts';
import { createPgIdempotencyStore } from './store/pg/idempotency.ts';
import { createPgWebhookStore } from './store/pg/webhooks.ts';
import { createPgJobStore } from './store/pg/jobs.ts';

/** Every store over the one SQLite connection (so one store's writes can join another's transaction). */
function sqliteStores(database: OpenDatabase) {
  const port = database.transactions.port;
  const db = database.db;
  return {
    accounts: port(createAccountStore(db)),
    projects: port(createProjectStore(db)),
    releases: port(createReleaseStore(db)),
    snapshots: port(createSnapshotStore(db)),
    hotfixes: port(createHotfixStore(db)),
    audit: port(createAuditStore(db)),
    gates: port(createGateStore(db)),
    schedule: port(createScheduleStore(db)),
    members: port(createMemberStore(db)),
    invitations: port(createInvitationStore(db)),
    shares: port(createShareStore(db)),
    replication: port(createReplicationStore(db)),
    audiences: port(createAudienceStore(db)),
    local: port(createLocalStore(db)),
    retention: port(createRetentionStore(db)),
    passwordResets: port(createPasswordResetStore(db)),
    events: port(createEventStore(db)),
    notifications: port(createNotificationStore(db)),
    idempotency: port(createIdempotencyStore(db)),
    webhooks: port(createWebhookStore(db)),
    jobs: port(createJobStore(db)),
  };
}

export type Stores = ReturnType<typeof sqliteStores>;

/** The same stores over PostgreSQL (each `satisfies` its SQLite shape made async, PG-10). */
function pgStores(pgx: Postgres) {
  return {
    accounts: createPgAccountStore(pgx),
    projects: createPgProjectStore(pgx),
    releases: createPgReleaseStore(pgx),
    snapshots: createPgSnapshotStore(pgx),
    hotfixes: createPgHotfixStore(pgx),
    audit: createPgAuditStore(pgx),
    gates: createPgGateStore(pgx),
    schedule: createPgScheduleStore(pgx),
    members: createPgMemberStore(pgx),
    invitations: createPgInvitationStore(pgx),
    shares: createPgShareStore(pgx),
    replication: createPgReplicationStore(pgx),
    audiences: createPgAudienceStore(pgx),
    local: createPgLocalStore(pgx),
    retention: createPgRetentionStore(pgx),
    passwordResets: createPgPasswordResetStore(pgx),
    events: createPgEventStore(pgx),
    notifications: createPgNotificationStore(pgx),
    idempotency: createPgIdempotencyStore(pgx),
    webhooks: createPgWebhookStore(pgx),
    jobs: createPgJobStore(pgx),
  } satisfies Stores;
}

/**
 * Where the data lives (PG-100): the one place that decides the dialect. The rest of the server
 * sees stores, a transactor and the draft log, whichever database holds them.
 */
export interface Backing {
  stores: Stores;
  atomically: Transactor['atomically'];
  drafts: DraftLog;
  /**
   * The SQLite database (operations and fault tests); on PostgreSQL its parts throw when used and
   * `close` closes PostgreSQL.
   */
  database: OpenDatabase;
  /** Draft ownership on PostgreSQL; `onLost` is wired once the rooms exist. */
  leases: Leases | null;
  /** Called with each draft whose lease was lost (set by whoever serves the drafts). */
  onLeaseLost: (fn: (draftId: string) => void) => void;
  close(): Promise<void>;
}

export function sqliteBacking(config: Readonly<Config>, log: (msg: string) => void): Backing {
  const database = openDatabase(config.dataDir, config.sqliteSynchronous, log);
  return {
    stores: sqliteStores(database),
    atomically: database.transactions.atomically,
    drafts: createDraftStore(database.sqlite, database.transactions.heldByOther),
    database,
    leases: null,
    onLeaseLost: () => {},
    close: () => database.close(),
  };
}

/** PostgreSQL at DATABASE_URL (migrated under an advisory lock); no SQLite file is made. */
export async function postgresBacking(
  cluster: NonNullable<Config['cluster']>,
  log: (msg: string) => void,
): Promise<Backing> {
  // One running process per NODE_ID, before anything else (PG-59).
  const nodeLock = await holdNodeId(cluster.databaseUrl, cluster.nodeId, cluster.nodeIdWaitMs, log);
  const pgx = await openPostgres(cluster.databaseUrl, {
    log,
    bounded: true,
    name: SERVER_APPLICATION_NAME,
  }).catch(async (err: unknown) => {
    await nodeLock.release();
    throw err;
  });
  // Leases and the draft log on their own connections (PG-184): domain work cannot starve them.
  const owner = openOwnerPool(cluster.databaseUrl, log);
  let lost: (draftId: string) => void = () => {};
  const leases = new Leases({
    store: createLeaseStore(owner),
    nodeId: cluster.nodeId,
    url: cluster.internalUrl,
    onLost: (draftId) => lost(draftId),
    log,
  });
  const close = async () => {
    await leases.close();
    await owner.close();
    await pgx.close();
    await nodeLock.release();
  };
  return {
    stores: pgStores(pgx),
    atomically: (fn) => pgx.atomically(fn),
    drafts: ownedDraftLog(owner, leases),
    database: noSqlite(close),
    leases,
    onLeaseLost: (fn) => void (lost = fn),
    close,
  };
}

/** What stands for the SQLite database on PostgreSQL: using it is a mistake, said at once. */
function noSqlite(close: () => Promise<void>): OpenDatabase {
  const refuse = (): never => {
    throw new Error('this server runs on PostgreSQL (DATABASE_URL): there is no SQLite database');
  };
  return {
    get db() {
      return refuse();
    },
    get sqlite() {
      return refuse();
    },
    get transactions() {
      return refuse();
    },
    close,
  };
}
