import { createTickets } from './cluster/tickets.ts';
import { createDraftGateway } from './cluster/draft-gateway.ts';
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import type { Config } from './config.ts';
import { createAccounts } from './domain/accounts.ts';
import { createProjects } from './domain/projects.ts';
import { createReplication, REPLICATE_JOB } from './domain/replication.ts';
import { createPulls } from './domain/pull.ts';
import { createDraftPolicy, createFlowRuleChanges } from './domain/flow-rules.ts';
import { Rooms } from './collab/rooms.ts';
import { createCollabUpgrade } from './collab/upgrade.ts';
import { ReplyBudget } from './collab/reply-budget.ts';
import { OpenCredentials } from './collab/credentials.ts';
import { createApp } from './http/app.ts';
import type { SignInLimiter } from './http/rate-limit.ts';
import { createLocalBus, type ClusterBus } from './cluster/bus.ts';
import { createRedisBus } from './cluster/redis-bus.ts';
import { connectInBackground, redisClient } from './cluster/redis-connection.ts';
import { createRedisSignInLimiter, signInHashKey } from './cluster/redis-sign-ins.ts';
import type { ClusterMessage } from './cluster/messages.ts';
import { withAfterCommit } from './store/after-commit.ts';
import { createHmac, randomBytes } from 'node:crypto';
import { createSnapshots } from './domain/snapshots.ts';
import { createReleases } from './domain/releases.ts';
import { createComposition } from './domain/composition.ts';
import { createHotfixes } from './domain/hotfixes.ts';
import { createDiffs } from './domain/diffs.ts';
import { createLocalData } from './domain/local.ts';
import { createSealer } from './domain/sealer.ts';
import { createAccess } from './domain/access.ts';
import { createApprovals } from './domain/approvals.ts';
import { createShares } from './domain/shares.ts';
import { createAudiences } from './domain/audiences.ts';
import { privateDir, tightenFile } from './store/private-files.ts';
import type { OpenDatabase } from './store/db.ts';
import { postgresBacking, sqliteBacking, type Backing } from './backing.ts';
import { absoluteUrl, defaultPublicUrl } from './lib/urls.ts';
import { createVisibility } from './domain/visibility.ts';
import { createBoard } from './domain/board.ts';
import { createPasswordResets } from './domain/password-resets.ts';
import { createRetention } from './domain/retention.ts';
import { createProjectEvents } from './domain/events.ts';
import { createFreeze, createSchedule, SCHEDULED_JOB } from './domain/schedule.ts';
import { createNotifications } from './domain/notifications.ts';
import { createIdempotency } from './domain/idempotency.ts';
import { createWebhooks } from './domain/webhooks.ts';
import { coalesced } from './lib/coalesce.ts';
import { startJobRunner, type JobRunner, type JobSink } from './cluster/jobs.ts';

type NodeHandler = (req: http.IncomingMessage, res: http.ServerResponse, next: () => void) => void;

export interface Running {
  url: string;
  port: number;
  rooms: Rooms;
  /** The SQLite connection (operations and fault tests: pragmas, checkpoints); throws on PostgreSQL. */
  readonly sqlite: OpenDatabase['sqlite'];
  /** Stops accepting, tells peers to reconnect, flushes every draft and closes the database. */
  close(): Promise<void>;
}

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function log(msg: string, err?: unknown): void {
  // Only messages and error texts: request bodies, tokens and cookies never reach the log.
  const detail = err instanceof Error ? `: ${err.message}` : '';
  console.error(`[stagecoach] ${msg}${detail}`);
}

/** How often this process's job runner looks for jobs due (or enqueued by another process). */
const JOB_POLL_MS = 500;
/** How often, with several processes, the webhook worker looks for deliveries others queued (PG-171). */
const WEBHOOK_POLL_MS = 1000;
/** Resync sweeps asked for while one runs make one more, this long after it ended (red team #16). */
const RESYNC_GAP_MS = 1000;

