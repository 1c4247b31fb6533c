import { and, asc, eq, gt, isNull, sql } from 'drizzle-orm';
import { invitations } from '#schema/db/pg-tables.ts';
import type { Async } from '../port.ts';
import type { createInvitationStore, InvitationRow } from '../invitations.ts';
import type { Postgres } from './db.ts';
import { LOCK, lockBeforeRead } from './locks.ts';

/**
 * Invitations on PostgreSQL (PG-32): store/invitations.ts's answers. Every change is one
 * conditional UPDATE: a racing UPDATE of the same row waits for the first to commit and then
 * re-checks its WHERE against the new row, so of concurrent accepts, revocations and new links
 * only those still valid change anything.
 */
export function createPgInvitationStore(pgx: Postgres) {
  // SQLite scans in insertion order; invitations are inserted as they are made.
  const inserted = [asc(invitations.createdAt), asc(invitations.id)];
  const pending = (id: string, now: number) =>
    and(eq(invitations.id, id), isNull(invitations.usedAt), gt(invitations.expiresAt, now));
  return {
    async insertInvitation(row: InvitationRow) {
      await pgx.db().insert(invitations).values(row);
    },
    async invitation(tokenHash: string) {
      const rows = await pgx
        .db()
        .select()
        .from(invitations)
        .where(eq(invitations.tokenHash, tokenHash));
      return rows[0];
    },
    /**
     * Inside a transaction, one such read (and the caller's checks and insert) at a time, instance
     * wide as the read is (PG-133): invitations are few, a per-project key would need the caller's.
     */
    async pendingInvitations(now: number) {
      await lockBeforeRead(pgx, LOCK.limit('invitations', '*'));
      return await pgx
        .db()
        .select()
        .from(invitations)
        .where(and(isNull(invitations.usedAt), gt(invitations.expiresAt, now)))
        .orderBy(...inserted);
    },
    async invitationById(id: string) {
      return (await pgx.db().select().from(invitations).where(eq(invitations.id, id)))[0];
    },
    async pendingInto(projectId: string, now: number, limit: number) {
      return await pgx
        .db()
        .select()
        .from(invitations)
        .where(
          and(
            isNull(invitations.usedAt),
            gt(invitations.expiresAt, now),
            sql`(${invitations.grant}::jsonb ->> 'projectId') = ${projectId}`,
          ),
        )
        .orderBy(asc(invitations.createdAt))
        .limit(limit);
    },
    async endInvitation(id: string, now: number) {
      const r = await pgx.db().update(invitations).set({ expiresAt: now }).where(pending(id, now));
      return (r.rowCount ?? 0) > 0;
    },
    async replaceToken(id: string, tokenHash: string, now: number) {
      const r = await pgx.db().update(invitations).set({ tokenHash }).where(pending(id, now));
      return (r.rowCount ?? 0) > 0;
    },
    async invitationsSince(since: number) {
      return await pgx
        .db()
        .select()
        .from(invitations)
        .where(gt(invitations.createdAt, since))
        .orderBy(...inserted);
    },
    async useInvitation(id: string, tokenHash: string, now: number) {
      const r = await pgx
        .db()
        .update(invitations)
        .set({ usedAt: now })
        .where(and(pending(id, now), eq(invitations.tokenHash, tokenHash)));
      return (r.rowCount ?? 0) > 0;
    },
  } satisfies Async<ReturnType<typeof createInvitationStore>>;
}
