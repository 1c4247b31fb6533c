import { and, eq, gt, lt, count, desc, notInArray } from 'drizzle-orm';
import { users, sessions, apiTokens } from '#schema/db/tables.ts';
import type { Db } from './db.ts';

export type UserRow = typeof users.$inferSelect;

export function createAccountStore(db: Db) {
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
    findSessionUser(tokenHash: string, now: number): UserRow | undefined {
      const row = db
        .select({ user: users })
        .from(sessions)
        .innerJoin(users, eq(users.id, sessions.userId))
        .where(and(eq(sessions.tokenHash, tokenHash), gt(sessions.expiresAt, now)))
        .get();
      return row?.user;
    },
    deleteSession(tokenHash: string): void {
      db.delete(sessions).where(eq(sessions.tokenHash, tokenHash)).run();
    },
    /** Ends the user's oldest sessions so that at most `keep` remain. */
    trimSessions(userId: string, keep: number): void {
      const newest = db.select({ tokenHash: sessions.tokenHash }).from(sessions).where(eq(sessions.userId, userId)).orderBy(desc(sessions.createdAt)).limit(keep).all().map((r) => r.tokenHash);
      db.delete(sessions).where(newest.length > 0 ? and(eq(sessions.userId, userId), notInArray(sessions.tokenHash, newest)) : eq(sessions.userId, userId)).run();
    },
    deleteExpiredSessions(now: number): void {
      db.delete(sessions).where(lt(sessions.expiresAt, now)).run();
    },
    insertToken(row: typeof apiTokens.$inferInsert): void {
      db.insert(apiTokens).values(row).run();
    },
    findTokenUser(tokenHash: string, now: number): UserRow | undefined {
      const row = db
        .select({ user: users, tokenId: apiTokens.id })
        .from(apiTokens)
        .innerJoin(users, eq(users.id, apiTokens.userId))
        .where(eq(apiTokens.tokenHash, tokenHash))
        .get();
      if (!row) return undefined;
      db.update(apiTokens).set({ lastUsedAt: now }).where(eq(apiTokens.id, row.tokenId)).run();
      return row.user;
    },
    countTokens(userId: string): number {
      return db.select({ n: count() }).from(apiTokens).where(eq(apiTokens.userId, userId)).get()?.n ?? 0;
    },
    listTokens(userId: string) {
      return db
        .select({ id: apiTokens.id, name: apiTokens.name, createdAt: apiTokens.createdAt, lastUsedAt: apiTokens.lastUsedAt })
        .from(apiTokens)
        .where(eq(apiTokens.userId, userId))
        .all();
    },
  };
}

export type AccountStore = ReturnType<typeof createAccountStore>;
