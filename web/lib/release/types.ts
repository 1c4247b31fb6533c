import type { ProjectView } from '#schema/api.ts';
import type { Section } from '#schema/content/spec.ts';
import type { HotfixChange } from '#schema/content/hotfix.ts';
import type { Role } from '#schema/permissions.ts';
import type { RequestView } from '#schema/api.ts';

export type { RequestView };

/** Shapes of the release API as the web reads them (the server defines them in server/domain). */
export interface SnapshotMeta {
  id: string;
  kind: string;
  parentId: string | null;
  message: string | null;
  createdBy: string;
  createdAt: string;
}

export interface ReleaseView {
  seq: number;
  environmentId: string;
  kind: 'sync' | 'publish' | 'rollback' | 'hotfix' | 'replicate' | 'pull' | 'compose';
  /** `section`: a replication or pull record (flow rules): no pointer moved; the snapshots hold that section before and after. */
  pointer: 'current' | 'live' | 'section';
  fromSnapshotId: string | null;
  toSnapshotId: string;
  sourceEnvironmentId: string | null;
  actorId: string;
  message: string | null;
  createdAt: string;
}

export interface PointerState {
  snapshot: SnapshotMeta | null;
  lastMove: ReleaseView | null;
}

export interface Board {
  project: ProjectView;
  /** `readable: false`: the caller may not read that stage's content; its pointers and problems are left out (null). */
  /** `invalidOverrides`: variables whose value set in that stage no longer fits their type (names only; the default is served). `missingSecrets`: names of secrets the stage's integrations use that it lacks (names only; [] where the caller may not read the stage). */
  stages: { environmentId: string; readable: boolean; current: PointerState | null; live?: PointerState | null; problems?: number; invalidOverrides?: string[]; missingSecrets: string[] }[];
  /**
   * `counts`/`total` are null unless the caller may read both stages. `fromSnapshotId`: what a
   * Sync would move (the authoring draft as it would freeze); `toSnapshotId`: the target's
   * current; each null unless the caller may read that stage.
   */
  pending: { fromEnvironmentId: string; toEnvironmentId: string; fromSnapshotId: string | null; toSnapshotId: string | null; counts: Record<Section, number> | null; total: number | null; canSync: boolean }[];
  /** Secrets of lower environments holding the same value as one of production's (names only); only production's secrets managers get any. */
  sharedCredentials: { environmentId: string; name: string; productionName: string }[];
  divergence: { hotfixId: string; snapshotId: string; publishedBy: string; publishedAt: string; pending: HotfixChange[] }[];
  /** The open hotfix (null also for callers who may not read production). */
  hotfixDraftId: string | null;
  requests: RequestView[];
  gates: Record<string, { requiredApprovals: number; allowSelfApproval: boolean }>;
  approvers: Record<string, string[]>;
  myRoles: Record<string, Role[]>;
  isProjectAdmin: boolean;
  users: Record<string, string>;
}

export const shortId = (id: string | null | undefined) => (id ? id.slice(0, 8) : '—');

export function timeAgo(iso: string, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return 'just now';
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return new Date(iso).toLocaleDateString();
}
