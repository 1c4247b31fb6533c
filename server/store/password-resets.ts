import type { Async } from './port.ts';
import { and, eq, gt, isNull } from 'drizzle-orm';
import { passwordResets, sessions, users } from '#schema/db/tables.ts';
import type { Db } from './db.ts';
import type { UserRow } from './accounts.ts';

export type PasswordResetRow = typeof passwordResets.$inferSelect;

export function createPasswordResetStore(db: Db) {
  return {
    /** Stores a new link and ends the user's earlier unused ones (only the newest link works). */
    issue(row: PasswordResetRow): void {
      db.transaction((tx) => {
        tx.update(passwordResets)
          .set({ usedAt: row.createdAt })
          .where(and(eq(passwordResets.userId, row.userId), isNull(passwordResets.usedAt)))
          .run();
        tx.insert(passwordResets).values(row).run();
      });
    },
    /** The user of an unused, unexpired link. */
    findValid(tokenHash: string, now: number): UserRow | undefined {
      return db
        .select({ user: users })
        .from(passwordResets)
        .innerJoin(users, eq(users.id, passwordResets.userId))
        .where(
          and(
            eq(passwordResets.tokenHash, tokenHash),
            isNull(passwordResets.usedAt),
            gt(passwordResets.expiresAt, now),
          ),
        )
        .get()?.user;
    },
    /**
     * Uses the link, sets the password and ends every session of the user, in one transaction.
     * False when the link was used (or expired) meanwhile: of two racing redemptions one wins.
     */
    redeem(tokenHash: string, userId: string, passwordHash: string, now: number): boolean {
      return db.transaction((tx) => {
        const used = tx
          .update(passwordResets)
          .set({ usedAt: now })
          .where(
            and(
              eq(passwordResets.tokenHash, tokenHash),
              eq(passwordResets.userId, userId),
              isNull(passwordResets.usedAt),
              gt(passwordResets.expiresAt, now),
            ),
          )
          .run();
        if (used.changes !== 1) return false;
        tx.update(users).set({ passwordHash }).where(eq(users.id, userId)).run();
        tx.delete(sessions).where(eq(sessions.userId, userId)).run();
        return true;
      });
    },
  };
}

/** The port the domain sees (PG-10). */
export type PasswordResetStore = Async<ReturnType<typeof createPasswordResetStore>>;
