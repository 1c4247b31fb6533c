import type { Problem } from '../content/normalize.ts';
import type { WorkspaceContent } from '../content/ydoc.ts';
import type { Role } from '../permissions.ts';

/**
 * Answers that had no named type: an environment's content and problems, an import, the roles, the
 * health check (named so the OpenAPI document describes them, OAS-2).
 */

/** GET /environments/:id/content: the draft, or the snapshot asked for. */
export type ContentView = WorkspaceContent;

/** One validation problem (`code` `type`: the data itself is malformed). */
export type ProblemView = Pick<Problem, 'section' | 'itemId' | 'field' | 'message' | 'code'>;

/** GET /environments/:id/problems. */
export type ProblemsView = ProblemView[];

/** PUT /environments/:id/content: stored; what the imported content still has to fix. */
export interface ImportResult {
  problems: ProblemView[];
}

/** GET /roles: each role's label, and the role templates offered when inviting. */
export interface RolesView {
  roles: Record<Role, string>;
  templates: Record<string, { label: string; byKind: Partial<Record<string, readonly Role[]>> }>;
}

/** GET /health. */
export interface HealthView {
  ok: true;
}
