import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';

/**
 * The only place that reads the process environment. Everything else receives the frozen
 * config (or the part it needs) as an argument. Every bad key is reported at once.
 */
export interface Config {
  port: number;
  host: string;
  dataDir: string;
  /** Extra origins allowed for cookie-authenticated writes and websocket upgrades. */
  allowedOrigins: readonly string[];
  /** Largest websocket frame the collab endpoint accepts (bytes). */
  collabMaxFrameBytes: number;
  /** Largest HTTP request body accepted (bytes). */
  maxBodyBytes: number;
  sessionTtlMs: number;
  /** SQLite `synchronous` pragma: `normal` survives a process crash, `full` also a power loss. */
  sqliteSynchronous: 'normal' | 'full';
  /** Compact a draft's update log into its state row after this many logged updates. */
  compactAfterUpdates: number;
  /**
   * Flow rules: how long after a change to a `down` section its replication runs (a burst of
   * changes replicates once).
   */
  replicationDelayMs: number;
  /** Mark the session cookie `Secure` (set when served over https). */
  secureCookies: boolean;
  /** AES-256 key for secrets at rest; null = use (or create) DATA_DIR/secrets.key. */
  secretsKey: Buffer | null;
  /**
   * Where users reach this server (absolute links: share links, invitations, reset links); null =
   * http://<HOST>:<bound port> (localhost when HOST is 0.0.0.0 or ::).
   */
  publicUrl: string | null;
  /** Take the client address from X-Forwarded-For (behind a reverse proxy). */
  trustProxy: boolean;
  /** Largest presence (awareness) state of one client id, in bytes of its JSON. */
  collabMaxPresenceBytes: number;
  /** Presence updates a connection may send per second (a burst of twice this is allowed). */
  collabPresencePerSecond: number;
  /** Presence client ids one person may hold in a draft, over all their connections. */
  collabMaxPresenceIdsPerUser: number;
  /** A socket whose unsent data passes this many bytes is closed (4429 too_slow). */
  collabMaxBufferedBytes: number;
  /** Open collab websockets per user, and per server. */
  collabMaxConnectionsPerUser: number;
  collabMaxConnections: number;
  /** Active (unexpired, unrevoked) share links per environment. */
  maxShareLinksPerEnvironment: number;
  /** Feedback posts per share link per minute (the poster is anonymous). */
  feedbackPerLinkPerMinute: number;
  /** Secrets per environment. */
  maxSecretsPerEnvironment: number;
  /** Snapshots kept only by approval requests that were voided, rejected or left open this long are deleted. */
  approvalSnapshotRetentionDays: number;
  /**
   * Bytes of full-state replies a user may have encoded afresh (not from the reply cache) per
   * second, over all their connections.
   */
  collabFullStateBytesPerSecond: number;
  /**
   * Largest a draft may grow (bytes of its encoded Yjs state); a peer update past it is refused
   * (4507 draft_too_large).
   */
  collabMaxDraftBytes: number;
  /** Open project event streams (`GET /api/projects/:id/events`) per user, and per process. */
  eventStreamsPerUser: number;
  /** Open event streams of one project, all its members together (SEC-30). */
  eventStreamsPerProject: number;
  eventStreams: number;
  /** An event stream whose unsent data passes this many bytes (a client that does not read) is closed. */
  eventStreamMaxBufferedBytes: number;
  /** Open waits on the delivery API (long-polls and event streams) per runtime key, and per process. */
  deliveryWaitsPerKey: number;
  /** Per project, all its runtime keys together (SEC-26). */
  deliveryWaitsPerProject: number;
  deliveryWaits: number;
  /** Runtime instances remembered per environment (the board's "runtimes n of m on it"). */
  deliveryRuntimesPerEnvironment: number;
  /**
   * WEBHOOK_ALLOW_PRIVATE=1: webhook receivers may be on loopback, private and link-local
   * addresses, and plain http is allowed (a receiver inside the network; tests) (WH-11).
   */
  webhookAllowPrivate: boolean;
  /** One delivery attempt, connection to the end of the answer (WEBHOOK_TIMEOUT_MS; default 15 s). */
  webhookTimeoutMs: number;
  /**
   * Waits before each retry of a failed delivery, in ms (WEBHOOK_RETRY_SCHEDULE_MS, comma
   * separated; ±20 % jitter each): after the last one fails the delivery is `failed` (WH-9).
   */
  webhookRetryScheduleMs: readonly number[];
  /**
   * Several processes on PostgreSQL and Redis (PG-50): set by DATABASE_URL, which then requires
   * REDIS_URL, INTERNAL_URL, CLUSTER_SECRET, SECRETS_KEY and PUBLIC_URL. Null: one process on the
   * embedded SQLite in `dataDir`.
   */
  cluster: Readonly<ClusterConfig> | null;
}

