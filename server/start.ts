import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import type { Config } from './config.ts';
import { openDatabase, type OpenDatabase } from './store/db.ts';
import { createAccountStore } from './store/accounts.ts';
import { createProjectStore } from './store/projects.ts';
import { createDraftStore } from './store/drafts.ts';
import { createAccounts } from './domain/accounts.ts';
import { createProjects } from './domain/projects.ts';
import { draftSections, parseFlowRules } from '#schema/flow.ts';
import { createReplication, type Replication } from './domain/replication.ts';
import { createPulls } from './domain/pull.ts';
import { createFlowRuleChanges } from './domain/flow-rules.ts';
import { createReplicationStore } from './store/replication.ts';
import { SECTIONS } from '#schema/content/spec.ts';
import { Rooms } from './collab/rooms.ts';
import { createCollabUpgrade } from './collab/upgrade.ts';
import { ReplyBudget } from './collab/reply-budget.ts';
import { OpenCredentials } from './collab/credentials.ts';
import { createApp } from './http/app.ts';
import { randomBytes } from 'node:crypto';
import { createReleaseStore } from './store/releases.ts';
import { createHotfixStore } from './store/hotfixes.ts';
import { createLocalStore } from './store/local.ts';
import { createSnapshots } from './domain/snapshots.ts';
import { createReleases } from './domain/releases.ts';
import { createComposition } from './domain/composition.ts';
import { createHotfixes } from './domain/hotfixes.ts';
import { createDiffs } from './domain/diffs.ts';
import { createLocalData } from './domain/local.ts';
import { createSealer } from './domain/sealer.ts';
import { createAccess } from './domain/access.ts';
import { createAccessStore } from './store/access.ts';
import { createApprovals } from './domain/approvals.ts';
import { createShares } from './domain/shares.ts';
import { createAudiences } from './domain/audiences.ts';
import { createAudienceStore } from './store/audiences.ts';
import { privateDir, tightenFile } from './store/private-files.ts';
import { absoluteUrl, defaultPublicUrl } from './lib/urls.ts';
import { createVisibility } from './domain/visibility.ts';
import { createBoard } from './domain/board.ts';
import { createPasswordResets } from './domain/password-resets.ts';
import { createPasswordResetStore } from './store/password-resets.ts';
import { createRetention } from './domain/retention.ts';
import { createRetentionStore } from './store/retention.ts';

type NodeHandler = (req: http.IncomingMessage, res: http.ServerResponse, next: () => void) => void;

export interface Running {
  url: string;
  port: number;
  rooms: Rooms;
  /** The SQLite connection (operations and fault tests: pragmas, checkpoints). */
  sqlite: OpenDatabase['sqlite'];
  /** Stops accepting, tells peers to reconnect, flushes every draft and closes the database. */
  close(): Promise<void>;
}

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function log(msg: string, err?: unknown): void {
  // Only messages and error texts: request bodies, tokens and cookies never reach the log.
  const detail = err instanceof Error ? `: ${err.message}` : '';
  console.error(`[stagecoach] ${msg}${detail}`);
}

/** On every response; the page's CSP comes from SvelteKit (vite.config.ts), the API's is the strictest. */
const SECURITY_HEADERS: [string, string][] = [
  ['X-Content-Type-Options', 'nosniff'],
  ['X-Frame-Options', 'DENY'],
  ['Referrer-Policy', 'same-origin'],
  ['Cross-Origin-Opener-Policy', 'same-origin'],
  ['Permissions-Policy', 'camera=(), microphone=(), geolocation=(), payment=()'],
];

/** The secrets key: from SECRETS_KEY, else DATA_DIR/secrets.key (created on first start, readable by the owner only). */
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

