import { and, eq } from 'drizzle-orm';
import { projectMembers } from '#schema/db/pg-tables.ts';
import type { Async } from '../port.ts';
import type { createMemberStore, MemberRow } from '../members.ts';
import type { Postgres } from './db.ts';

/** Project members and their roles on PostgreSQL (PG-31): store/members.ts's answers. */
export function createPgMemberStore(pgx: Postgres) {
  const one = (projectId: string, userId: string) =>
    and(eq(projectMembers.projectId, projectId), eq(projectMembers.userId, userId));
  return {
    async member(projectId: string, userId: string) {
      return (await pgx.db().select().from(projectMembers).where(one(projectId, userId)))[0];
    },
    async members(projectId: string) {
      return await pgx
        .db()
        .select()
        .from(projectMembers)
        .where(eq(projectMembers.projectId, projectId))
        // SQLite reads them through its primary key index: in user id order.
        .orderBy(projectMembers.userId);
    },
    async memberships(userId: string) {
      return await pgx.db().select().from(projectMembers).where(eq(projectMembers.userId, userId));
    },
    /** ON CONFLICT is one atomic statement: racing puts of one member never fail on the key. */
    async putMember(row: MemberRow) {
      await pgx
        .db()
        .insert(projectMembers)
        .values(row)
        .onConflictDoUpdate({
          target: [projectMembers.projectId, projectMembers.userId],
          set: { roles: row.roles, updatedBy: row.updatedBy, updatedAt: row.updatedAt },
        });
    },
    async deleteMember(projectId: string, userId: string) {
      const r = await pgx.db().delete(projectMembers).where(one(projectId, userId));
      return (r.rowCount ?? 0) > 0;
    },
  } satisfies Async<ReturnType<typeof createMemberStore>>;
}
