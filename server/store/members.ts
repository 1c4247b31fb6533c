import type { Async } from './port.ts';
import { and, eq } from 'drizzle-orm';
import { projectMembers } from '#schema/db/tables.ts';
import type { Db } from './db.ts';

export type MemberRow = typeof projectMembers.$inferSelect;

/** Project members and their roles (a JSON map of environment id, or "*", to roles). */
export function createMemberStore(db: Db) {
  return {
    member(projectId: string, userId: string): MemberRow | undefined {
      return db
        .select()
        .from(projectMembers)
        .where(and(eq(projectMembers.projectId, projectId), eq(projectMembers.userId, userId)))
        .get();
    },
    members(projectId: string): MemberRow[] {
      return db.select().from(projectMembers).where(eq(projectMembers.projectId, projectId)).all();
    },
    memberships(userId: string): MemberRow[] {
      return db.select().from(projectMembers).where(eq(projectMembers.userId, userId)).all();
    },
    putMember(row: MemberRow): void {
      db.insert(projectMembers)
        .values(row)
        .onConflictDoUpdate({
          target: [projectMembers.projectId, projectMembers.userId],
          set: { roles: row.roles, updatedBy: row.updatedBy, updatedAt: row.updatedAt },
        })
        .run();
    },
    deleteMember(projectId: string, userId: string): boolean {
      return (
        db
          .delete(projectMembers)
          .where(and(eq(projectMembers.projectId, projectId), eq(projectMembers.userId, userId)))
          .run().changes > 0
      );
    },
  };
}

/** The port the domain sees (PG-10). */
export type MemberStore = Async<ReturnType<typeof createMemberStore>>;
