/**
 * The one permission matrix: what each role may do in an environment. The server checks
 * it on every path and the web uses it to decide what to offer.
 *
 * Roles per environment arrive with membership (issue 5). Until then every account acts
 * with every role, so the only rule that bites is the structural one: content is edited
 * only in drafts, and only the authoring environment has one (PRODUCT.md rule 1).
 */
export const ROLES = [
  'viewer',
  'editor',
  'promoter',
  'approver',
  'publisher',
  'environment_admin',
  'project_admin',
] as const;
export type Role = (typeof ROLES)[number];

export const ACTIONS = {
  'content.read': ['viewer', 'editor', 'promoter', 'approver', 'publisher', 'environment_admin', 'project_admin'],
  'content.edit': ['editor'],
} as const satisfies Record<string, readonly Role[]>;
export type Action = keyof typeof ACTIONS;

export interface EnvironmentFacts {
  /** Only drafts are editable: the authoring environment's draft (a hotfix later). */
  hasDraft: boolean;
}

export function can(roles: readonly Role[], action: Action, env: EnvironmentFacts): boolean {
  if (action === 'content.edit' && !env.hasDraft) return false;
  const allowed: readonly Role[] = ACTIONS[action];
  return roles.some((role) => allowed.includes(role));
}

/** Until per-environment membership exists, every signed-in account holds every role. */
export const ALL_ROLES: readonly Role[] = ROLES;