/** What a process of several needs besides the single-process settings (PG-50 … PG-52). */
export interface ClusterConfig {
  /** postgres:// or postgresql:// URL of the database holding all durable state. */
  databaseUrl: string;
  /** redis://, rediss:// or unix:// URL (as node-redis takes it): what may be lost. */
  redisUrl: string;
  /** This process's short name (letters, digits, `-`, `_`; at most 64): NODE_ID, else hostname-pid. */
  nodeId: string;
  /** Where the other processes reach this one (an http(s) URL, no trailing slash). */
  internalUrl: string;
  /** Authenticates the processes to each other. Never logged, never echoed in an error. */
  clusterSecret: string;
  /**
   * NODE_ID_WAIT_MS: how long a starting process waits for its NODE_ID to be free (PG-59): a
   * process killed a moment ago frees it within milliseconds; one still running never does, and
   * the start is refused.
   */
  nodeIdWaitMs: number;
}

export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.problems = problems;
  }
}

type Env = Readonly<Record<string, string | undefined>>;

/**
 * A URL as an error may show it: the password replaced by `***` (PG-51). Null when it does not
 * parse, so the caller shows nothing of it (an unparsable URL may still hold a password).
 */
export function maskedUrl(raw: string): string | null {
  const unix = /^unix:\/\/(?:([^:@/]*)(:[^@/]*)?@)?(\/.*)$/.exec(raw);
  if (unix) {
    const [, user = '', password, rest] = unix;
    const auth = user || password ? `${user}${password ? ':***' : ''}@` : '';
    return `unix://${auth}${rest}`;
  }
  try {
    const url = new URL(raw);
    if (url.password) url.password = '***';
    // pg also takes the password as a query parameter.
    for (const key of ['password', 'sslpassword'])
      if (url.searchParams.has(key)) url.searchParams.set(key, '***');
    return url.href;
  } catch {
    return null;
  }
}

const shown = (key: string, raw: string): string => {
  const masked = maskedUrl(raw);
  return masked === null
    ? `${key} (not shown: it does not parse as a URL)`
    : `${key}=${JSON.stringify(masked)}`;
};

