import type { Section } from '../content/spec.ts';
import type { HotfixChange } from '../content/hotfix.ts';
import type { ContentDiff, FieldChange } from '../content/diff.ts';
import type { Names } from '../content/present.ts';
import type { ItemJson, WorkspaceContent } from '../content/ydoc.ts';
import type { Role } from '../permissions.ts';
import type { ProjectView } from './projects.ts';
import type { ChainRecord } from '../release-chain.ts';

/** Release answers: snapshots, moves, history, diffs, the board, requests, hotfixes, pulls and conflicts. */
export interface SnapshotMeta {
  id: string;
  kind: string;
  parentId: string | null;
  sourceDraftId: string | null;
  message: string | null;
  createdBy: string;
  createdAt: string;
}

/**
 * GET /snapshots/:id: the snapshot with its content (`projectId`: whose, as the same content has
 * one id in every project).
 */
export interface SnapshotView extends SnapshotMeta {
  projectId: string;
  content: WorkspaceContent;
}

/**
 * A release record: one pointer move (or, `pointer: 'section'`, a replication or pull of one
 * section under flow rules).
 */
export interface ReleaseView {
  seq: number;
  environmentId: string;
  /** `sync`, `publish`, `rollback`, `hotfix`, `replicate`, `pull`, `compose`. */
  kind: string;
  /**
   * `section`: a replication or pull record (flow rules): no pointer moved; the snapshots hold that
   * section before and after.
   */
  pointer: 'current' | 'live' | 'section';
  fromSnapshotId: string | null;
  toSnapshotId: string;
  sourceEnvironmentId: string | null;
  actorId: string;
  message: string | null;
  detail: unknown;
  createdAt: string;
  hash: string;
}

/** POST /environments/:id/sync. */
export interface SyncResult {
  snapshotId: string;
  targetEnvironmentId: string;
  /** True when the target already held this snapshot: nothing moved, nothing recorded. */
  unchanged: boolean;
  release: ReleaseView | null;
}

/** POST publish, rollback, hotfix/publish: the release record written. */
export interface ReleaseResult {
  release: ReleaseView;
}

/** An audit event of an environment (approvals, gates, share links, discarded hotfixes…). */
export interface AuditEventView {
  seq: number;
  kind: string;
  actorId: string | null;
  /** What the event was about; its fields depend on `kind`. */
  subject: unknown;
  createdAt: string;
  hash: string;
}

/**
 * GET /environments/:id/history?before=&limit=: release records and audit events, newest first,
 * with the names of who did them (VH-4). Each list holds at most `limit` (default 200) before the
 * cursor. `next`: the `before` of the next (older) page, null when both lists reached their first
 * entry.
 */
export interface HistoryView {
  history: ReleaseView[];
  events: AuditEventView[];
  users: Record<string, string>;
  next: string | null;
}

/**
 * GET /projects/:id/releases?after=&limit=: a page of the project's release chain, oldest first
 * (VH-1). Each record carries exactly the fields its hash covers (`verifyChain` in
 * schema/release-chain.ts recomputes them), its seq and hash. `next`: the `after` of the next
 * page, null on the last.
 */
export interface ReleaseChainPage {
  records: ChainRecord[];
  next: number | null;
}

/** One side of a diff: an environment, its live pointer, a draft or a snapshot. */
export interface DiffSideView {
  ref: string;
  projectId: string;
  snapshotId: string | null;
  label: string;
  /** The environment's name (env, live and draft sides; null for a snapshot). */
  environment: string | null;
}

/** GET /diff. */
export interface DiffResult {
  from: DiffSideView;
  to: DiffSideView;
  diff: ContentDiff;
  /**
   * The names of the items the diff's fields reference, per section and id, on the side each value
   * belongs to (`before`: from, `after`: to); an id absent here points at nothing on that side.
   */
  names: { before: Names; after: Names };
}

/** A gate: how many approvals a move into an environment needs. */
export interface GateView {
  requiredApprovals: number;
  allowSelfApproval: boolean;
  /** Check names that must report `success` for the exact snapshot a move would bring in. */
  requiredChecks: string[];
}

