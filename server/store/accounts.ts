import type { Async } from './port.ts';
import { and, eq, gt, lt, count, desc, isNull, notInArray, or, sql } from 'drizzle-orm';
import { users, sessions, apiTokens } from '#schema/db/tables.ts';
import type { Db } from './db.ts';

export type UserRow = typeof users.$inferSelect;

export function createAccountStore(db: Db) {
  // Read on every signed-in request: prepared once (drizzle built each anew: ~20 % of a delivery
  // request's time, bench:delivery D1).
  const sessionByHash = db
    .select({ user: users, expiresAt: sessions.expiresAt })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(
      and(
        eq(sessions.tokenHash, sql.placeholder('tokenHash')),
        gt(sessions.expiresAt, sql.placeholder('now')),
      ),
    )
    .prepare();
  const tokenByHash = db
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
        eq(apiTokens.tokenHash, sql.placeholder('tokenHash')),
        or(isNull(apiTokens.expiresAt), gt(apiTokens.expiresAt, sql.placeholder('now'))),
      ),
    )
    .prepare();

  return {
    countUsers(): number {
      return db.select({ n: count() }).from(users).get()?.n ?? 0;
    },
    /** Inserts the first account only if there is none yet, atomically. */
    insertFirstUser(row: UserRow): boolean {
      return db.transaction((tx) => {
        const n = tx.select({ n: count() }).from(users).get()?.n ?? 0;
        if (n > 0) return false;
        tx.insert(users).values(row).run();
        return true;
      });
    },
    insertUser(row: UserRow): void {
      db.insert(users).values(row).run();
    },
    listUsers(): UserRow[] {
      return db.select().from(users).all();
    },
    findUserByEmail(email: string): UserRow | undefined {
      return db.select().from(users).where(eq(users.email, email)).get();
    },
    findUserById(id: string): UserRow | undefined {
      return db.select().from(users).where(eq(users.id, id)).get();
    },
    insertSession(row: typeof sessions.$inferInsert): void {
      db.insert(sessions).values(row).run();
    },
    /** The user behind an unexpired session, with the session's end. */
    findSession(tokenHash: string, now: number): { user: UserRow; expiresAt: number } | undefined {
      return sessionByHash.get({ tokenHash, now });
    },
    deleteSession(tokenHash: string): void {
      db.delete(sessions).where(eq(sessions.tokenHash, tokenHash)).run();
    },
    /** Ends the user's oldest sessions so that at most `keep` remain; returns the ended sessions' hashes. */
    trimSessions(userId: string, keep: number): string[] {
      const newest = db
        .select({ tokenHash: sessions.tokenHash })
        .from(sessions)
        .where(eq(sessions.userId, userId))
        .orderBy(desc(sessions.createdAt))
        .limit(keep)
        .all()
        .map((r) => r.tokenHash);
      const older =
        newest.length > 0
          ? and(eq(sessions.userId, userId), notInArray(sessions.tokenHash, newest))
          : eq(sessions.userId, userId);
      return db
        .delete(sessions)
        .where(older)
        .returning({ tokenHash: sessions.tokenHash })
        .all()
        .map((r) => r.tokenHash);
    },
    deleteExpiredSessions(now: number): void {
      db.delete(sessions).where(lt(sessions.expiresAt, now)).run();
    },
    insertToken(row: typeof apiTokens.$inferInsert): void {
      db.insert(apiTokens).values(row).run();
    },
    /**
     * The user behind an unexpired API token, with the token's id, end (null: never) and last use.
     * Reading never writes: see touchToken.
     */
    findToken(
      tokenHash: string,
      now: number,
    ):
      | { user: UserRow; tokenId: string; expiresAt: number | null; lastUsedAt: number | null }
      | undefined {
      return tokenByHash.get({ tokenHash, now });
    },
    touchToken(tokenId: string, now: number): void {
      db.update(apiTokens).set({ lastUsedAt: now }).where(eq(apiTokens.id, tokenId)).run();
    },
    /** Deletes one of the user's tokens; false if they have none with that id. */
    deleteToken(userId: string, id: string): boolean {
      return (
        db
          .delete(apiTokens)
          .where(and(eq(apiTokens.id, id), eq(apiTokens.userId, userId)))
          .run().changes > 0
      );
    },
    /** Deletes the account; its sessions, tokens and memberships go with it (foreign keys cascade). */
    deleteUser(id: string): boolean {
      return db.delete(users).where(eq(users.id, id)).run().changes > 0;
    },
    countTokens(userId: string): number {
      return (
        db.select({ n: count() }).from(apiTokens).where(eq(apiTokens.userId, userId)).get()?.n ?? 0
      );
    },
    listTokens(userId: string) {
      return db
        .select({
          id: apiTokens.id,
          name: apiTokens.name,
          createdAt: apiTokens.createdAt,
          lastUsedAt: apiTokens.lastUsedAt,
          expiresAt: apiTokens.expiresAt,
        })
        .from(apiTokens)
        .where(eq(apiTokens.userId, userId))
        .orderBy(apiTokens.createdAt, apiTokens.id)
        .all();
    },
  };
}

/** The port the domain sees (PG-10). */
export type AccountStore = Async<ReturnType<typeof createAccountStore>>;
