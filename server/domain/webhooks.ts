import { AsyncResource } from 'node:async_hooks';
import { createHmac, randomBytes } from 'node:crypto';
import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import ipaddr from 'ipaddr.js';
import { AppError } from '#schema/errors.ts';
import {
  type WebhookAttemptView,
  type WebhookCreated,
  type WebhookData,
  type WebhookDeliveryView,
  type WebhookEventType,
  type WebhookPayload,
  type WebhookView,
} from '#schema/api/webhooks.ts';
import type { DeliveryRow, WebhookRow, WebhookStore } from '../store/webhooks.ts';
import { retryable } from '../store/port.ts';
import type { ProjectStore } from '../store/projects.ts';
import type { ProjectEventRow } from '../store/events.ts';
import type { Principal } from './accounts.ts';
import type { Atomically, ProjectEvents } from './events.ts';
import type { Sealer } from './sealer.ts';
import { newId } from './ids.ts';
import { TokenBucket } from '../lib/rates.ts';
import { mapInOrder } from '../lib/in-order.ts';

/** Endpoints one project may have (WH-13). */
export const WEBHOOKS_PER_PROJECT = 20;
/** Deliveries one endpoint may have waiting; past it new events are not queued for it (WH-13). */
export const PENDING_PER_WEBHOOK = 1000;
/** Sends in flight in one process, and to one endpoint (WH-13). */
export const SENDS_PER_PROCESS = 8;
export const SENDS_PER_WEBHOOK = 2;
/**
 * Sends in flight for one project (SEC-41): one project's slow receivers (20 endpoints × 2 sends)
 * can never take every slot of the process, so other projects' deliveries still go.
 */
export const SENDS_PER_PROJECT = 4;
/**
 * Deliveries a person may queue by hand (test, redeliver) per endpoint: a burst of this many,
 * then one every MANUAL_SENDS_EVERY_MS (SEC-42); the server is not a POST cannon at a third party.
 */
export const MANUAL_SENDS_BURST = 10;
export const MANUAL_SENDS_EVERY_MS = 6000;
/**
 * Settled deliveries kept per endpoint (SEC-42): 20 endpoints × every event of a busy project
 * for 30 days would otherwise be many times the project's own event log (7 days). The oldest go
 * first, checked on an endpoint's first delivery queued by this process and every TRIM_EVERY-th.
 */
export const DELIVERIES_KEPT_PER_WEBHOOK = 5000;
const TRIM_EVERY = 50;
/** Bytes of a receiver's answer read for the attempt's excerpt; the connection is then closed (WH-8). */
export const RESPONSE_EXCERPT_BYTES = 1024;
/** How long the previous secret keeps signing after a rotation (WH-6). */
export const ROTATION_OVERLAP_MS = 24 * 60 * 60 * 1000;
/** Deliveries older than this are deleted by the retention sweep (WH-13). */
export const DELIVERY_RETENTION_MS = 30 * 24 * 60 * 60 * 1000;
/** `GET /api/webhooks/:id/deliveries`: default and largest page. */
export const DELIVERIES_PAGE = 50;
export const DELIVERIES_PAGE_MAX = 100;
export const USER_AGENT = 'Stagecoach-Webhooks';

export interface WebhookConfig {
  webhookAllowPrivate: boolean;
  webhookTimeoutMs: number;
  webhookRetryScheduleMs: readonly number[];
}

/** A `whsec_` secret: 32 random bytes, base64 (the Standard Webhooks form). */
export const newWebhookSecret = () => `whsec_${randomBytes(32).toString('base64')}`;

/** `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` keyed with the secret's decoded bytes (WH-7). */
export function sign(secret: string, messageId: string, timestamp: number, body: string): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  return `v1,${createHmac('sha256', key).update(`${messageId}.${timestamp}.${body}`).digest('base64')}`;
}

/** IPv6 global unicast: the only IPv6 receivers (SEC-39). */
const GLOBAL_UNICAST = ipaddr.parseCIDR('2000::/3') as [ipaddr.IPv6, number];

/**
 * Whether a receiver may be at this address (WH-11): only the `unicast` range of ipaddr.js, an
 * IPv4-mapped IPv6 address judged as its IPv4 address. Refused: loopback, private, link-local
 * (169.254.169.254 among them), unique-local, unspecified, multicast, broadcast, carrier-grade
 * NAT, reserved, 6to4/Teredo …
 */
export function publicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  const a = ipaddr.process(address);
  if (a.range() !== 'unicast') return false;
  // IPv6: only global unicast (2000::/3, SEC-39). ipaddr.js calls the rest of ::/8 "unicast",
  // among them the deprecated IPv4-compatible `::7f00:1` (`[::127.0.0.1]`), which some hosts
  // still route to the IPv4 address.
  return a.kind() === 'ipv4' || (a as ipaddr.IPv6).match(GLOBAL_UNICAST);
}