/** One check reported on an environment for one snapshot (the latest report per name). */
export interface CheckView {
  name: string;
  state: 'pending' | 'success' | 'failure';
  url: string | null;
  summary: string | null;
  reportedBy: string;
  reportedAt: string;
}

/** GET /environments/:envId/checks?snapshotId=: the checks of one snapshot, with what the gate requires. */
export interface ChecksView {
  snapshotId: string;
  required: string[];
  checks: CheckView[];
}

/**
 * What allowed a gated move (`detail.evidence` of its release record): the required checks as
 * they stood, and the approvals of the request it satisfied.
 */
export interface ReleaseEvidence {
  checks: { name: string; state: 'success'; url: string | null; reportedAt: string }[];
  approvals: { userId: string; approvedAt: string }[];
}

/** A request to move one exact snapshot into an environment, with its approvals (four eyes). */
export interface RequestView {
  id: string;
  kind: 'sync' | 'publish' | 'hotfix';
  sourceEnvironmentId: string;
  targetEnvironmentId: string;
  snapshotId: string;
  message: string | null;
  requestedBy: string;
  createdAt: string;
  state: string;
  required: number;
  approvals: {
    userId: string;
    decision: 'approve' | 'reject';
    comment: string | null;
    createdAt: string;
  }[];
  /** The source still holds the requested snapshot, so approvals still count. */
  valid: boolean;
  approved: boolean;
}

/** GET /projects/:id/requests. */
export interface RequestsView {
  requests: RequestView[];
}

/** A published hotfix whose changes the authoring draft does not hold yet. */
export interface Divergence {
  hotfixId: string;
  snapshotId: string;
  publishedBy: string;
  publishedAt: string;
  /** The hotfix's changes that DEV does not contain yet. */
  pending: HotfixChange[];
}

/** GET /environments/:id/divergence. */
export interface DivergenceView {
  divergence: Divergence[];
}

/** GET /environments/:id/hotfix: the open hotfix draft (all null when none is open). */
export interface HotfixState {
  draftId: string | null;
  baseSnapshotId: string | null;
  startedBy: string | null;
}

/** POST /environments/:id/hotfix. */
export interface HotfixStarted {
  draftId: string;
  baseSnapshotId: string;
}

/** POST /environments/:id/hotfix/rebase: the hotfix moved onto what is live now, `applied` of its changes kept. */
export interface HotfixRebased extends HotfixStarted {
  applied: number;
}

/** POST /environments/:id/hotfix/apply-to-dev. */
export interface AppliedToDev {
  applied: number;
  divergence: Divergence[];
}

/** A pointer of a stage: the snapshot it holds and the move that put it there. */
export interface PointerState {
  snapshot: SnapshotMeta | null;
  lastMove: ReleaseView | null;
}

/**
 * One stage of the board; `readable: false`: the caller may not read its content, so its pointers
 * and problems are left out (null).
 */
export interface BoardStage {
  environmentId: string;
  readable: boolean;
  current: PointerState | null;
  /** Production only. */
  live?: PointerState | null;
  /** The authoring stage only, to its readers. */
  problems?: number;
  /**
   * Variables whose value set in that stage no longer fits their type (names only; the default is
   * served); [] where the caller may not read the stage.
   */
  invalidOverrides: string[];
  /**
   * Names of secrets the stage's integrations use that it lacks (names only; [] where the caller
   * may not read the stage).
   */
  missingSecrets: string[];
  /** Stakeholder feedback not resolved yet (0 where the caller may not read the stage). */
  openFeedback: number;
  /**
   * The `down` sections replicated into this stage (flow rules), to its readers only ([] else): from
   * which stage, when something last arrived, how many items wait in conflict.
   */
  replication: StageReplication[];
  /**
   * A gated stage, to its readers: how many members may approve moves into it, the first few by id
   * (named in `users`).
   */
  mayApprove?: { count: number; userIds: string[] };
  /** Production only, to its readers: the open hotfix, who started it and when (null: none). */
  hotfix?: { startedBy: string | null; startedAt: string } | null;
  /**
   * Production only, to its readers: the runtime instances that reported on delivery requests
   * (`Stagecoach-Runtime`) in the last two minutes or hold a delivery stream open, and how many of
   * them were last given (or confirmed) the live snapshot. In memory of this server process.
   */
  runtimes?: { total: number; onLive: number };
}

