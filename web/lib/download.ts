import { toWorkspaceFile } from '#schema/content/file.ts';
import type { WorkspaceContent } from '#schema/content/ydoc.ts';

/** Downloads content as a workspace file (the same format `PUT /api/environments/:id/content` imports). */
export function downloadWorkspace(
  content: WorkspaceContent,
  projectName: string,
  envName: string,
): void {
  const file = toWorkspaceFile(content, { project: projectName, environment: envName });
  const blob = new Blob([JSON.stringify(file, null, 2)], { type: 'application/json' });
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = `${projectName.replace(/[^\w-]+/g, '-').toLowerCase()}-${envName.replace(/[^\w-]+/g, '-').toLowerCase()}-${new Date().toISOString().slice(0, 10)}.stagecoach.json`;
  a.click();
  URL.revokeObjectURL(a.href);
}