/** On every response; the page's CSP comes from SvelteKit (vite.config.ts), the API's is the strictest. */
const SECURITY_HEADERS: [string, string][] = [
  ['X-Content-Type-Options', 'nosniff'],
  ['X-Frame-Options', 'DENY'],
  ['Referrer-Policy', 'same-origin'],
  ['Cross-Origin-Opener-Policy', 'same-origin'],
  ['Permissions-Policy', 'camera=(), microphone=(), geolocation=(), payment=()'],
];

/**
 * The secrets key: from SECRETS_KEY, else DATA_DIR/secrets.key (created on first start, readable by
 * the owner only).
 */
function secretsKey(config: Readonly<Config>): Buffer {
  if (config.secretsKey) return config.secretsKey;
  const file = path.join(config.dataDir, 'secrets.key');
  if (!fs.existsSync(file)) {
    privateDir(config.dataDir, log);
    fs.writeFileSync(file, randomBytes(32).toString('base64'), { mode: 0o600, flag: 'wx' });
  }
  tightenFile(file, log);
  const key = Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'base64');
  if (key.length !== 32) throw new Error(`${file} does not hold a 32-byte base64 key`);
  return key;
}

/** The built SvelteKit app (adapter-node), if `vite build` has run. */
async function loadWebHandler(): Promise<NodeHandler | null> {
  const file = path.join(root, 'build', 'handler.js');
  if (!fs.existsSync(file)) return null;
  const mod = (await import(pathToFileURL(file).href)) as { handler: NodeHandler };
  return mod.handler;
}

/**
 * The concrete pieces for one data folder, without listening (tests use `app.request()`).
 * `shared`: what several processes share through Redis (PG-63, PG-110); absent, it is kept in this
 * process (the sign-in counts in memory, control messages on a local bus).
 */
