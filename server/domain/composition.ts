import { emptySection } from '#schema/content/ids.ts';
import { emptyContent, type WorkspaceContent } from '#schema/content/ydoc.ts';
import { validateContent, type Problem } from '#schema/content/validate.ts';
import { carriedBySync, composeShown } from '#schema/composition.ts';
import { heldSections, sectionsNotArrived, upSections } from '#schema/flow.ts';
import { isAuthoring } from '#schema/pipeline.ts';
import type { DraftRow, EnvironmentRow, ProjectStore } from '../store/projects.ts';
import type { Drafts } from './ports.ts';
import { requireEnvironment } from './require.ts';
import type { Snapshots } from './snapshots.ts';

/** What a stage would freeze to if moved now: its id, and (authoring stage) the content to freeze. */
export interface Candidate {
  snapshotId: string | null;
  /** The authoring draft as a Sync carries it (to freeze); null for a later stage, whose snapshot exists. */
  content: WorkspaceContent | null;
}

/**
 * What an environment shows and what a stage would freeze to (the rules: schema/composition.ts),
 * read from stored snapshots and live drafts. The one answer for content, share links,
 * delivery, variables and secrets, Sync, promotion requests, approval checks and the board: when
 * two of them computed it apart (a request froze the whole draft, a Sync only its `up`
 * sections), an approved request could never match its Sync.
 */
export function createComposition(deps: {
  projects: ProjectStore;
  snapshots: Snapshots;
  drafts: Pick<Drafts, 'read'>;
}) {
  const { projects, snapshots, drafts } = deps;

  /**
   * An environment's content with `snapshotId` in place (its held sections live from its draft;
   * empty where it has none).
   */
  async function composeAt(
    env: EnvironmentRow,
    draft: DraftRow | undefined,
    snapshotId: string | null,
  ): Promise<WorkspaceContent> {
    const rules = await projects.flowRules(env.projectId);
    const fromSnapshot = snapshotId
      ? await snapshots.content(env.projectId, snapshotId, upSections(rules))
      : emptyContent();
    const own = draft && heldSections(rules).length > 0 ? await drafts.read(draft.id) : null;
    return composeShown(rules, fromSnapshot, own, emptySection);
  }

  /** What this environment holds now: the whole draft (authoring), else its current snapshot composed as above. */
  async function content(envId: string): Promise<WorkspaceContent> {
    const { environment: env, draft } = await requireEnvironment(projects, envId);
    if (isAuthoring(env) && draft) return await drafts.read(draft.id);
    return await composeAt(env, draft, env.snapshotId);
  }

  async function candidate(envId: string): Promise<Candidate> {
    const { environment: env, draft } = await requireEnvironment(projects, envId);
    if (!isAuthoring(env)) return { snapshotId: env.snapshotId, content: null };
    if (!draft) return { snapshotId: null, content: null };
    // Read once: what is checked is exactly what freezes, even while editors type.
    const frozen = carriedBySync(
      await drafts.read(draft.id),
      await projects.flowRules(env.projectId),
    );
    return { snapshotId: snapshots.idOf(frozen), content: frozen };
  }

  return {
    composeAt,
    content,
    /** This environment's content with another of its snapshots in place (a pinned share link, a flow-rule change). */
    async contentWith(envId: string, snapshotId: string | null): Promise<WorkspaceContent> {
      const { environment: env, draft } = await requireEnvironment(projects, envId);
      return await composeAt(env, draft, snapshotId);
    },
    /** What the environment's pointers hold: current, and (production) live where it is another snapshot. */
    async pointedContents(
      envId: string,
    ): Promise<{ pointer: 'current' | 'live'; content: WorkspaceContent }[]> {
      const { environment: env, draft } = await requireEnvironment(projects, envId);
      const out: { pointer: 'current' | 'live'; content: WorkspaceContent }[] = [
        { pointer: 'current', content: await content(envId) },
      ];
      if (env.liveSnapshotId && env.liveSnapshotId !== env.snapshotId)
        out.push({ pointer: 'live', content: await composeAt(env, draft, env.liveSnapshotId) });
      return out;
    },
    /**
     * The problems of what this environment holds now; before its first Sync, references into what
     * only a Sync brings wait for it.
     */
    async problems(envId: string): Promise<Problem[]> {
      const { environment: env } = await requireEnvironment(projects, envId);
      return validateContent(await content(envId), {
        notArrived: sectionsNotArrived(
          await projects.flowRules(env.projectId),
          env.position,
          env.snapshotId,
        ),
      });
    },
    /** The sections an environment of this project holds itself, and (where it has a draft) their live content. */
    async ownSections(env: EnvironmentRow, draft: DraftRow | undefined) {
      const held = draft ? heldSections(await projects.flowRules(env.projectId)) : [];
      return { held, live: held.length > 0 ? await drafts.read(draft!.id) : null };
    },
    /**
     * What a Sync or Publish out of the stage would move: the authoring stage's draft as a Sync
     * freezes it, else its current snapshot.
     */
    candidate,
    /** Just the candidate's id (content addressing: nothing stored). */
    candidateId: async (envId: string): Promise<string | null> =>
      (await candidate(envId)).snapshotId,
  };
}

export type Composition = ReturnType<typeof createComposition>;
