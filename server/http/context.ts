import type { Principal, Accounts, Credential } from '../domain/accounts.ts';
import type { Projects } from '../domain/projects.ts';
import type { Drafts } from '../domain/ports.ts';
import type { Releases } from '../domain/releases.ts';
import type { Snapshots } from '../domain/snapshots.ts';
import type { Diffs } from '../domain/diffs.ts';
import type { Hotfixes } from '../domain/hotfixes.ts';
import type { LocalData } from '../domain/local.ts';
import type { Access } from '../domain/access.ts';
import type { Approvals } from '../domain/approvals.ts';
import type { Shares } from '../domain/shares.ts';
import type { Audiences } from '../domain/audiences.ts';
import type { Replication } from '../domain/replication.ts';
import type { Pulls } from '../domain/pull.ts';
import type { FlowRuleChanges } from '../domain/flow-rules.ts';
import type { Visibility } from '../domain/visibility.ts';
import type { Board } from '../domain/board.ts';
import type { PasswordResets } from '../domain/password-resets.ts';
import type { ProjectEvents } from '../domain/events.ts';
import type { Notifications } from '../domain/notifications.ts';
import type { Idempotency } from '../domain/idempotency.ts';
import type { Freeze, Schedule } from '../domain/schedule.ts';
import type { Webhooks } from '../domain/webhooks.ts';
import type { SignInLimiter } from './rate-limit.ts';

export interface EventStreamLimits {
  /** Open streams per user (429 too_many_connections past it). */
  perUser: number;
  /** Open streams of one project, all its members together: one tenant cannot take them all (SEC-30). */
  perProject: number;
  /** Open streams in this process. */
  perServer: number;
  /** Unsent bytes a stream may hold before it is closed (a client that does not read). */
  maxBufferedBytes: number;
}

/** Open waits on the delivery API (`?wait=` long-polls and `/events` streams). */
export interface DeliveryWaitLimits {
  /** Per runtime key (429 too_many_connections past it). */
  perKey: number;
  /** Per project, all its keys together: one tenant cannot take every place of the process (SEC-26). */
  perProject: number;
  /** In this process. */
  perServer: number;
}

export interface AppDeps {
  /** Signed webhooks (WH): endpoints, their deliveries, the outbox worker. */
  webhooks: Webhooks;
  /** Scheduled releases (SCHED): stored, listed, cancelled; run by the timer start() starts. */
  schedule: Schedule;
  /** Freeze windows per environment (SCHED). */
  freeze: Freeze;
  /** Idempotency-Key on signed-in writes: first answers kept 24 h and replayed (server/http/idempotency.ts). */
  idempotency: Idempotency;
  /** Bounds of delivery long-polls and streams (DELIVERY_WAITS_PER_KEY, DELIVERY_WAITS). */
  deliveryWaits: DeliveryWaitLimits;
  /** What changed in each project: emitted by the domain, streamed by `GET /api/projects/:id/events`. */
  events: ProjectEvents;
  /** People's inboxes (`GET /api/notifications`). */
  notifications: Notifications;
  /** Bounds of the event streams (EVENT_STREAMS_PER_USER, EVENT_STREAMS, EVENT_STREAM_MAX_BUFFERED_BYTES). */
  eventStreams: EventStreamLimits;
  /** Live connections by the sign-in that opened them: an event stream ends with its session or token. */
  credentials: {
    /** Registers a live connection; `close` is called once when its credential ends. Returns its release. */
    /** `recheck`: re-reads the stream's rights in the resync sweep (PG-112). */
    open(
      credential: Credential,
      userId: string,
      close: () => void,
      recheck?: () => Promise<boolean>,
    ): () => void;
  };
  accounts: Accounts;
  projects: Projects;
  /** Server-side changes of live drafts, all or nothing, wherever the draft is served (PG-151). */
  drafts: Pick<Drafts, 'edit'>;
  releases: Releases;
  snapshots: Snapshots;
  diffs: Diffs;
  hotfixes: Hotfixes;
  localData: LocalData;
  access: Access;
  approvals: Approvals;
  shares: Shares;
  audiences: Audiences;
  replication: Replication;
  pulls: Pulls;
  flowRules: FlowRuleChanges;
  passwordResets: PasswordResets;
  allowedOrigins: readonly string[];
  /** TRUST_PROXY: the client's address and scheme come from X-Forwarded-For / -Proto (server/request/client.ts). */
  trustProxy: boolean;
  maxBodyBytes: number;
  sessionTtlMs: number;
  secureCookies: boolean;
  /** Where sign-in attempts are counted (PG-63): shared through Redis, or (absent) in this process. */
  signIns?: SignInLimiter;
  log: (msg: string, err?: unknown) => void;
  /** An absolute URL for a path of this server, from PUBLIC_URL (server/lib/urls.ts); never from the request. */
  absoluteUrl: (path: string) => string;
  visibility: Visibility;
  board: Board;
}

export interface AppEnv {
  Variables: { principal: Principal };
}
