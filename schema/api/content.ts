import type { Problem } from '../content/normalize.ts';
import type { WorkspaceContent } from '../content/ydoc.ts';
import type { Role } from '../permissions.ts';
import type { AudienceRule, EnvironmentSettings } from '../local.ts';

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

/**
 * GET /delivery/:envId: what a runtime serves, its ETag and the snapshot id and overlay revision
 * also in headers.
 */
export interface DeliveryBody {
  environment: { id: string; name: string; kind: string };
  snapshotId: string;
  overlayRevision: number;
  /** Each variable's effective value, typed (null: none, or a default that does not parse). */
  variables: Record<string, { type: string; value: unknown }>;
  /** Overrides served at the snapshot's default because they no longer fit: names and reasons, never the value. */
  invalidOverrides: { key: string; reason: string }[];
  /** Name → this environment's audience. */
  audiences: Record<string, { id: string; description: string; rules: AudienceRule[] }>;
  settings: EnvironmentSettings;
  content: WorkspaceContent;
}
