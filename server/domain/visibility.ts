import { can, type Action } from '#schema/permissions.ts';
import type { ProjectStore } from '../store/projects.ts';
import type { ReleaseStore } from '../store/releases.ts';
import type { Access } from './access.ts';
import type { Principal } from './accounts.ts';

/**
 * What a member may read across a project, where one environment's role is not enough to
 * decide: snapshots (addressed by id from anywhere), the hotfix divergence and the
 * production credentials warning. Content is confidential per environment: a production-only
 * hotfix must not reach a DEV-only member through its snapshot id, a diff side or the board.
 */
export function createVisibility(deps: {
  access: Access;
  projects: ProjectStore;
  releases: ReleaseStore;
  /** Open promotion requests: their approvers judge a snapshot before the target holds it. */
  openRequests(projectId: string): readonly { snapshotId: string; sourceEnvironmentId: string; targetEnvironmentId: string }[];
}) {
  const { access, projects, releases } = deps;

  function environments(projectId: string) {
    return projects.getProject(projectId)?.environments ?? [];
  }

  /** The environments of the project where `p` may do `action` (content.edit counts only where a draft can exist). */
  function where(p: Principal, projectId: string, action: Action): Set<string> {
    return new Set(environments(projectId).filter((e) => can(access.rolesIn(p, e), action, { hasDraft: action === 'content.edit' ? access.hasDraft(e) : true })).map((e) => e.id));
  }

  /**
   * Every environment that holds or held a snapshot: its pointers now, its release records
   * (to or from: replications and pulls included), the draft it was frozen from (a Sync out of
   * DEV, a hotfix), and the source and target of an open request to move it.
   */
  function holders(projectId: string, snapshotId: string): Set<string> {
    const row = releases.getSnapshot(projectId, snapshotId);
    if (!row) return new Set();
    const out = new Set(releases.environmentsHolding(projectId, snapshotId));
    for (const e of environments(projectId)) if (e.snapshotId === snapshotId || e.liveSnapshotId === snapshotId) out.add(e.id);
    if (row.sourceDraftId) {
      const d = projects.getDraft(row.sourceDraftId);
      if (d) out.add(d.environment.id);
    }
    for (const r of deps.openRequests(projectId)) if (r.snapshotId === snapshotId) out.add(r.sourceEnvironmentId).add(r.targetEnvironmentId);
    return out;
  }

  return {
    /** Environments whose content `p` may read. */
    readable: (p: Principal, projectId: string): Set<string> => where(p, projectId, 'content.read'),

    /**
     * A snapshot is readable only by someone who may read content in an environment that holds
     * or held it. Callers answer `snapshot_not_found` otherwise, as for an unknown id.
     */
    canReadSnapshot(p: Principal, projectId: string, snapshotId: string): boolean {
      const readable = where(p, projectId, 'content.read');
      if (readable.size === 0) return false;
      for (const e of holders(projectId, snapshotId)) if (readable.has(e)) return true;
      return false;
    },

    /** The hotfix divergence: production readers, and those who must port it (editors of the authoring draft). */
    canSeeDivergence(p: Principal, projectId: string): boolean {
      const envs = environments(projectId);
      const [first, prod] = [envs[0], envs[envs.length - 1]];
      if (!first || !prod) return false;
      return where(p, projectId, 'content.read').has(prod.id) || where(p, projectId, 'content.edit').has(first.id);
    },

    /**
     * Which lower secret equals a production one is itself a production secret: anyone else
     * could set guesses and read the answer (a 4-digit PIN in 10,000 tries). Only production's
     * secrets managers are told.
     */
    canSeeSharedCredentials(p: Principal, projectId: string): boolean {
      const envs = environments(projectId);
      const prod = envs[envs.length - 1];
      return !!prod && where(p, projectId, 'env.admin').has(prod.id);
    },
  };
}

export type Visibility = ReturnType<typeof createVisibility>;