/** The concrete pieces for one data folder, without listening (tests use `app.request()`). */
export function createServices(config: Readonly<Config>) {
  const database = openDatabase(config.dataDir, config.sqliteSynchronous, log);
  // Links people are sent: PUBLIC_URL, else this server's interface and the port it is bound to (known once listening).
  let boundPort = config.port;
  const publicUrl = () => config.publicUrl ?? defaultPublicUrl(config.host, boundPort);
  // Sync sockets by the sign-in that opened them: they close when it ends (sign-out, revocation, expiry, removal).
  const credentials = new OpenCredentials();
  const accounts = createAccounts(createAccountStore(database.db), { sessionTtlMs: config.sessionTtlMs, onEnded: (e) => credentials.closeFor(e) });
  const projects = createProjects(createProjectStore(database.db));
  const projectStore = createProjectStore(database.db);
  // Flow rules: a draft that owns only some sections refuses changes to the others.
  const readOnlySections = (draftId: string) => {
    const draft = projectStore.getDraft(draftId)?.draft;
    if (!draft?.sections) return new Set<string>();
    const owned = draftSections(draft);
    return new Set<string>(SECTIONS.filter((s) => !owned.includes(s)));
  };
  // Flow rules: a change to a draft of a project with `down` sections schedules its replication.
  let replication: Replication | null = null;
  const replicatedProject = new Map<string, string | null>();
  const onDurable = (draftId: string) => {
    let projectId = replicatedProject.get(draftId);
    if (projectId === undefined) {
      const project = projectStore.getProject(projectStore.getDraft(draftId)?.draft.projectId ?? '');
      const rules = project ? parseFlowRules(project.project.flowRules) : null;
      projectId = rules && SECTIONS.some((s) => rules[s].direction === 'down') ? project!.project.id : null;
      replicatedProject.set(draftId, projectId);
    }
    if (projectId) replication?.schedule(projectId);
  };
  const rooms = new Rooms(createDraftStore(database.sqlite), {
    compactAfterUpdates: config.compactAfterUpdates,
    log,
    readOnlySections,
    onDurable,
    maxDraftBytes: config.collabMaxDraftBytes,
    presence: { maxStateBytes: config.collabMaxPresenceBytes, perSecond: config.collabPresencePerSecond, idsPerUser: config.collabMaxPresenceIdsPerUser },
    replyBudget: new ReplyBudget(config.collabFullStateBytesPerSecond),
    refusalBudget: new ReplyBudget(config.collabFullStateBytesPerSecond),
  });
  const releaseStore = createReleaseStore(database.db);
  const snapshots = createSnapshots(releaseStore);
  const drafts = { read: (id: string) => rooms.content(id), edit: rooms.edit.bind(rooms), close: rooms.close.bind(rooms) };
  // Server edits that answer the caller (pull, hotfix port) are all or nothing: a 503 means nothing changed.
  const durableDrafts = { ...drafts, edit: (id: string, reason: string, change: Parameters<typeof rooms.edit>[2]) => rooms.edit(id, reason, change, true) };
  const hotfixStore = createHotfixStore(database.db);
  const accessStore = createAccessStore(database.db);
  const composition = createComposition({ projects: projectStore, snapshots, drafts });
  const approvals = createApprovals({ store: accessStore, projects: projectStore, snapshots, drafts, hotfixDraft: (envId) => hotfixStore.openDraft(envId), composition });
  const hotfixes = createHotfixes({ projects: projectStore, store: hotfixStore, releases: releaseStore, snapshots, drafts: durableDrafts, gates: approvals, audit: (e, now) => accessStore.audit(e, now) });
  replication = createReplication({ projects: projectStore, releases: releaseStore, snapshots, store: createReplicationStore(database.db), drafts, delayMs: config.replicationDelayMs, log });
  // Deleting an audience looks at what its environment holds.
  const audiences = createAudiences({ store: createAudienceStore(database.db), projects: projectStore, snapshots, contents: (envId) => composition.pointedContents(envId) });
  // Secrets: localData is created below; asked only when a move is made.
  const releases = createReleases({ projects: projectStore, store: releaseStore, snapshots, hotfixes: hotfixes.guard, gates: approvals, audiences, composition, secrets: { missingFor: (envId, snapshotId) => localData.missingSecretsWith(envId, snapshotId) } });
  const diffs = createDiffs({ projects: projectStore, releases: releaseStore, snapshots, drafts });
  const access = createAccess({ store: accessStore, accounts: createAccountStore(database.db), projects: projectStore, hotfixes: hotfixStore, onRightsChanged: (userId) => rooms.closeUser(userId) });
  const localData = createLocalData({ projects: projectStore, store: createLocalStore(database.db), composition, sealer: createSealer(secretsKey(config)), audiences, limits: config });
  const retention = createRetention({
    store: createRetentionStore(database.db),
    retentionDays: config.approvalSnapshotRetentionDays,
    expired: (r, now) => accessStore.audit({ projectId: r.projectId, environmentId: r.targetEnvironmentId, kind: 'request.expired', actorId: null, subject: { requestId: r.id, snapshotId: r.snapshotId, days: config.approvalSnapshotRetentionDays } }, now),
  });
  const shares = createShares({ store: accessStore, projects: projectStore, releases: releaseStore, snapshots, local: localData, limits: config });
  const visibility = createVisibility({ access, projects: projectStore, releases: releaseStore, openRequests: (projectId) => accessStore.openRequests(projectId) });
  // PUBLIC_URL is where browsers reach us: its origin may write, like one in ALLOWED_ORIGINS.
  const allowedOrigins = config.publicUrl ? [...config.allowedOrigins, new URL(config.publicUrl).origin] : config.allowedOrigins;
  const app = createApp({
    accounts,
    projects,
    rooms,
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
    pulls: createPulls({ projects: projectStore, releases: releaseStore, snapshots, drafts: durableDrafts, replication }),
    flowRules: createFlowRuleChanges({
      projects: projectStore,
      releases: releaseStore,
      snapshots,
      drafts: durableDrafts,
      contentWith: composition.contentWith,
      openHotfix: (envId) => hotfixStore.openDraft(envId) !== undefined,
      replication,
      sourceMoved: (envId, snapshotId) => approvals.sourceMoved(envId, snapshotId),
      audit: (e, now) => accessStore.audit(e, now),
      onChanged: () => replicatedProject.clear(),
      atomically: (fn) => projectStore.atomically(fn),
    }),
    passwordResets: createPasswordResets({ store: createPasswordResetStore(database.db), accounts: createAccountStore(database.db) }),
    allowedOrigins,
    trustProxy: config.trustProxy,
    maxBodyBytes: config.maxBodyBytes,
    sessionTtlMs: config.sessionTtlMs,
    secureCookies: config.secureCookies,
    log,
    absoluteUrl: (p: string) => absoluteUrl(publicUrl(), p),
    visibility,
    board: createBoard({ projects, releases, snapshots, diffs, hotfixes, accounts, approvals, access, localData, visibility }),
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
  });
  // boundTo: called once listening, for the port links name when PUBLIC_URL is unset.
  return { database, accounts, projects, rooms, app, collab, releases, hotfixes, localData, snapshots, access, approvals, replication, retention, boundTo: (port: number) => void (boundPort = port) };
}