/** DATABASE_URL checked (PG-50): a postgres:// or postgresql:// URL naming a host (or a `host=` socket folder). */
function databaseUrlOf(raw: string, problems: string[]): string | null {
  let url: URL | null;
  try {
    url = new URL(raw);
  } catch {
    url = null;
  }
  if (
    !url ||
    (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') ||
    (!url.hostname && !url.searchParams.get('host'))
  ) {
    problems.push(
      `${shown('DATABASE_URL', raw)}: expected a PostgreSQL URL like postgres://user:password@host:5432/stagecoach`,
    );
    return null;
  }
  return raw;
}

/** REDIS_URL checked (PG-50): the forms node-redis takes — redis://, rediss:// (TLS) or unix:///path. */
function redisUrlOf(raw: string, problems: string[]): string | null {
  let ok: boolean;
  if (raw.startsWith('unix:')) {
    const m = /^unix:\/\/(?:[^:@/]*(?::[^@/]*)?@)?(\/[^?#]*)(?:\?([^#]*))?$/.exec(raw);
    const db = m?.[2] ? new URLSearchParams(m[2]).get('db') : null;
    ok = !!m && m[1] !== '/' && (db === null || /^\d+$/.test(db));
  } else {
    try {
      const url = new URL(raw);
      ok =
        (url.protocol === 'redis:' || url.protocol === 'rediss:') &&
        url.hostname !== '' &&
        /^(\/\d*)?$/.test(url.pathname);
    } catch {
      ok = false;
    }
  }
  if (ok) return raw;
  problems.push(
    `${shown('REDIS_URL', raw)}: expected redis://host:6379, rediss://host:6380 (TLS) or unix:///path/to/redis.sock (optionally with user:password@ and a database number)`,
  );
  return null;
}

/**
 * DATABASE_URL alone, checked as loadConfig checks it (for `npm run migrate-to-postgres`, which
 * writes there but runs no server). Throws a ConfigError when it is missing or bad.
 */
export function loadDatabaseUrl(env: Env): string {
  const problems: string[] = [];
  const url = env.DATABASE_URL
    ? databaseUrlOf(env.DATABASE_URL, problems)
    : (problems.push('DATABASE_URL: required (the PostgreSQL database to copy into)'), null);
  if (url === null) throw new ConfigError(problems);
  return url;
}

/**
 * The default NODE_ID: `<hostname>-<pid>-<8 random hex digits>`, shaped to the NODE_ID rule (a
 * dotted host name keeps its first label). The random part (PG-188): in containers every replica
 * may be PID 1 with one host name, and two live processes with one NODE_ID would take each
 * other's draft leases on every open; a restarted process then waits out its former leases (TTL).
 */
function defaultNodeId(host: { hostname: string; pid: number }): string {
  const name = (host.hostname.split('.')[0] ?? '').replace(/[^A-Za-z0-9_-]/g, '-') || 'node';
  const tail = `${host.pid}-${randomBytes(4).toString('hex')}`;
  return `${name.slice(0, 63 - tail.length)}-${tail}`;
}

export function loadConfig(
  env: Env,
  cwd: string,
  host: { hostname: string; pid: number } = { hostname: os.hostname(), pid: process.pid },
): Readonly<Config> {
  const problems: string[] = [];

  const int = (key: string, fallback: number, min: number, max: number): number => {
    const raw = env[key];
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      problems.push(`${key}=${JSON.stringify(raw)}: expected an integer from ${min} to ${max}`);
      return fallback;
    }
    return n;
  };

  const oneOf = <T extends string>(key: string, values: readonly T[], fallback: T): T => {
    const raw = env[key];
    if (raw === undefined || raw === '') return fallback;
    const v = raw.toLowerCase() as T;
    if (!values.includes(v)) {
      problems.push(`${key}=${JSON.stringify(raw)}: expected one of ${values.join(', ')}`);
      return fallback;
    }
    return v;
  };

  const origins: string[] = [];
  for (const raw of (env.ALLOWED_ORIGINS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    try {
      const url = new URL(raw);
      if (url.origin !== raw.replace(/\/$/, '')) throw new Error('has a path');
      origins.push(url.origin);
    } catch {
      problems.push(
        `ALLOWED_ORIGINS: ${JSON.stringify(raw)} is not an origin like https://host:port`,
      );
    }
  }

  let secretsKey: Buffer | null = null;
  if (env.SECRETS_KEY) {
    const k = Buffer.from(env.SECRETS_KEY, 'base64');
    if (k.length !== 32)
      problems.push(
        'SECRETS_KEY: expected 32 bytes, base64-encoded (e.g. `openssl rand -base64 32`)',
      );
    else secretsKey = k;
  }

  let publicUrl: string | null = null;
  if (env.PUBLIC_URL) {
    try {
      const url = new URL(env.PUBLIC_URL);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http(s)');
      if (url.search || url.hash || url.username || url.password)
        throw new Error('has more than an origin and a path');
      publicUrl = url.href.replace(/\/$/, '');
    } catch {
      problems.push(
        `${shown('PUBLIC_URL', env.PUBLIC_URL)}: expected an absolute http(s) URL like https://stagecoach.example.com`,
      );
    }
  }

  const cluster = clusterOf(env, host, problems, int('NODE_ID_WAIT_MS', 10_000, 0, 60_000));

  // Default: about three days of retries (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, 14 h, 20 h).
  let webhookRetryScheduleMs: readonly number[] = [
    5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000, 50_400_000,
    72_000_000,
  ];
  if (env.WEBHOOK_RETRY_SCHEDULE_MS) {
    const delays = env.WEBHOOK_RETRY_SCHEDULE_MS.split(',').map((s) => Number(s.trim()));
    if (
      delays.length === 0 ||
      delays.length > 20 ||
      delays.some((d) => !Number.isInteger(d) || d < 1 || d > 7 * 86_400_000)
    )
      problems.push(
        `WEBHOOK_RETRY_SCHEDULE_MS=${JSON.stringify(env.WEBHOOK_RETRY_SCHEDULE_MS)}: expected 1 to 20 comma-separated waits in ms (each up to 7 days)`,
      );
    else webhookRetryScheduleMs = Object.freeze(delays);
  }

  const config: Config = {
    port: int('PORT', 3000, 0, 65535),
    host: env.HOST || '0.0.0.0',
    dataDir: path.resolve(cwd, env.DATA_DIR || 'data'),
    allowedOrigins: Object.freeze(origins),
    collabMaxFrameBytes: int('COLLAB_MAX_FRAME_BYTES', 16 * 1024 * 1024, 1024, 256 * 1024 * 1024),
    maxBodyBytes: int('MAX_BODY_BYTES', 16 * 1024 * 1024, 1024, 256 * 1024 * 1024),
    sessionTtlMs: int('SESSION_TTL_DAYS', 30, 1, 365) * 24 * 3600 * 1000,
    sqliteSynchronous: oneOf('SQLITE_SYNCHRONOUS', ['normal', 'full'] as const, 'normal'),
    compactAfterUpdates: int('COMPACT_AFTER_UPDATES', 500, 10, 1_000_000),
    replicationDelayMs: int('REPLICATION_DELAY_MS', 2000, 0, 60_000),
    secureCookies: oneOf('SECURE_COOKIES', ['true', 'false'] as const, 'false') === 'true',
    secretsKey,
    publicUrl,
    trustProxy: oneOf('TRUST_PROXY', ['true', 'false'] as const, 'false') === 'true',
    collabMaxPresenceBytes: int('COLLAB_MAX_PRESENCE_BYTES', 8 * 1024, 256, 1024 * 1024),
    collabPresencePerSecond: int('COLLAB_PRESENCE_PER_SECOND', 30, 1, 10_000),
    collabMaxPresenceIdsPerUser: int('COLLAB_MAX_PRESENCE_IDS_PER_USER', 16, 4, 100_000),
    collabMaxBufferedBytes: 0,
    collabMaxConnectionsPerUser: int('COLLAB_MAX_CONNECTIONS_PER_USER', 100, 1, 100_000),
    collabMaxConnections: int('COLLAB_MAX_CONNECTIONS', 10_000, 1, 1_000_000),
    maxShareLinksPerEnvironment: int('MAX_SHARE_LINKS_PER_ENVIRONMENT', 200, 1, 100_000),
    feedbackPerLinkPerMinute: int('FEEDBACK_PER_LINK_PER_MINUTE', 20, 1, 10_000),
    maxSecretsPerEnvironment: int('MAX_SECRETS_PER_ENVIRONMENT', 500, 1, 100_000),
    approvalSnapshotRetentionDays: int('APPROVAL_SNAPSHOT_RETENTION_DAYS', 30, 1, 3650),
    eventStreamsPerUser: int('EVENT_STREAMS_PER_USER', 10, 1, 10_000),
    eventStreamsPerProject: int('EVENT_STREAMS_PER_PROJECT', 500, 1, 1_000_000),
    eventStreams: int('EVENT_STREAMS', 2000, 1, 1_000_000),
    deliveryWaitsPerKey: int('DELIVERY_WAITS_PER_KEY', 20, 1, 10_000),
    deliveryWaitsPerProject: int('DELIVERY_WAITS_PER_PROJECT', 1000, 1, 1_000_000),
    deliveryWaits: int('DELIVERY_WAITS', 5000, 1, 1_000_000),
    deliveryRuntimesPerEnvironment: int('DELIVERY_RUNTIMES_PER_ENVIRONMENT', 100, 1, 10_000),
    webhookAllowPrivate: oneOf('WEBHOOK_ALLOW_PRIVATE', ['0', '1'] as const, '0') === '1',
    webhookTimeoutMs: int('WEBHOOK_TIMEOUT_MS', 15_000, 100, 60_000),
    webhookRetryScheduleMs,
    cluster,
    eventStreamMaxBufferedBytes: int(
      'EVENT_STREAM_MAX_BUFFERED_BYTES',
      256 * 1024,
      16 * 1024,
      64 * 1024 * 1024,
    ),
    collabFullStateBytesPerSecond: int(
      'COLLAB_FULL_STATE_BYTES_PER_SECOND',
      32 * 1024 * 1024,
      64 * 1024,
      1024 * 1024 * 1024,
    ),
    collabMaxDraftBytes: int(
      'COLLAB_MAX_DRAFT_BYTES',
      64 * 1024 * 1024,
      1024 * 1024,
      4 * 1024 * 1024 * 1024,
    ),
  };
  // Unsent data a socket may hold: by default two of the largest frames (one full state in flight, one more).
  config.collabMaxBufferedBytes = int(
    'COLLAB_MAX_BUFFERED_BYTES',
    2 * config.collabMaxFrameBytes,
    64 * 1024,
    1024 * 1024 * 1024,
  );
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(config);
}

/** Keys that only mean something with several processes (PG-52). */
const CLUSTER_ONLY = [
  'REDIS_URL',
  'NODE_ID',
  'INTERNAL_URL',
  'CLUSTER_SECRET',
  'NODE_ID_WAIT_MS',
] as const;

/**
 * The several-process settings (PG-50 … PG-52). Pushes a problem for every bad or missing key;
 * no problem ever holds CLUSTER_SECRET or a URL's password.
 */
function clusterOf(
  env: Env,
  host: { hostname: string; pid: number },
  problems: string[],
  nodeIdWaitMs: number,
): Readonly<ClusterConfig> | null {
  if (!env.DATABASE_URL) {
    for (const key of CLUSTER_ONLY)
      if (env[key])
        problems.push(
          `${key}: only used with several processes; set DATABASE_URL too (PostgreSQL), or remove it to run one process on SQLite`,
        );
    return null;
  }
  const databaseUrl = databaseUrlOf(env.DATABASE_URL, problems);
  const required = (key: string, why: string): string | null => {
    if (env[key]) return env[key];
    problems.push(`${key}: required with DATABASE_URL (${why})`);
    return null;
  };
  // SECRETS_KEY and PUBLIC_URL are checked above; here only that they are there.
  required(
    'SECRETS_KEY',
    'every process must seal and open secrets with the same key; a DATA_DIR/secrets.key per machine would differ',
  );
  required('PUBLIC_URL', 'links must not depend on which process answered');

  const rawRedis = required('REDIS_URL', 'control messages, shared rate limits and event fan-out');
  const redisUrl = rawRedis === null ? null : redisUrlOf(rawRedis, problems);

  let nodeId: string | null = env.NODE_ID || defaultNodeId(host);
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(nodeId)) {
    problems.push(
      `NODE_ID=${JSON.stringify(nodeId)}: expected 1 to 64 letters, digits, '-' or '_'`,
    );
    nodeId = null;
  }

  const rawInternal = required('INTERNAL_URL', 'how the other processes reach this one');
  let internalUrl: string | null = null;
  if (rawInternal !== null) {
    try {
      const url = new URL(rawInternal);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http(s)');
      if (url.search || url.hash || url.username || url.password)
        throw new Error('has more than an origin and a path');
      internalUrl = url.href.replace(/\/$/, '');
    } catch {
      problems.push(
        `${shown('INTERNAL_URL', rawInternal)}: expected an http(s) URL the other processes reach this one at, like http://10.0.0.5:3000`,
      );
    }
  }

  const clusterSecret = required('CLUSTER_SECRET', 'the processes authenticate each other with it');
  // Its length only: the value is never shown.
  if (clusterSecret !== null && (clusterSecret.length < 32 || clusterSecret.length > 1024))
    problems.push(
      `CLUSTER_SECRET: expected 32 to 1024 characters, got ${clusterSecret.length} (e.g. \`openssl rand -base64 48\`)`,
    );

  if (!databaseUrl || !redisUrl || !nodeId || !internalUrl || !clusterSecret) return null;
  return Object.freeze({
    databaseUrl,
    redisUrl,
    nodeId,
    internalUrl,
    clusterSecret,
    nodeIdWaitMs,
  });
}
