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
  function composeAt(
    env: EnvironmentRow,
    draft: DraftRow | undefined,
    snapshotId: string | null,
  ): WorkspaceContent {
    const rules = projects.flowRules(env.projectId);
    const fromSnapshot = snapshotId
      ? snapshots.content(env.projectId, snapshotId, upSections(rules))
      : emptyContent();
    const own = draft && heldSections(rules).length > 0 ? drafts.read(draft.id) : null;
    return composeShown(rules, fromSnapshot, own, emptySection);
  }

  /** What this environment holds now: the whole draft (authoring), else its current snapshot composed as above. */
  function content(envId: string): WorkspaceContent {
    const { environment: env, draft } = requireEnvironment(projects, envId);
    if (isAuthoring(env) && draft) return drafts.read(draft.id);
    return composeAt(env, draft, env.snapshotId);
  }

  function candidate(envId: string): Candidate {
    const { environment: env, draft } = requireEnvironment(projects, envId);
    if (!isAuthoring(env)) return { snapshotId: env.snapshotId, content: null };
    if (!draft) return { snapshotId: null, content: null };
    // Read once: what is checked is exactly what freezes, even while editors type.
    const frozen = carriedBySync(drafts.read(draft.id), projects.flowRules(env.projectId));
    return { snapshotId: snapshots.idOf(frozen), content: frozen };
  }

  return {
    composeAt,
    content,
    /** This environment's content with another of its snapshots in place (a pinned share link, a flow-rule change). */
    contentWith(envId: string, snapshotId: string | null): WorkspaceContent {
      const { environment: env, draft } = requireEnvironment(projects, envId);
      return composeAt(env, draft, snapshotId);
    },
    /** What the environment's pointers hold: current, and (production) live where it is another snapshot. */
    pointedContents(envId: string): { pointer: 'current' | 'live'; content: WorkspaceContent }[] {
      const { environment: env, draft } = requireEnvironment(projects, envId);
      const out: { pointer: 'current' | 'live'; content: WorkspaceContent }[] = [
        { pointer: 'current', content: content(envId) },
      ];
      if (env.liveSnapshotId && env.liveSnapshotId !== env.snapshotId)
        out.push({ pointer: 'live', content: composeAt(env, draft, env.liveSnapshotId) });
      return out;
    },
    /**
     * The problems of what this environment holds now; before its first Sync, references into what
     * only a Sync brings wait for it.
     */
    problems(envId: string): Problem[] {
      const { environment: env } = requireEnvironment(projects, envId);
      return validateContent(content(envId), {
        notArrived: sectionsNotArrived(
          projects.flowRules(env.projectId),
          env.position,
          env.snapshotId,
        ),
      });
    },
    /** The sections an environment of this project holds itself, and (where it has a draft) their live content. */
    ownSections(env: EnvironmentRow, draft: DraftRow | undefined) {
      const held = draft ? heldSections(projects.flowRules(env.projectId)) : [];
      return { held, live: held.length > 0 ? drafts.read(draft!.id) : null };
    },
    /**
     * What a Sync or Publish out of the stage would move: the authoring stage's draft as a Sync
     * freezes it, else its current snapshot.
     */
    candidate,
    /** Just the candidate's id (content addressing: nothing stored). */
    candidateId: (envId: string): string | null => candidate(envId).snapshotId,
  };
}

export type Composition = ReturnType<typeof createComposition>;
