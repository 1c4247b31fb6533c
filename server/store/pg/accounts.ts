import { and, eq, gt, lt, count, desc, isNull, notInArray, or } from 'drizzle-orm';
import { users, sessions, apiTokens } from '#schema/db/pg-tables.ts';
import { AppError } from '#schema/errors.ts';
import type { Async } from '../port.ts';
import type { createAccountStore, UserRow } from '../accounts.ts';
import type { Postgres } from './db.ts';
import { LOCK, lockBeforeRead, lockForTransaction } from './locks.ts';
import { uniqueViolation } from './unique.ts';

/** Accounts, sessions and API tokens on PostgreSQL (PG-30): store/accounts.ts's answers. */
export function createPgAccountStore(pgx: Postgres) {
  return {
    async countUsers() {
      return (await pgx.db().select({ n: count() }).from(users))[0]?.n ?? 0;
    },
    /**
     * Inserts the first account only if there is none yet. Two set-ups at once would both count
     * zero under READ COMMITTED: they are serialized by a lock, and the count runs after it.
     */
    insertFirstUser(row: UserRow) {
      return pgx.atomically(async () => {
        await lockForTransaction(pgx, LOCK.firstUser);
        const n = (await pgx.db().select({ n: count() }).from(users))[0]?.n ?? 0;
        if (n > 0) return false;
        await pgx.db().insert(users).values(row);
        return true;
      });
    },
    /** An email taken meanwhile by another transaction is refused as `email_taken` (PG-138). */
    async insertUser(row: UserRow) {
      try {
        await pgx.db().insert(users).values(row);
      } catch (err) {
        if (uniqueViolation(err, 'users_email')) throw new AppError('email_taken');
        throw err;
      }
    },
    /** SQLite answers in insertion order (a table scan); accounts are inserted as they are made. */
    async listUsers() {
      return await pgx.db().select().from(users).orderBy(users.createdAt, users.id);
    },
    async findUserByEmail(email: string) {
      return (await pgx.db().select().from(users).where(eq(users.email, email)).limit(1))[0];
    },
    async findUserById(id: string) {
      return (await pgx.db().select().from(users).where(eq(users.id, id)).limit(1))[0];
    },
    async insertSession(row: typeof sessions.$inferInsert) {
      await pgx.db().insert(sessions).values(row);
    },
    async findSession(tokenHash: string, now: number) {
      const rows = await pgx
        .db()
        .select({ user: users, expiresAt: sessions.expiresAt })
        .from(sessions)
        .innerJoin(users, eq(users.id, sessions.userId))
        .where(and(eq(sessions.tokenHash, tokenHash), gt(sessions.expiresAt, now)))
        .limit(1);
      return rows[0];
    },
    async deleteSession(tokenHash: string) {
      await pgx.db().delete(sessions).where(eq(sessions.tokenHash, tokenHash));
    },
    /**
     * One statement, one snapshot: read as "keep the newest, delete the rest" in two statements, a
     * sign-in committed between them would be ended at once. The per-user lock serializes sign-ins
     * of one person whose transaction trims and then inserts, so the bound holds exactly.
     */
    trimSessions(userId: string, keep: number) {
      return pgx.atomically(async () => {
        await lockForTransaction(pgx, LOCK.sessions(userId));
        const newest = pgx
          .db()
          .select({ tokenHash: sessions.tokenHash })
          .from(sessions)
          .where(eq(sessions.userId, userId))
          .orderBy(desc(sessions.createdAt))
          .limit(keep);
        const ended = await pgx
          .db()
          .delete(sessions)
          .where(and(eq(sessions.userId, userId), notInArray(sessions.tokenHash, newest)))
          .returning({ tokenHash: sessions.tokenHash });
        return ended.map((r) => r.tokenHash);
      });
    },
    async deleteExpiredSessions(now: number) {
      await pgx.db().delete(sessions).where(lt(sessions.expiresAt, now));
    },
    async insertToken(row: typeof apiTokens.$inferInsert) {
      await pgx.db().insert(apiTokens).values(row);
    },
    async findToken(tokenHash: string, now: number) {
      const rows = await pgx
        .db()
        .select({
          user: users,
          tokenId: apiTokens.id,
          expiresAt: apiTokens.expiresAt,
          lastUsedAt: apiTokens.lastUsedAt,
        })
        .from(apiTokens)
        .innerJoin(users, eq(users.id, apiTokens.userId))
        .where(
          and(
            eq(apiTokens.tokenHash, tokenHash),
            or(isNull(apiTokens.expiresAt), gt(apiTokens.expiresAt, now)),
          ),
        )
        .limit(1);
      return rows[0];
    },
    async touchToken(tokenId: string, now: number) {
      await pgx.db().update(apiTokens).set({ lastUsedAt: now }).where(eq(apiTokens.id, tokenId));
    },
    async deleteToken(userId: string, id: string) {
      const r = await pgx
        .db()
        .delete(apiTokens)
        .where(and(eq(apiTokens.id, id), eq(apiTokens.userId, userId)));
      return (r.rowCount ?? 0) > 0;
    },
    async deleteUser(id: string) {
      return ((await pgx.db().delete(users).where(eq(users.id, id))).rowCount ?? 0) > 0;
    },
    /** Inside a transaction, one count (and the caller's insert) per person at a time (PG-132). */
    async countTokens(userId: string) {
      await lockBeforeRead(pgx, LOCK.limit('tokens', userId));
      const rows = await pgx
        .db()
        .select({ n: count() })
        .from(apiTokens)
        .where(eq(apiTokens.userId, userId));
      return rows[0]?.n ?? 0;
    },
    async listTokens(userId: string) {
      return await pgx
        .db()
        .select({
          id: apiTokens.id,
          name: apiTokens.name,
          createdAt: apiTokens.createdAt,
          lastUsedAt: apiTokens.lastUsedAt,
          expiresAt: apiTokens.expiresAt,
        })
        .from(apiTokens)
        .where(eq(apiTokens.userId, userId))
        .orderBy(apiTokens.createdAt, apiTokens.id);
    },
  } satisfies Async<ReturnType<typeof createAccountStore>>;
}