/** The URL's host as an address or a name (IPv6 literals without their brackets). */
const hostOf = (u: URL) => u.hostname.replace(/^\[(.*)\]$/, '$1');

/**
 * Name lookups (getaddrinfo) in flight in the process (SEC-45). They run in libuv's thread pool
 * (4 threads, shared with file access and password hashing) and cannot be cancelled: a receiver's
 * name on a deliberately slow DNS server would otherwise hold a pool thread per send or creation
 * for as long as the resolver retries. A slot is held until the lookup itself ends, not until
 * its caller gives up.
 */
export const LOOKUPS_IN_FLIGHT = 2;
let lookups = 0;
const lookupWaiters: (() => void)[] = [];

/** A lookup slot within `ms` (true), or none (false). */
function acquireLookup(ms: number): Promise<boolean> {
  if (lookups < LOOKUPS_IN_FLIGHT) {
    lookups++;
    return Promise.resolve(true);
  }
  return new Promise((resolve) => {
    const waiter = () => {
      clearTimeout(timer);
      resolve(true);
    };
    const timer = setTimeout(() => {
      const i = lookupWaiters.indexOf(waiter);
      if (i >= 0) lookupWaiters.splice(i, 1);
      resolve(false);
    }, ms);
    lookupWaiters.push(waiter);
  });
}

/** Hands the slot to the next waiter, or frees it. */
function releaseLookup(): void {
  const next = lookupWaiters.shift();
  if (next) next();
  else lookups--;
}