/** A `down` section as a stage receives it (flow rules). */
export interface StageReplication {
  section: Section;
  /** The stage it takes the section from (the one just above it in the section's chain). */
  sourceEnvironmentId: string;
  /** When the last replication changed something here (null: none yet). */
  lastReplicatedAt: string | null;
  /** Items changed both upstream and here since the last replication, kept as they are here. */
  conflicts: number;
}

/**
 * What the next Sync between two neighbouring stages would move. `counts`/`total` are null
 * unless the caller may read both stages. `fromSnapshotId`: what a Sync would move (the
 * authoring draft as it would freeze); `toSnapshotId`: the target's current; each null unless
 * the caller may read that stage.
 */
export interface PendingSync {
  fromEnvironmentId: string;
  toEnvironmentId: string;
  fromSnapshotId: string | null;
  toSnapshotId: string | null;
  counts: Record<Section, number> | null;
  total: number | null;
  canSync: boolean;
}

/** A secret of a lower environment holding the same value as one of production's (names only). */
export interface SharedCredential {
  environmentId: string;
  name: string;
  productionName: string;
}

/** GET /projects/:id/board: everything the pipeline board shows, cut to what the caller may read. */
export interface BoardView {
  project: ProjectView;
  stages: BoardStage[];
  pending: PendingSync[];
  /** Only production's secrets managers get any. */
  sharedCredentials: SharedCredential[];
  divergence: Divergence[];
  /** The open hotfix (null also for callers who may not read production). */
  hotfixDraftId: string | null;
  requests: RequestView[];
  gates: Record<string, GateView>;
  /** Per request id: who may still approve it. */
  approvers: Record<string, string[]>;
  myRoles: Record<string, Role[]>;
  isProjectAdmin: boolean;
  /** Names of everyone the board mentions, by user id. */
  users: Record<string, string>;
}

/** An item of a `down` section a pull would take from a lower environment. */
export interface PullItem {
  itemId: string;
  name: string;
  /** What taking it would do here. */
  kind: 'added' | 'changed' | 'same';
  fields: FieldChange[];
  /** This environment changed the item after the source's version was made: taking it needs `confirmOverwrite`. */
  newerHere: boolean;
}

/** GET /environments/:id/pull. */
export interface PullPreview {
  items: PullItem[];
}

/** POST /environments/:id/pull. */
export interface PullResult {
  pulled: number;
}

/** An item changed both here and upstream since the last replication (flow rules). */
export interface ConflictView {
  section: Section;
  itemId: string;
  name: string;
  /** The version upstream (null: deleted upstream). */
  upstream: ItemJson | null;
  /** This environment's version (null: deleted here). */
  local: ItemJson | null;
}

/** GET /environments/:id/conflicts and POST …/conflicts/resolve (what is left). */
export interface ConflictsView {
  conflicts: ConflictView[];
}

/** A pending (or finished) scheduled release (SCHED). `at`: ISO time. */
export interface ScheduledView {
  id: string;
  environmentId: string;
  kind: 'sync' | 'publish';
  /** The snapshot it will move (bound when scheduled). */
  snapshotId: string;
  at: string;
  createdBy: string;
  state: 'pending' | 'done' | 'failed' | 'cancelled';
  /** A failed one: why (error id and message), nothing moved. */
  error: { id: string; message: string } | null;
  /** A done one: the release record's sequence number. */
  releaseSeq: number | null;
}

/** POST sync/publish with `at`: 202. */
export interface ScheduledResult {
  scheduled: ScheduledView;
}

/** GET /environments/:id/scheduled: the pending ones, soonest first, with their schedulers' names. */
export interface ScheduledList {
  scheduled: ScheduledView[];
  users: Record<string, string>;
}

/** One freeze window (ISO times). */
export interface FreezeWindowView {
  from: string;
  to: string;
  reason: string | null;
}

/** GET/PUT /environments/:id/freeze. */
export interface FreezeView {
  windows: FreezeWindowView[];
}
