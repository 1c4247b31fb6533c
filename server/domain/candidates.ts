import { AppError } from '#schema/errors.ts';
import type { WorkspaceContent } from '#schema/content/ydoc.ts';
import { SECTIONS } from '#schema/content/spec.ts';
import { upSections, type FlowRules } from '#schema/flow.ts';
import type { ProjectStore } from '../store/projects.ts';
import type { Drafts } from './ports.ts';
import type { Snapshots } from './snapshots.ts';

/** What a Sync out of the authoring environment carries of its draft: the `up` sections only. */
export function carriedBySync(content: WorkspaceContent, rules: FlowRules): WorkspaceContent {
  // Flow rules: the others (`down`, `local`) each environment holds itself; they never move by Sync.
  const up = upSections(rules);
  for (const s of SECTIONS) if (!up.includes(s)) content[s] = {};
  return content;
}

/** What a stage would freeze to if moved now: its id, and (authoring stage) the content to freeze. */
export interface Candidate {
  snapshotId: string | null;
  /** The authoring draft as a Sync carries it (to freeze); null for a later stage, whose snapshot exists. */
  content: WorkspaceContent | null;
}

/**
 * The one answer to "what would this stage move?", shared by Sync, promotion requests, approval
 * checks and the board: if two of them computed it apart (a request froze the whole draft, a
 * Sync only its `up` sections), an approved request could never match its Sync.
 */
export function createCandidates(deps: { projects: ProjectStore; snapshots: Snapshots; drafts: Pick<Drafts, 'read'> }) {
  const { projects, snapshots, drafts } = deps;

  function of(envId: string): Candidate {
    const found = projects.getEnvironment(envId);
    if (!found) throw new AppError('environment_not_found');
    const { environment: env, draft } = found;
    if (env.position > 0) return { snapshotId: env.snapshotId, content: null };
    if (!draft) return { snapshotId: null, content: null };
    // Read once: what is checked is exactly what freezes, even while editors type.
    const content = carriedBySync(drafts.read(draft.id), projects.flowRules(env.projectId));
    return { snapshotId: snapshots.idOf(content), content };
  }

  return {
    of,
    /** Just the id (content addressing: nothing stored). */
    id: (envId: string): string | null => of(envId).snapshotId,
  };
}

export type Candidates = ReturnType<typeof createCandidates>;