export function createServices(
  config: Readonly<Config>,
  shared: { signIns?: SignInLimiter; bus?: ClusterBus } = {},
  backing: Backing = sqliteBacking(config, log),
) {
  const keyOfSecrets = secretsKey(config);
  // Links people are sent: PUBLIC_URL, else this server's interface and the port it is bound to (known once listening).
  let boundPort = config.port;
  const publicUrl = () => config.publicUrl ?? defaultPublicUrl(config.host, boundPort);
  // Sync sockets by the sign-in that opened them: they close when it ends (sign-out, revocation, expiry, removal).
  const credentials = new OpenCredentials();
  // Stores: built once by the backing (SQLite or PostgreSQL, PG-100), so one store's writes can
  // join another's transaction.
  const s = backing.stores;
  // Changes and their events in one transaction; what other processes are told waits for the
  // commit (PG-111).
  const { atomically, afterCommit } = withAfterCommit(backing);
  // Control messages (PG-110): what closes sockets or wakes readers is published, after the change
  // commits, and a listener below does the local work on every process (this one at once).
  const bus = shared.bus ?? createLocalBus(log);
  const announce = (m: ClusterMessage) => afterCommit(JSON.stringify(m), () => bus.publish(m));
  const accountStore = s.accounts;
  const projectStore = s.projects;
  const releaseStore = s.releases;
  const snapshotStore = s.snapshots;
  const hotfixStore = s.hotfixes;
  const auditStore = s.audit;
  const gateStore = s.gates;
  const scheduleStore = s.schedule;
  const freeze = createFreeze(scheduleStore);
  const memberStore = s.members;
  const invitationStore = s.invitations;
  const shareStore = s.shares;
  const draftStore = backing.drafts;
  const replicationStore = s.replication;
  const audienceStore = s.audiences;
  const localStore = s.local;
  const retentionStore = s.retention;
  const passwordResetStore = s.passwordResets;
  // Work that must happen once (PG-120): the durable job table, asked in each change's
  // transaction; the one runner of this process (startJobs, from start) runs it.
  const jobQueue = s.jobs;
  let jobRunner: JobRunner | null = null;
  // Woken after the change commits (PG-106): inside the transaction the runner would claim in its scope.
  const jobs: JobSink = {
    enqueue: jobQueue.enqueue,
    wake: () => afterCommit('jobs:wake', () => jobRunner?.wake()),
  };
  // What changed in each project, for the event stream and notifications (emitted inside each change's transaction).
  const events = createProjectEvents(s.events, Date.now, (projectId) =>
    announce({ type: 'projectEvent', projectId }),
  );
  // People are told: a reactor on the event log writes each recipient's notification in the change's transaction.
  const notifications = createNotifications({
    atomically,
    events,
    store: s.notifications,
    projects: projectStore,
    members: memberStore,
    accounts: accountStore,
    requests: gateStore,
    invitations: invitationStore,
    feedback: shareStore,
    log,
  });

  const accounts = createAccounts(accountStore, {
    sessionTtlMs: config.sessionTtlMs,
    onEnded: (e) => announce({ type: 'credentialEnded', kind: e.kind, id: e.id }),
    // The projects a removed account leaves announce it, in the removal's transaction.
    onRemoving: async (userId) => {
      for (const m of await memberStore.memberships(userId))
        await events.emit({
          projectId: m.projectId,
          environmentId: null,
          kind: 'members',
          actorId: null,
          subject: { userId },
        });
    },
    atomically,
  });
  const projects = createProjects(projectStore, { emit: events.emit, atomically });
  const snapshots = createSnapshots(snapshotStore);
  // Live drafts as the domain reaches them: through the Rooms registry below (asked only once
  // requests and replication run). With several processes a change of a draft another process
  // owns is made there (the draft gateway, PG-151); a 503 draft_elsewhere changed nothing.
  const tickets = config.cluster ? createTickets(config.cluster.clusterSecret) : null;
  const editDraft = async (
    id: string,
    reason: string,
    change: Parameters<Rooms['edit']>[2],
    durable: boolean,
  ): Promise<boolean> => {
    if (gateway) return await gateway.edit(id, reason, change, durable);
    return await rooms.edit(id, reason, change, durable);
  };
  const drafts = {
    read: (id: string) => rooms.content(id),
    edit: (id: string, reason: string, change: Parameters<Rooms['edit']>[2]) =>
      editDraft(id, reason, change, false),
    close: (id: string, reason: Parameters<Rooms['close']>[1] = 'draft_closed') =>
      announce({ type: 'closeDraft', draftId: id, reason }),
  };
  // Server edits that answer the caller (pull, hotfix port) are all or nothing: a 503 means nothing changed.
  const durableDrafts = {
    ...drafts,
    edit: (id: string, reason: string, change: Parameters<Rooms['edit']>[2]) =>
      editDraft(id, reason, change, true),
  };
  const replication = createReplication({
    atomically,
    projects: projectStore,
    releases: { ...releaseStore, ...snapshotStore },
    snapshots,
    store: replicationStore,
    drafts,
    delayMs: config.replicationDelayMs,
    log,
    jobs,
    emit: events.emit,
  });
  // Flow rules decide which sections a draft's peers may write and what follows a durable change (replication).
  const draftPolicy = createDraftPolicy({ projects: projectStore, replication, log });
  const rooms = new Rooms(draftStore, {
    compactAfterUpdates: config.compactAfterUpdates,
    log,
    policy: draftPolicy,
    maxDraftBytes: config.collabMaxDraftBytes,
    presence: {
      maxStateBytes: config.collabMaxPresenceBytes,
      perSecond: config.collabPresencePerSecond,
      idsPerUser: config.collabMaxPresenceIdsPerUser,
    },
    replyBudget: new ReplyBudget(config.collabFullStateBytesPerSecond),
    refusalBudget: new ReplyBudget(config.collabFullStateBytesPerSecond),
  });
  const gateway = tickets
    ? createDraftGateway({
        rooms,
        tickets,
        maxBodyBytes: Math.max(config.maxBodyBytes, config.collabMaxDraftBytes) + 64 * 1024,
        log,
      })
    : null;
  // A draft this process no longer provably owns stops being served here at once (PG-103).
  backing.onLeaseLost((draftId) => rooms.lost(draftId));
  const composition = createComposition({ projects: projectStore, snapshots, drafts });
  const approvals = createApprovals({
    store: { ...gateStore, ...auditStore },
    projects: projectStore,
    snapshots,
    drafts,
    hotfixDraft: async (envId) => await hotfixStore.openDraft(envId),
    composition,
    emit: events.emit,
    atomically,
  });
  const hotfixes = createHotfixes({
    atomically,
    projects: projectStore,
    store: hotfixStore,
    releases: releaseStore,
    snapshots,
    drafts: durableDrafts,
    gates: approvals,
    freeze,
    audit: async (e, now) => await auditStore.audit(e, now),
    emit: events.emit,
  });
  // Deleting an audience looks at what its environment holds.
  const audiences = createAudiences({
    store: audienceStore,
    projects: projectStore,
    snapshots,
    contents: async (envId) => await composition.pointedContents(envId),
    emit: events.emit,
    atomically,
  });
  // Secrets: localData is created below; asked only when a move is made.
  const releases = createReleases({
    atomically,
    projects: projectStore,
    store: releaseStore,
    snapshots,
    hotfixes: hotfixes.guard,
    gates: approvals,
    audiences,
    composition,
    secrets: {
      missingFor: async (envId, snapshotId) =>
        await localData.missingSecretsWith(envId, snapshotId),
    },
    freeze,
    emit: events.emit,
  });
  const diffs = createDiffs({ projects: projectStore, releases: snapshotStore, snapshots, drafts });
  const access = createAccess({
    store: { ...memberStore, ...invitationStore, ...auditStore },
    accounts: accountStore,
    projects: projectStore,
    hotfixes: hotfixStore,
    onRightsChanged: (userId) => announce({ type: 'closeUser', userId, reason: 'rights_changed' }),
    emit: events.emit,
    atomically,
  });
  const sealer = createSealer(keyOfSecrets);
  // Signed webhooks (WH): a reactor on the event log writes the outbox in each change's transaction.
  const webhookStore = s.webhooks;
  const webhooks = createWebhooks({
    atomically,
    afterCommit,
    store: webhookStore,
    projects: projectStore,
    events,
    sealer,
    requireProjectAdmin: async (p, projectId) => await access.requireProjectAdmin(p, projectId),
    userName: async (id) => (await accountStore.findUserById(id))?.name ?? null,
    release: async (seq) => await webhookStore.release(seq),
    requiredChecks: async (envId) =>
      JSON.parse((await gateStore.gate(envId))?.requiredChecks ?? '[]') as string[],
    absoluteUrl: (p: string) => absoluteUrl(publicUrl(), p),
    config,
    audit: async (e, now) => await auditStore.audit(e, now),
    log,
    // Several processes send from one outbox (PG-171): each polls it, and a queued delivery wakes
    // them all (the bus message wakes this process too; a lost one waits for the next poll).
    ...(config.cluster
      ? { pollMs: WEBHOOK_POLL_MS, wakeOthers: () => bus.publish({ type: 'webhooksDue' }) }
      : {}),
  });
  const localData = createLocalData({
    projects: projectStore,
    store: localStore,
    composition,
    sealer,
    audiences,
    limits: config,
    releases: releaseStore,
    emit: events.emit,
    atomically,
  });
  const retention = createRetention({
    atomically,
    store: retentionStore,
    retentionDays: config.approvalSnapshotRetentionDays,
    expired: async (r, now) =>
      await auditStore.audit(
        {
          projectId: r.projectId,
          environmentId: r.targetEnvironmentId,
          kind: 'request.expired',
          actorId: null,
          subject: {
            requestId: r.id,
            snapshotId: r.snapshotId,
            days: config.approvalSnapshotRetentionDays,
          },
        },
        now,
      ),
  });
  const shares = createShares({
    store: { ...shareStore, ...auditStore },
    projects: projectStore,
    releases: releaseStore,
    snapshots,
    local: localData,
    limits: config,
    names: async (ids) => await accounts.names(ids),
    emit: events.emit,
    atomically,
  });
  const visibility = createVisibility({
    access,
    projects: projectStore,
    releases: { ...releaseStore, ...snapshotStore },
    openRequests: async (projectId) => await gateStore.openRequests(projectId),
  });
  // Idempotency-Key: first answers kept 24 h; request hashes keyed so a body's secret cannot be guessed from them.
  const idempotency = createIdempotency({
    store: s.idempotency,
    hashKey: createHmac('sha256', keyOfSecrets).update('stagecoach idempotency requests').digest(),
  });
  // PUBLIC_URL is where browsers reach us: its origin may write, like one in ALLOWED_ORIGINS.
  const allowedOrigins = config.publicUrl
    ? [...config.allowedOrigins, new URL(config.publicUrl).origin]
    : config.allowedOrigins;
  // Scheduled releases: run as the person who scheduled them, re-authorized at their time.
  const schedule = createSchedule({
    store: scheduleStore,
    releases,
    atomically,
    emit: events.emit,
    principalOf: async (userId) => {
      const u = await accountStore.findUserById(userId);
      return u
        ? {
            user: { id: u.id, email: u.email, name: u.name },
            isInstanceAdmin: u.isInstanceAdmin,
            via: 'token',
            credential: { kind: 'token', id: 'scheduler', expiresAt: null },
          }
        : null;
    },
    authorize: async (p, kind, envId) =>
      void (await access.authorize(p, kind === 'publish' ? 'env.publish' : 'env.sync', envId)),
    log,
    jobs,
  });
  const app = createApp({
    webhooks,
    schedule,
    freeze,
    idempotency,
    events,
    notifications,
    eventStreams: {
      perUser: config.eventStreamsPerUser,
      perProject: config.eventStreamsPerProject,
      perServer: config.eventStreams,
      maxBufferedBytes: config.eventStreamMaxBufferedBytes,
    },
    deliveryWaits: {
      perKey: config.deliveryWaitsPerKey,
      perProject: config.deliveryWaitsPerProject,
      perServer: config.deliveryWaits,
    },
    credentials,
    accounts,
    projects,
    drafts: durableDrafts,
    releases,
    snapshots,
    diffs,
    hotfixes,
    localData,
    access,
    approvals,
    shares,
    audiences,
    replication,
    pulls: createPulls({
      atomically,
      projects: projectStore,
      releases: releaseStore,
      snapshots,
      drafts: durableDrafts,
      replication,
      emit: events.emit,
    }),
    flowRules: createFlowRuleChanges({
      projects: projectStore,
      releases: releaseStore,
      snapshots,
      drafts: durableDrafts,
      contentWith: composition.contentWith,
      openHotfix: async (envId) => (await hotfixStore.openDraft(envId)) !== undefined,
      replication,
      sourceMoved: async (envId, snapshotId) => await approvals.sourceMoved(envId, snapshotId),
      audit: async (e, now) => await auditStore.audit(e, now),
      onChanged: (projectId) => announce({ type: 'flowRulesChanged', projectId }),
      emit: events.emit,
      atomically,
    }),
    passwordResets: createPasswordResets({ store: passwordResetStore, accounts: accountStore }),
    allowedOrigins,
    trustProxy: config.trustProxy,
    maxBodyBytes: config.maxBodyBytes,
    sessionTtlMs: config.sessionTtlMs,
    secureCookies: config.secureCookies,
    signIns: shared.signIns,
    log,
    absoluteUrl: (p: string) => absoluteUrl(publicUrl(), p),
    visibility,
    board: createBoard({
      projects,
      releases,
      snapshots,
      diffs,
      hotfixes,
      accounts,
      approvals,
      access,
      localData,
      visibility,
      openFeedback: shares.openCounts,
      replication,
    }),
  });
  const collab = createCollabUpgrade({
    accounts,
    projects,
    rooms,
    access,
    credentials,
    maxFrameBytes: config.collabMaxFrameBytes,
    maxBufferedBytes: config.collabMaxBufferedBytes,
    maxConnectionsPerUser: config.collabMaxConnectionsPerUser,
    maxConnections: config.collabMaxConnections,
    allowedOrigins,
    trustProxy: config.trustProxy,
    log,
    ...(tickets && config.cluster ? { relay: { tickets, nodeId: config.cluster.nodeId } } : {}),
  });
  // What each control message does in this process, whichever process published it (PG-110).
  bus.on('closeUser', (m) => rooms.closeUser(m.userId));
  bus.on('credentialEnded', (m) => credentials.closeFor({ kind: m.kind, id: m.id }));
  bus.on('closeDraft', (m) => rooms.close(m.draftId, m.reason));
  bus.on('flowRulesChanged', () => draftPolicy.rulesChanged());
  bus.on('projectEvent', (m) => events.wake(m.projectId));
  // Delivery waits read project events: an environment's wake-up wakes its project's readers.
  bus.on('deliveryEvent', (m) => events.wake(m.projectId));
  bus.on('webhooksDue', () => webhooks.wake());
  // Messages may have been lost while Redis was away (PG-112): re-read every open socket's and
  // stream's credential and rights, re-read flow rules, and wake every watched project once.
  // One sweep at a time, and any number of resyncs meanwhile make one more (red team #16: a
  // flapping Redis chained a full sweep per reconnect, without end).
  const sweeps = coalesced(
    async () => {
      draftPolicy.rulesChanged();
      for (const projectId of events.watched()) events.wake(projectId);
      const closed = await credentials.revalidate(
        async (c, userId) => await accounts.holds(c, userId),
        log,
      );
      if (closed > 0) log(`resync: closed ${closed} connections whose rights changed meanwhile`);
    },
    {
      gapMs: RESYNC_GAP_MS,
      onError: (err) => log('resync: the re-validation sweep failed', err),
    },
  );
  bus.onResynced(() => sweeps.ask());
  // boundTo: called once listening, for the port links name when PUBLIC_URL is unset.
  return {
    database: backing.database,
    accounts,
    projects,
    rooms,
    app,
    collab,
    /** With several processes, the endpoint through which the others change drafts owned here. */
    gateway,
    releases,
    hotfixes,
    localData,
    snapshots,
    access,
    approvals,
    replication,
    retention,
    events,
    idempotency,
    schedule,
    webhooks,
    bus,
    credentials,
    /** The resync sweep in progress, if any (tests and shutdown wait on it). */
    /** Ends resync sweeps (shutdown): the one under way finishes, none starts after it. */
    stopResyncs: () => sweeps.stop(),
    resyncing: () => sweeps.idle(),
    boundTo: (port: number) => void (boundPort = port),
    /** Starts this process's one job runner (PG-120); stop it before the database closes. */
    startJobs: (): JobRunner =>
      (jobRunner = startJobRunner({
        queue: jobQueue,
        nodeId: config.cluster?.nodeId ?? 'local',
        handlers: { [REPLICATE_JOB]: replication.job, [SCHEDULED_JOB]: schedule.job },
        pollMs: JOB_POLL_MS,
        log,
      })),
  };
}

