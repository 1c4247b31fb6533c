import { can, projectAdminIds, type Action, type Role } from '#schema/permissions.ts';
import type { MembersView, MemberView } from '#schema/api.ts';
import { api } from './api.ts';

export { askForAccess, projectAdminsInWords } from '#schema/permissions.ts';

/** What the signed-in person may do, per environment, from the same matrix the server uses. */
export function allows(
  myRoles: Record<string, Role[]> | undefined,
  envId: string,
  action: Action,
  hasDraft = true,
): boolean {
  return can(myRoles?.[envId] ?? [], action, { hasDraft });
}

/** The names of those who grant roles in a project, for "Ask a project admin (…) for access to …". */
export function projectAdminNames(members: readonly MemberView[]): string[] {
  const ids = new Set(projectAdminIds(members.map((m) => ({ userId: m.user.id, roles: m.roles }))));
  return members.filter((m) => ids.has(m.user.id)).map((m) => m.user.name);
}

/** Loads the project's admins' names; on failure the sentence says "a project admin" without names. */
export async function loadProjectAdmins(projectId: string): Promise<string[]> {
  try {
    return projectAdminNames((await api<MembersView>(`/projects/${projectId}/members`)).members);
  } catch {
    return [];
  }
}