/** Wires the concrete pieces and listens: UI, API and sync on one port. */
export async function start(config: Readonly<Config>, opts: { web?: boolean } = {}): Promise<Running> {
  const { database, rooms, app, collab, projects, replication: replicator, retention, boundTo } = createServices(config);
  const api = getRequestListener(app.fetch);
  const web = opts.web === false ? null : await loadWebHandler();
  if (opts.web !== false && !web) log('no web build found (run `npm run build`); serving the API and sync only');

  const server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    for (const [k, v] of SECURITY_HEADERS) res.setHeader(k, v);
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
  server.on('upgrade', (req, socket, head) => collab.handleUpgrade(req, socket, head));

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  boundTo(port);
  // Flow rules: a change stored just before the last stop replicates now (a project in sync is left as it is).
  for (const p of projects.list()) if (Object.values(p.flowRules).some((r) => r.direction === 'down')) replicator.schedule(p.id);
  // Snapshots of abandoned approval requests: swept at start, then daily.
  let sweeping: Promise<unknown> = Promise.resolve();
  const sweep = () => {
    sweeping = retention.sweep().catch((err: unknown) => log('the approval snapshot retention sweep failed; it runs again tomorrow', err));
  };
  sweep();
  const daily = setInterval(sweep, 86_400_000);
  daily.unref();
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;

  let closing: Promise<void> | null = null;
  return {
    url: `http://${host}:${port}`,
    port,
    rooms,
    sqlite: database.sqlite,
    close() {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        replicator.stop();
        clearInterval(daily);
        retention.stop();
        await sweeping;
        if (!rooms.closeAll()) log('some drafts could not be compacted at shutdown; their update logs hold everything');
        collab.close();
        server.closeAllConnections();
        await stopped;
        await database.close();
      })();
      return closing;
    },
  };
}