/** Wires the concrete pieces and listens: UI, API and sync on one port. */
export async function start(
  config: Readonly<Config>,
  opts: {
    web?: boolean;
    /** A bus built by the caller (tests: two servers on one data folder and one Redis); closed by `close`. */
    bus?: ClusterBus;
  } = {},
): Promise<Running> {
  // One place decides the dialect (PG-100): DATABASE_URL and the cluster keys, else SQLite. First:
  // a process refused here (PG-59: its NODE_ID taken) has opened nothing else.
  const backing = config.cluster
    ? await postgresBacking(config.cluster, log)
    : sqliteBacking(config, log);
  // Several processes (PG-110): control messages and sign-in counts through Redis. Nothing waits
  // for Redis here: both connect in the background (PG-62, PG-65).
  const redisUrl = config.cluster?.redisUrl;
  const bus =
    opts.bus ??
    (redisUrl
      ? createRedisBus({ url: redisUrl, secret: config.cluster?.clusterSecret, log })
      : createLocalBus(log));
  const redis = redisUrl ? redisClient(redisUrl, 'sign-ins', log) : null;
  if (redis) void connectInBackground(redis);
  const signIns = redis
    ? createRedisSignInLimiter({ client: redis, hashKey: signInHashKey(secretsKey(config)), log })
    : undefined;
  const {
    database,
    rooms,
    app,
    collab,
    projects,
    replication: replicator,
    retention,
    events,
    idempotency,
    webhooks,
    boundTo,
    startJobs,
    stopResyncs,
    resyncing,
    gateway,
  } = createServices(config, { bus, ...(signIns ? { signIns } : {}) }, backing);
  const api = getRequestListener(app.fetch);
  const web = opts.web === false ? null : await loadWebHandler();
  if (opts.web !== false && !web)
    log('no web build found (run `npm run build`); serving the API and sync only');

  const server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    for (const [k, v] of SECURITY_HEADERS) res.setHeader(k, v);
    if (gateway?.handles(url)) return void gateway.serve(req, res);
    if (url === '/api' || url.startsWith('/api/') || url.startsWith('/api?')) {
      res.setHeader('Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'");
      return void api(req, res);
    }
    if (!web) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found');
      return;
    }
    web(req, res, () => res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found'));
  });
  server.on('upgrade', (req, socket, head) => void collab.handleUpgrade(req, socket, head));

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  boundTo(port);
  // Flow rules: a change stored before the last stop whose job was not (a flush's enqueue lost to
  // a crash, rows from before the job table) replicates now; a burst of these is one job each.
  for (const p of await projects.list())
    if (Object.values(p.flowRules).some((r) => r.direction === 'down'))
      await replicator.schedule(p.id);
  // Snapshots of abandoned approval requests and old project events: swept at start, then daily.
  let sweeping: Promise<unknown> = Promise.resolve();
  const sweep = async () => {
    try {
      await events.prune();
    } catch (err) {
      log('pruning old project events failed; it runs again tomorrow', err);
    }
    try {
      await webhooks.prune();
    } catch (err) {
      log('pruning old webhook deliveries failed; it runs again tomorrow', err);
    }
    try {
      await idempotency.sweep();
    } catch (err) {
      log('sweeping expired idempotency keys failed; it runs again tomorrow', err);
    }
    sweeping = retention
      .sweep()
      .catch((err: unknown) =>
        log('the approval snapshot retention sweep failed; it runs again tomorrow', err),
      );
  };
  await sweep();
  const daily = setInterval(() => void sweep(), 86_400_000);
  daily.unref();
  // Replication and scheduled releases (missed while stopped too) run as jobs from now on.
  const jobRunner = startJobs();
  // Webhook deliveries: everything due (left over from before a stop or a crash) goes now.
  webhooks.start();
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;

  let closing: Promise<void> | null = null;
  return {
    url: `http://${host}:${port}`,
    port,
    rooms,
    get sqlite() {
      return database.sqlite;
    },
    close() {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        await jobRunner.stop();
        await webhooks.stop();
        clearInterval(daily);
        retention.stop();
        await sweeping;
        if (!(await rooms.shutdown()))
          log('some drafts could not be compacted at shutdown; their update logs hold everything');
        collab.close();
        server.closeAllConnections();
        await stopped;
        await bus.close();
        redis?.destroy();
        stopResyncs();
        await resyncing();
        await database.close();
      })();
      return closing;
    },
  };
}