/** A name's addresses; throws when it does not resolve within `ms` (waiting for a slot included). */
async function resolveAll(
  host: string,
  ms: number,
): Promise<{ address: string; family: number }[]> {
  const deadline = Date.now() + ms;
  if (!(await acquireLookup(ms)))
    throw new Error(`no address for ${host} within ${ms} ms (name lookups busy)`);
  const lookup = dns.promises.lookup(host, { all: true, verbatim: true });
  void lookup.then(releaseLookup, releaseLookup);
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      lookup,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no address for ${host} within ${ms} ms`)),
          Math.max(1, deadline - Date.now()),
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

interface SendResult {
  status: number | null;
  error: string | null;
  excerpt: string | null;
}

/**
 * One POST to a receiver (WH-8, WH-11): the host is resolved here and EVERY address checked
 * (unless private ones are allowed); the connection goes to the checked address through a fixed
 * `lookup`, so no second resolution can point it elsewhere. No redirects are followed, one
 * deadline covers resolution to the end of the answer, and at most RESPONSE_EXCERPT_BYTES of the
 * answer are read.
 */
export async function send(
  target: string,
  headers: Record<string, string>,
  body: string,
  opts: { timeoutMs: number; allowPrivate: boolean },
): Promise<SendResult> {
  const deadline = Date.now() + opts.timeoutMs;
  const timeoutText = `timeout after ${opts.timeoutMs / 1000} s`;
  let u: URL;
  try {
    u = new URL(target);
  } catch {
    return { status: null, error: 'invalid URL', excerpt: null };
  }
  const host = hostOf(u);
  let address: { address: string; family: number };
  try {
    const all = net.isIP(host)
      ? [{ address: host, family: net.isIP(host) }]
      : await resolveAll(host, opts.timeoutMs);
    if (all.length === 0) return { status: null, error: `no address for ${host}`, excerpt: null };
    if (!opts.allowPrivate && !all.every((a) => publicAddress(a.address)))
      return { status: null, error: 'address not allowed', excerpt: null };
    // Plain http only where private receivers are allowed (SEC-40): an endpoint made while they
    // were is not sent to in clear once the flag is off.
    if (u.protocol !== 'https:' && !(u.protocol === 'http:' && opts.allowPrivate))
      return { status: null, error: 'https required', excerpt: null };
    address = all[0]!;
  } catch (err) {
    const timedOut = Date.now() >= deadline;
    return {
      status: null,
      error: timedOut ? timeoutText : `cannot resolve ${host}: ${(err as Error).message}`,
      excerpt: null,
    };
  }
  const remaining = Math.max(1, deadline - Date.now());
  return new Promise<SendResult>((resolve) => {
    let done = false;
    const finish = (r: SendResult) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(r);
    };
    const client = u.protocol === 'https:' ? https : http;
    const req = client.request(
      u,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        agent: false,
        // The checked address, never a second resolution (no DNS rebinding window).
        lookup: ((
          _h: string,
          o: { all?: boolean },
          cb: (e: Error | null, a: unknown, f?: number) => void,
        ) =>
          o.all
            ? cb(null, [address])
            : cb(null, address.address, address.family)) as unknown as net.LookupFunction,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        const status = res.statusCode ?? null;
        const end = () =>
          finish({
            status,
            error: null,
            excerpt:
              size > 0
                ? Buffer.concat(chunks).subarray(0, RESPONSE_EXCERPT_BYTES).toString()
                : null,
          });
        res.on('data', (c: Buffer) => {
          if (size >= RESPONSE_EXCERPT_BYTES) return;
          chunks.push(c);
          size += c.length;
          if (size >= RESPONSE_EXCERPT_BYTES) {
            end();
            res.destroy();
          }
        });
        res.on('end', end);
        res.on('error', end);
        res.on('close', end);
      },
    );
    const timer = setTimeout(() => {
      finish({ status: null, error: timeoutText, excerpt: null });
      req.destroy();
    }, remaining);
    req.on('error', (err) => finish({ status: null, error: err.message, excerpt: null }));
    req.end(body);
  });
}

/**
 * The URL as the parser reads it (SEC-43): what is stored, shown and sent to is one string, with
 * bidi controls and other invisible characters percent-encoded and a name in IDN form as its
 * `xn--` ASCII, so the page cannot show a receiver as another.
 */
export const shownUrl = (raw: string): string => new URL(raw).href;

const iso = (ms: number) => new Date(ms).toISOString();
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** What one release record says in a payload. */
export interface ReleaseFacts {
  environmentId: string;
  pointer: string;
  fromSnapshotId: string | null;
  toSnapshotId: string;
  sourceEnvironmentId: string | null;
  message: string | null;
  hash: string;
  /** How many records the environment has, this one included. */
  environmentSeq: number;
  /** A scheduled release ran it (the payload's actor is then null: the scheduler). */
  scheduled: boolean;
}

/**
 * Signed webhooks (WH): endpoints per project, an outbox written by a reactor on the project
 * event log inside each change's transaction, and a worker that sends it after commit.
 */
export function createWebhooks(deps: {
  /** Runs `fn` once the surrounding transaction committed (at once outside one). */
  afterCommit: (key: string, fn: () => void) => void;
  store: WebhookStore;
  projects: ProjectStore;
  events: Pick<ProjectEvents, 'onEmit'>;
  sealer: Sealer;
  /** Throws not_a_member (404) or forbidden (403). */
  requireProjectAdmin: (p: Principal, projectId: string) => Promise<void>;
  userName: (id: string) => Promise<string | null>;
  release: (seq: number) => Promise<ReleaseFacts | undefined>;
  requiredChecks: (envId: string) => Promise<string[]>;
  absoluteUrl: (path: string) => string;
  config: WebhookConfig;
  /** The instance's audit log (server/store/audit.ts), inside each change's transaction. */
  audit: (
    e: {
      projectId: string;
      environmentId: null;
      kind: string;
      actorId: string;
      subject: Record<string, unknown>;
    },
    now: number,
  ) => Promise<unknown>;
  log: (msg: string, err?: unknown) => void;
  now?: () => number;
  /** Several store calls as one transaction (PG-11). */
  atomically: Atomically;
  /**
   * Several processes (PG-171): how often the worker looks for deliveries other processes queued
   * (or whose lease ran out), whatever its own timer says; and how the others are woken once a
   * delivery this process queued committed. Unset on one process: its own wake-ups suffice.
   */
  pollMs?: number;
  wakeOthers?: () => void;
}) {
  const { store, config } = deps;
  const now = deps.now ?? Date.now;
  const slot = (id: string) => `webhook:${id}`;
  /**
   * An audit record of a change to an endpoint (WH-1): the receiver's origin only (a path or query
   * may hold the receiver's own token), never the secret.
   */
  const audited = async (p: Principal, hook: WebhookRow, kind: string, extra = {}) =>
    await deps.audit(
      {
        projectId: hook.projectId,
        environmentId: null,
        kind,
        actorId: p.user.id,
        subject: { webhookId: hook.id, origin: new URL(hook.url).origin, ...extra },
      },
      now(),
    );

  function view(r: WebhookRow): WebhookView {
    const t = now();
    return {
      id: r.id,
      projectId: r.projectId,
      url: r.url,
      description: r.description,
      events: r.events,
      enabled: r.enabled,
      disabledReason: r.disabledReason ?? null,
      createdAt: iso(r.createdAt),
      previousSecretValidUntil:
        r.previousSecretValidUntil !== null && r.previousSecretValidUntil > t
          ? iso(r.previousSecretValidUntil)
          : null,
    };
  }

  function deliveryView(d: DeliveryRow): WebhookDeliveryView {
    return {
      id: d.id,
      messageId: d.messageId,
      event: d.event as WebhookEventType,
      createdAt: iso(d.createdAt),
      state: d.state,
      attempts: d.attempts as WebhookAttemptView[],
      nextAttemptAt:
        d.state === 'pending' && d.nextAttemptAt !== null ? iso(d.nextAttemptAt) : null,
      payload: JSON.parse(d.payload) as WebhookPayload,
    };
  }

  /** A project admin of an existing project (the instance admin passes for any id: it must exist). */
  async function requireAdmin(p: Principal, projectId: string): Promise<void> {
    await deps.requireProjectAdmin(p, projectId);
    if (!(await deps.projects.getProject(projectId))) throw new AppError('project_not_found');
  }

  /** The endpoint, for a project admin of its project; anyone else: not found (WH-2). */
  async function requireWebhook(p: Principal, id: string): Promise<WebhookRow> {
    const row = await store.get(id);
    if (!row) throw new AppError('webhook_not_found');
    try {
      await deps.requireProjectAdmin(p, row.projectId);
    } catch (err) {
      if (err instanceof AppError && err.id === 'not_a_member')
        throw new AppError('webhook_not_found');
      throw err;
    }
    return row;
  }

  /**
   * Where a receiver may be (WH-3, WH-11): https (http only with WEBHOOK_ALLOW_PRIVATE), and
   * unless private addresses are allowed, an address literal must be public and a name must not
   * resolve to a private address now (each send checks again).
   */
  async function requireAllowedUrl(raw: string): Promise<void> {
    const u = new URL(raw);
    if (u.protocol !== 'https:' && !(u.protocol === 'http:' && config.webhookAllowPrivate))
      throw new AppError('webhook_url_not_allowed', 'A webhook URL must use https.');
    if (config.webhookAllowPrivate) return;
    const host = hostOf(u);
    const refused = () =>
      new AppError(
        'webhook_url_not_allowed',
        'This URL points at a private, loopback or link-local address: webhooks only go to public addresses.',
      );
    if (net.isIP(host)) {
      if (!publicAddress(host)) throw refused();
      return;
    }
    if (host === 'localhost' || host.endsWith('.localhost')) throw refused();
    let all: { address: string }[] = [];
    try {
      all = await resolveAll(host, 3000);
    } catch {
      // Not resolvable now: each send resolves and checks it again.
    }
    if (!all.every((a) => publicAddress(a.address))) throw refused();
  }

  /** Per endpoint: the deliveries queued by hand (test, redeliver) are a bounded rate (SEC-42). */
  const manual = new Map<string, TokenBucket>();
  function takeManualSend(hookId: string): void {
    let bucket = manual.get(hookId);
    if (!bucket) {
      // Full buckets are forgotten first: the map holds only endpoints used by hand lately.
      if (manual.size >= 10_000) manual.clear();
      bucket = new TokenBucket(1000 / MANUAL_SENDS_EVERY_MS, MANUAL_SENDS_BURST);
      manual.set(hookId, bucket);
    }
    if (!bucket.take())
      throw new AppError(
        'rate_limited',
        'Too many test events and redeliveries to this webhook: wait a few seconds and try again.',
        { retryAfter: Math.ceil(MANUAL_SENDS_EVERY_MS / 1000) },
      );
  }

  function subscribed(hook: WebhookRow, type: WebhookEventType): boolean {
    return type === 'webhook.test' || hook.events.includes('*') || hook.events.includes(type);
  }

  /** Deliveries queued by this process per endpoint, modulo TRIM_EVERY (SEC-42). */
  const queuedHere = new Map<string, number>();

  /** Queues one delivery (inside the caller's transaction). */
  async function enqueue(
    hook: WebhookRow,
    payload: WebhookPayload,
    messageId = newId('msg'),
  ): Promise<DeliveryRow | null> {
    if ((await store.pendingCount(hook.id)) >= PENDING_PER_WEBHOOK) {
      deps.log(
        `webhook ${hook.id} has ${PENDING_PER_WEBHOOK} deliveries waiting: a ${payload.type} was not queued`,
      );
      return null;
    }
    const t = now();
    const row: DeliveryRow = {
      id: newId('whd'),
      webhookId: hook.id,
      projectId: hook.projectId,
      messageId,
      event: payload.type,
      payload: JSON.stringify(payload),
      state: 'pending',
      attempts: [],
      nextAttemptAt: t,
      leaseUntil: null,
      createdAt: t,
    };
    await store.insertDelivery(row);
    const n = (queuedHere.get(hook.id) ?? 0) + 1;
    if (queuedHere.size >= 10_000) queuedHere.clear();
    queuedHere.set(hook.id, n % TRIM_EVERY);
    if (n % TRIM_EVERY === 1) await store.trim(hook.id, DELIVERIES_KEPT_PER_WEBHOOK);
    return row;
  }

  // ---- The outbox reactor (WH-4, WH-5) ----

  type Item = {
    type: WebhookEventType;
    data: Omit<WebhookData, 'projectId' | 'projectName' | 'url'>;
    path: string;
  };

  /** The webhook events a project event stands for (none for most). */
  async function itemsOf(e: ProjectEventRow): Promise<Item[]> {
    const project = await deps.projects.getProject(e.projectId);
    if (!project) return [];
    const envs = project.environments;
    const envOf = (id: string | null | undefined) => envs.find((x) => x.id === id);
    const board = `/projects/${project.project.id}`;
    const envPath = (id: string, tab?: string) =>
      `${board}/environments/${id}${tab ? `?tab=${tab}` : ''}`;
    const s = e.subject;
    const actor = e.actorId
      ? { id: e.actorId, name: (await deps.userName(e.actorId)) ?? 'Someone' }
      : null;
    const stage = (id: string | null | undefined) => {
      const env = envOf(id);
      return env ? { environmentId: env.id, environmentName: env.name } : {};
    };
    const out: Item[] = [];

    const moved = async (type: WebhookEventType) => {
      const rec = typeof s.releaseId === 'number' ? await deps.release(s.releaseId) : undefined;
      if (!rec) return null;
      const data = {
        ...stage(rec.environmentId),
        snapshotId: rec.toSnapshotId,
        previousSnapshotId: rec.fromSnapshotId,
        releaseSeq: rec.environmentSeq,
        recordHash: rec.hash,
        actor: rec.scheduled ? null : actor,
        message: rec.message,
      };
      out.push({ type, data, path: envPath(rec.environmentId) });
      return rec;
    };
    /** A stage's current pointer moved: the stage above, if its gate requires checks, has a new candidate (WH-5). */
    const candidateMoved = async (envId: string, by: WebhookData['actor']) => {
      const env = envOf(envId);
      const above = env && envs.find((x) => x.position === env.position + 1);
      if (!env || !above || !env.snapshotId) return;
      const checkNames = await deps.requiredChecks(above.id);
      if (checkNames.length === 0) return;
      out.push({
        type: 'check.requested',
        data: { ...stage(above.id), snapshotId: env.snapshotId, checkNames, actor: by },
        path: envPath(above.id),
      });
    };

    switch (e.kind) {
      case 'sync': {
        const rec = await moved('environment.synced');
        if (!rec) break;
        // Out of the authoring stage a Sync freezes the draft into a snapshot.
        if (rec.sourceEnvironmentId === null)
          out.unshift({
            type: 'snapshot.created',
            data: {
              ...stage(rec.environmentId),
              snapshotId: rec.toSnapshotId,
              actor: rec.scheduled ? null : actor,
              message: rec.message,
            },
            path: envPath(rec.environmentId),
          });
        await candidateMoved(rec.environmentId, rec.scheduled ? null : actor);
        break;
      }
      case 'publish':
        await moved('environment.published');
        break;
      case 'rollback': {
        const rec = await moved('environment.rolled_back');
        if (rec?.pointer === 'current') await candidateMoved(rec.environmentId, actor);
        break;
      }
      case 'request': {
        const requestId = str(s.requestId);
        if (requestId)
          out.push({
            type: 'approval.requested',
            data: { ...stage(e.environmentId), requestId, actor },
            path: `${board}#request-${requestId}`,
          });
        break;
      }
      case 'request.decided': {
        const requestId = str(s.requestId);
        const type = (
          {
            approved: 'approval.approved',
            rejected: 'approval.rejected',
            voided: 'approval.voided',
          } as const
        )[str(s.decision) as 'approved' | 'rejected' | 'voided'];
        if (requestId && type)
          out.push({
            type,
            data: { ...stage(e.environmentId), requestId, actor },
            path: `${board}#request-${requestId}`,
          });
        break;
      }
      case 'hotfix': {
        const type = (
          {
            started: 'hotfix.opened',
            published: 'hotfix.published',
            applied: 'hotfix.applied_to_dev',
          } as const
        )[str(s.action) as 'started' | 'published' | 'applied'];
        if (type === 'hotfix.published' && typeof s.releaseId === 'number') await moved(type);
        else if (type)
          out.push({
            type,
            data: { ...stage(e.environmentId), actor },
            path: e.environmentId ? envPath(e.environmentId) : board,
          });
        break;
      }
      case 'local':
        // Which stage's variables, secrets or audiences changed: never a name or a value.
        if (e.environmentId)
          out.push({
            type: 'overlay.changed',
            data: { ...stage(e.environmentId), actor },
            path: envPath(e.environmentId),
          });
        break;
      case 'schedule': {
        const scheduledId = str(s.scheduledId);
        const state = str(s.state);
        const errorId = str(s.errorId);
        if (scheduledId && (state === 'pending' || state === 'failed'))
          out.push({
            type: state === 'pending' ? 'release.scheduled' : 'release.schedule_failed',
            data: {
              ...stage(e.environmentId),
              scheduledId,
              // Who scheduled it; a failure at its time is the scheduler's.
              actor: state === 'pending' ? actor : null,
              ...(state === 'failed' && errorId ? { errorId } : {}),
            },
            path: e.environmentId ? envPath(e.environmentId) : board,
          });
        break;
      }
      case 'feedback': {
        const feedbackId = str(s.feedbackId);
        if (feedbackId && s.action === 'posted' && e.environmentId)
          out.push({
            type: 'feedback.created',
            data: { ...stage(e.environmentId), feedbackId, actor: null },
            path: envPath(e.environmentId, 'feedback'),
          });
        break;
      }
    }
    return out;
  }

  async function react(e: ProjectEventRow, hooks: WebhookRow[]): Promise<number> {
    const items = await itemsOf(e);
    if (items.length === 0) return 0;
    const project = (await deps.projects.getProject(e.projectId))!;
    let queued = 0;
    for (const item of items) {
      const payload: WebhookPayload = {
        type: item.type,
        timestamp: iso(e.createdAt),
        data: {
          projectId: e.projectId,
          projectName: project.project.name,
          ...item.data,
          url: deps.absoluteUrl(item.path),
        },
      };
      for (const hook of hooks)
        if (subscribed(hook, item.type) && (await enqueue(hook, payload))) queued++;
    }
    return queued;
  }

  deps.events.onEmit(async (e) => {
    if (e.kind === 'notification' || e.recipientId) return;
    const hooks = await store.enabledOf(e.projectId);
    if (hooks.length === 0) return;
    // A savepoint of the change's transaction: the outbox rows commit with the change, or (the
    // change rolling back) never exist; a failure here is undone alone and logged.
    try {
      // The worker is woken once the change committed (PG-106): woken inside the transaction it
      // could run in its scope and send what may still roll back.
      if ((await deps.atomically(async () => await react(e, hooks))) > 0)
        deps.afterCommit('webhooks:wake', wakeAll);
    } catch (err) {
      // A deadlock or serialization failure: the whole change runs again, its deliveries with it
      // (PG-177); swallowed, the change would commit without them.
      if (retryable(err)) throw err;
      deps.log(`queuing webhooks for a ${e.kind} event failed; the change stands`, err);
    }
  });

  // ---- The delivery worker (WH-7 … WH-10) ----

  const leaseMs = config.webhookTimeoutMs + Math.min(5000, config.webhookTimeoutMs);
  let started = false;
  let running = 0;
  const perHook = new Map<string, number>();
  const perProject = new Map<string, number>();
  let timer: NodeJS.Timeout | null = null;
  let wakeQueued = false;
  const inFlight = new Set<Promise<void>>();
  // The worker runs in the async context it was made in, never a caller's (PG-172): woken from
  // inside a change's transaction, its queries would otherwise join that open transaction on
  // PostgreSQL and could send what then rolls back (red team #1; afterCommit is the first guard).
  const worker = new AsyncResource('webhooks.worker');

  function wake(): void {
    if (!started || wakeQueued) return;
    wakeQueued = true;
    worker.runInAsyncScope(() =>
      setImmediate(() => {
        wakeQueued = false;
        void tick();
      }),
    );
  }

  /** This process's worker, and (several processes) every other one: a delivery was queued. */
  function wakeAll(): void {
    wake();
    deps.wakeOthers?.();
  }

  async function tick(): Promise<void> {
    if (!started) return;
    const t = now();
    try {
      if (running < SENDS_PER_PROCESS) {
        const busy = [...perHook].filter(([, n]) => n >= SENDS_PER_WEBHOOK).map(([id]) => id);
        const busyProjects = [...perProject]
          .filter(([, n]) => n >= SENDS_PER_PROJECT)
          .map(([id]) => id);
        for (const d of await store.due(t, busy, SENDS_PER_PROCESS * 4, busyProjects)) {
          if (running >= SENDS_PER_PROCESS) break;
          if ((perHook.get(d.webhookId) ?? 0) >= SENDS_PER_WEBHOOK) continue;
          if ((perProject.get(d.projectId) ?? 0) >= SENDS_PER_PROJECT) continue;
          // The lease's end is the store's (PostgreSQL's clock on PostgreSQL, PG-170).
          const lease = await store.claim(d.id, t, leaseMs);
          if (lease === null) continue;
          running++;
          const up = (m: Map<string, number>, k: string, by: number) => {
            const n = (m.get(k) ?? 0) + by;
            if (n > 0) m.set(k, n);
            else m.delete(k);
          };
          up(perHook, d.webhookId, 1);
          up(perProject, d.projectId, 1);
          const p: Promise<void> = attempt(d, lease)
            .catch((err: unknown) => deps.log('a webhook delivery attempt failed', err))
            .finally(() => {
              running--;
              up(perHook, d.webhookId, -1);
              up(perProject, d.projectId, -1);
              inFlight.delete(p);
              wake();
            });
          inFlight.add(p);
        }
      }
      await arm();
    } catch (err) {
      deps.log('the webhook worker could not read its outbox; it tries again later', err);
      rearm(60_000);
    }
  }

  function rearm(ms: number): void {
    if (timer) clearTimeout(timer);
    const wait = Math.min(Math.max(ms, 0), deps.pollMs ?? 2_147_483_647);
    timer = worker.runInAsyncScope(() => setTimeout(() => void tick(), wait));
    timer.unref();
  }

  /**
   * One timer for the next due retry or lease end; rows due now wait for a running send to end.
   * With several processes never longer than `pollMs`: another process may queue one meanwhile.
   */
  async function arm(): Promise<void> {
    const at = await store.nextDueAt();
    if (at === null && deps.pollMs === undefined) {
      if (timer) clearTimeout(timer);
      timer = null;
      return;
    }
    rearm(at === null ? Infinity : Math.max(at - now(), running > 0 ? 1000 : 50));
  }

  function secretsOf(hook: WebhookRow, t: number): string[] {
    const out = [deps.sealer.open(hook.sealedSecret, slot(hook.id))];
    if (
      hook.previousSealedSecret &&
      hook.previousSecretValidUntil !== null &&
      hook.previousSecretValidUntil > t
    )
      out.push(deps.sealer.open(hook.previousSealedSecret, slot(hook.id)));
    return out;
  }

  const jitter = (ms: number) => Math.round(ms * (0.8 + Math.random() * 0.4));

  async function attempt(d: DeliveryRow, lease: number): Promise<void> {
    const hook = await store.get(d.webhookId);
    if (!hook || !hook.enabled) {
      // Paused meanwhile: the lease is given back, the delivery waits for re-enabling.
      await store.settle(d.id, lease, {
        state: d.state,
        attempts: d.attempts,
        nextAttemptAt: d.nextAttemptAt,
      });
      return;
    }
    const t = now();
    const timestamp = Math.floor(t / 1000);
    const signature = secretsOf(hook, t)
      .map((secret) => sign(secret, d.messageId, timestamp, d.payload))
      .join(' ');
    const startedAt = performance.now();
    const r = await send(
      hook.url,
      {
        'webhook-id': d.messageId,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signature,
        'content-type': 'application/json',
        'user-agent': USER_AGENT,
      },
      d.payload,
      { timeoutMs: config.webhookTimeoutMs, allowPrivate: config.webhookAllowPrivate },
    );
    const a: WebhookAttemptView = {
      at: iso(t),
      status: r.status,
      durationMs: Math.round(performance.now() - startedAt),
      error:
        r.error ??
        (r.status !== null && r.status >= 300 && r.status < 400 ? 'redirect not followed' : null),
      responseExcerpt: r.excerpt,
    };
    const attempts = [...(d.attempts as WebhookAttemptView[]), a];
    const ok = r.status !== null && r.status >= 200 && r.status < 300;
    const schedule = config.webhookRetryScheduleMs;
    await deps.atomically(async () => {
      if (ok) {
        await store.settle(d.id, lease, { state: 'succeeded', attempts, nextAttemptAt: null });
      } else if (r.status === 410) {
        // The receiver says it is gone for good: the endpoint stops (WH-9).
        if (await store.settle(d.id, lease, { state: 'failed', attempts, nextAttemptAt: null }))
          await store.update(hook.id, { enabled: false, disabledReason: 'gone' });
      } else if (attempts.length > schedule.length) {
        // Failing for the whole schedule (about three days) with nothing delivered since: the
        // endpoint stops until an admin re-enables it (WH-9).
        if (
          (await store.settle(d.id, lease, { state: 'failed', attempts, nextAttemptAt: null })) &&
          !(await store.succeededSince(hook.id, d.createdAt))
        )
          await store.update(hook.id, { enabled: false, disabledReason: 'failing' });
      } else {
        await store.settle(d.id, lease, {
          state: 'pending',
          attempts,
          nextAttemptAt: now() + jitter(schedule[attempts.length - 1]!),
        });
      }
    });
  }

  return {
    view,
    deliveryView,

    async list(p: Principal, projectId: string): Promise<WebhookView[]> {
      await requireAdmin(p, projectId);
      // Each with its newest delivery: one indexed read per endpoint (at most WEBHOOKS_PER_PROJECT),
      // so the page needs no request per endpoint.
      return await mapInOrder(await store.ofProject(projectId), async (r) => {
        const [last] = await store.deliveries(r.id, null, 1);
        return { ...view(r), lastDelivery: last ? deliveryView(last) : null };
      });
    },

    async create(
      p: Principal,
      projectId: string,
      body: { url: string; events: string[]; description?: string | undefined },
    ): Promise<WebhookCreated> {
      await requireAdmin(p, projectId);
      await requireAllowedUrl(body.url);
      const secret = newWebhookSecret();
      const id = newId('wh');
      const row = await deps.atomically(async () => {
        if ((await store.count(projectId)) >= WEBHOOKS_PER_PROJECT)
          throw new AppError('too_many_webhooks');
        const r: WebhookRow = {
          id,
          projectId,
          url: shownUrl(body.url),
          description: body.description ?? '',
          events: body.events,
          enabled: true,
          disabledReason: null,
          sealedSecret: deps.sealer.seal(secret, slot(id)),
          previousSealedSecret: null,
          previousSecretValidUntil: null,
          createdBy: p.user.id,
          createdAt: now(),
        };
        await store.insert(r);
        await audited(p, r, 'webhook.created', { events: r.events });
        return r;
      });
      return { webhook: view(row), secret };
    },

    async update(
      p: Principal,
      id: string,
      body: {
        url?: string | undefined;
        events?: string[] | undefined;
        description?: string | undefined;
        enabled?: boolean | undefined;
      },
    ): Promise<WebhookView> {
      await requireWebhook(p, id);
      if (body.url !== undefined) await requireAllowedUrl(body.url);
      const set: Partial<WebhookRow> = {};
      if (body.url !== undefined) set.url = shownUrl(body.url);
      if (body.events !== undefined) set.events = body.events;
      if (body.description !== undefined) set.description = body.description;
      if (body.enabled === true) Object.assign(set, { enabled: true, disabledReason: null });
      if (body.enabled === false) Object.assign(set, { enabled: false, disabledReason: 'manual' });
      if (Object.keys(set).length > 0)
        await deps.atomically(async () => {
          await store.update(id, set);
          await audited(p, (await store.get(id))!, 'webhook.changed', { fields: Object.keys(set) });
        });
      if (body.enabled === true) wakeAll();
      return view((await store.get(id))!);
    },

    async remove(p: Principal, id: string): Promise<void> {
      const hook = await requireWebhook(p, id);
      await deps.atomically(async () => {
        await store.remove(id);
        await audited(p, hook, 'webhook.deleted');
      });
    },

    /** A new secret, shown once; the previous one keeps signing for ROTATION_OVERLAP_MS (WH-6). */
    async rotate(p: Principal, id: string): Promise<WebhookCreated> {
      const hook = await requireWebhook(p, id);
      const secret = newWebhookSecret();
      await deps.atomically(async () => {
        await store.update(id, {
          sealedSecret: deps.sealer.seal(secret, slot(id)),
          previousSealedSecret: hook.sealedSecret,
          previousSecretValidUntil: now() + ROTATION_OVERLAP_MS,
        });
        await audited(p, hook, 'webhook.secret_rotated');
      });
      return { webhook: view((await store.get(id))!), secret };
    },

    /** A `webhook.test` delivery to this endpoint (sent even when it subscribes to nothing else). */
    async test(p: Principal, id: string): Promise<WebhookDeliveryView> {
      const hook = await requireWebhook(p, id);
      takeManualSend(hook.id);
      const project = (await deps.projects.getProject(hook.projectId))!;
      const row = await deps.atomically(
        async () =>
          await enqueue(hook, {
            type: 'webhook.test',
            timestamp: iso(now()),
            data: {
              projectId: hook.projectId,
              projectName: project.project.name,
              actor: { id: p.user.id, name: p.user.name },
              url: deps.absoluteUrl(`/projects/${hook.projectId}`),
            },
          }),
      );
      if (!row) throw new AppError('too_many_webhook_deliveries');
      wakeAll();
      return deliveryView(row);
    },

    async deliveries(
      p: Principal,
      id: string,
      before: string | undefined,
      limit: number,
    ): Promise<{ deliveries: WebhookDeliveryView[]; next: string | null }> {
      await requireWebhook(p, id);
      let cursor: DeliveryRow | null = null;
      if (before) {
        const d = await store.delivery(before);
        if (!d || d.webhookId !== id)
          throw new AppError('invalid_body', '“before” is a delivery of this webhook.');
        cursor = d;
      }
      const rows = await store.deliveries(id, cursor, limit + 1);
      const page = rows.slice(0, limit);
      return {
        deliveries: page.map(deliveryView),
        next: rows.length > limit ? page[page.length - 1]!.id : null,
      };
    },

    /** The same payload and `webhook-id` again, as a new delivery with its own attempts (WH-12). */
    async redeliver(p: Principal, id: string, deliveryId: string): Promise<WebhookDeliveryView> {
      const hook = await requireWebhook(p, id);
      const d = await store.delivery(deliveryId);
      if (!d || d.webhookId !== id) throw new AppError('webhook_delivery_not_found');
      takeManualSend(hook.id);
      const row = await deps.atomically(
        async () => await enqueue(hook, JSON.parse(d.payload) as WebhookPayload, d.messageId),
      );
      if (!row) throw new AppError('too_many_webhook_deliveries');
      wakeAll();
      return deliveryView(row);
    },

    /** Deletes deliveries past DELIVERY_RETENTION_MS (the daily sweep). */
    async prune(): Promise<number> {
      return await store.prune(now() - DELIVERY_RETENTION_MS);
    },

    /** Looks for due deliveries now (another process queued one: PG-171). */
    wake,
    /** Starts sending: everything due (left from before a stop or crash) goes now. */
    start(): void {
      if (started) return;
      started = true;
      wake();
    },
    /** Stops taking deliveries; sends in flight finish (or time out) and are recorded. */
    async stop(): Promise<void> {
      started = false;
      if (timer) clearTimeout(timer);
      timer = null;
      await Promise.allSettled([...inFlight]);
    },
  };
}

export type Webhooks = ReturnType<typeof createWebhooks>;
