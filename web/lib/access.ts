import { can, type Action, type Role } from '#schema/permissions.ts';

/** What the signed-in person may do, per environment, from the same matrix the server uses. */
export function allows(myRoles: Record<string, Role[]> | undefined, envId: string, action: Action, hasDraft = true): boolean {
  return can(myRoles?.[envId] ?? [], action, { hasDraft });
}
