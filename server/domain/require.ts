import { AppError } from '#schema/errors.ts';
import type { ProjectStore } from '../store/projects.ts';

/**
 * The records an operation needs, or the catalogue's not-found error: one place says which id
 * answers a missing environment, project or draft.
 */

/** The environment and its open draft (authoring or section), or `environment_not_found`. */
export async function requireEnvironment(
  projects: Pick<ProjectStore, 'getEnvironment'>,
  envId: string,
) {
  const found = await projects.getEnvironment(envId);
  if (!found) throw new AppError('environment_not_found');
  return found;
}

/** The project with its environments (in stage order) and drafts, or `project_not_found`. */
export async function requireProject(
  projects: Pick<ProjectStore, 'getProject'>,
  projectId: string,
) {
  const found = await projects.getProject(projectId);
  if (!found) throw new AppError('project_not_found');
  return found;
}

/** A draft (open or closed) with its environment, or `draft_not_found`. */
export async function requireDraft(projects: Pick<ProjectStore, 'getDraft'>, draftId: string) {
  const found = await projects.getDraft(draftId);
  if (!found) throw new AppError('draft_not_found');
  return found;
}
