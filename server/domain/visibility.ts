import { can, type Action } from '#schema/permissions.ts';
import type { ProjectView } from '#schema/api.ts';
import { AppError } from '#schema/errors.ts';
import type { ProjectStore } from '../store/projects.ts';
import type { ReleaseStore } from '../store/releases.ts';
import type { SnapshotStore } from '../store/snapshots.ts';
import type { Access } from './access.ts';
import type { Principal } from './accounts.ts';
import { authoringOf, productionOf } from '#schema/pipeline.ts';
import { filterInOrder } from '../lib/in-order.ts';

/**
 * What a member may read across a project, where one environment's role is not enough to
 * decide: snapshots (addressed by id from anywhere), the hotfix divergence and the
 * production credentials warning. Content is confidential per environment: a production-only
 * hotfix must not reach a DEV-only member through its snapshot id, a diff side or the board.
 */
export function createVisibility(deps: {
  access: Access;
  projects: ProjectStore;
  releases: ReleaseStore & SnapshotStore;
  /** Open promotion requests: their approvers judge a snapshot before the target holds it. */
  openRequests(
    projectId: string,
  ): Promise<
    readonly { snapshotId: string; sourceEnvironmentId: string; targetEnvironmentId: string }[]
  >;
}) {
  const { access, projects, releases } = deps;

  async function environments(projectId: string) {
    return (await projects.getProject(projectId))?.environments ?? [];
  }

  /** The environments of the project where `p` may do `action` (content.edit counts only where a draft can exist). */
  async function where(p: Principal, projectId: string, action: Action): Promise<Set<string>> {
    return new Set(
      (
        await filterInOrder(await environments(projectId), async (e) =>
          can(await access.rolesIn(p, e), action, {
            hasDraft: action === 'content.edit' ? await access.hasDraft(e) : true,
          }),
        )
      ).map((e) => e.id),
    );
  }

  /**
   * Does one of `envIds` hold or has it held the snapshot: its pointers now, the draft it was
   * frozen from (a Sync out of DEV, a hotfix), the source or target of an open request to move
   * it, or its release records (to or from: replications and pulls included; asked last, through
   * the per-environment index, only for the environments the caller may read).
   */
  async function heldByAny(
    projectId: string,
    envIds: Set<string>,
    snapshotId: string,
  ): Promise<boolean> {
    const row = await releases.getSnapshot(projectId, snapshotId);
    if (!row || envIds.size === 0) return false;
    if (
      (await environments(projectId)).some(
        (e) => envIds.has(e.id) && (e.snapshotId === snapshotId || e.liveSnapshotId === snapshotId),
      )
    )
      return true;
    const source = row.sourceDraftId ? await projects.getDraft(row.sourceDraftId) : undefined;
    if (source && envIds.has(source.environment.id)) return true;
    if (
      (await deps.openRequests(projectId)).some(
        (r) =>
          r.snapshotId === snapshotId &&
          (envIds.has(r.sourceEnvironmentId) || envIds.has(r.targetEnvironmentId)),
      )
    )
      return true;
    return await releases.heldByAny([...envIds], snapshotId);
  }

  return {
    /** Environments whose content `p` may read. */
    readable: async (p: Principal, projectId: string): Promise<Set<string>> =>
      await where(p, projectId, 'content.read'),

    /**
     * A snapshot is readable only by someone who may read content in an environment that holds
     * or held it. Callers answer `snapshot_not_found` otherwise, as for an unknown id.
     */
    async canReadSnapshot(p: Principal, projectId: string, snapshotId: string): Promise<boolean> {
      return await heldByAny(projectId, await where(p, projectId, 'content.read'), snapshotId);
    },

    /**
     * The project whose row of a snapshot id to read: `hint` (the page's project) if given, else
     * the first project holding it where `p` may read it (equal content in two projects has one
     * id and a row in each). A snapshot they may not read is answered like an unknown id.
     */
    async snapshotProject(p: Principal, snapshotId: string, hint?: string): Promise<string> {
      for (const r of await releases.findSnapshots(snapshotId))
        if (
          (hint === undefined || r.projectId === hint) &&
          (await this.canReadSnapshot(p, r.projectId, snapshotId))
        )
          return r.projectId;
      throw new AppError('snapshot_not_found');
    },

    /**
     * The project as `p` may see it: a snapshot id is a content address (SHA-256 of the content),
     * so a stage's ids are shown only to readers of that stage. Anyone else holding them could
     * confirm guesses offline (the rest of a hotfixed production is DEV's content: a 4-digit
     * code in 10,000 hashes).
     */
    async projectFor(p: Principal, view: ProjectView): Promise<ProjectView> {
      const readable = await where(p, view.id, 'content.read');
      return {
        ...view,
        environments: view.environments.map((e) =>
          readable.has(e.id)
            ? e
            : {
                ...e,
                snapshotId: null,
                ...('liveSnapshotId' in e ? { liveSnapshotId: null } : {}),
              },
        ),
      };
    },

    /** The hotfix divergence: production readers, and those who must port it (editors of the authoring draft). */
    async canSeeDivergence(p: Principal, projectId: string): Promise<boolean> {
      const envs = await environments(projectId);
      const [first, prod] = [authoringOf(envs), productionOf(envs)];
      if (!first || !prod) return false;
      return (
        (await where(p, projectId, 'content.read')).has(prod.id) ||
        (await where(p, projectId, 'content.edit')).has(first.id)
      );
    },

    /**
     * Which lower secret equals a production one is itself a production secret: anyone else
     * could set guesses and read the answer (a 4-digit PIN in 10,000 tries). Only production's
     * secrets managers are told.
     */
    async canSeeSharedCredentials(p: Principal, projectId: string): Promise<boolean> {
      const envs = await environments(projectId);
      const prod = productionOf(envs);
      return !!prod && (await where(p, projectId, 'env.admin')).has(prod.id);
    },
  };
}

export type Visibility = ReturnType<typeof createVisibility>;
