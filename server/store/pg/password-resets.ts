import { and, eq, gt, isNull } from 'drizzle-orm';
import { passwordResets, sessions, users } from '#schema/db/pg-tables.ts';
import type { Async } from '../port.ts';
import type { createPasswordResetStore, PasswordResetRow } from '../password-resets.ts';
import type { Postgres } from './db.ts';
import { LOCK, lockForTransaction } from './locks.ts';

/** Password-reset links on PostgreSQL (PG-33): store/password-resets.ts's answers. */
export function createPgPasswordResetStore(pgx: Postgres) {
  return {
    /**
     * Stores a new link and ends the user's earlier unused ones. Without the per-user lock two
     * issues at once would each end only the links committed before they started, and both new
     * links would work; after it, the later one's UPDATE sees (and ends) the earlier one's link.
     */
    issue(row: PasswordResetRow) {
      return pgx.atomically(async () => {
        await lockForTransaction(pgx, LOCK.passwordReset(row.userId));
        await pgx
          .db()
          .update(passwordResets)
          .set({ usedAt: row.createdAt })
          .where(and(eq(passwordResets.userId, row.userId), isNull(passwordResets.usedAt)));
        await pgx.db().insert(passwordResets).values(row);
      });
    },
    async findValid(tokenHash: string, now: number) {
      const rows = await pgx
        .db()
        .select({ user: users })
        .from(passwordResets)
        .innerJoin(users, eq(users.id, passwordResets.userId))
        .where(
          and(
            eq(passwordResets.tokenHash, tokenHash),
            isNull(passwordResets.usedAt),
            gt(passwordResets.expiresAt, now),
          ),
        );
      return rows[0]?.user;
    },
    /** The conditional UPDATE is the compare-and-swap: of racing redemptions one changes a row. */
    redeem(tokenHash: string, userId: string, passwordHash: string, now: number) {
      return pgx.atomically(async () => {
        const used = await pgx
          .db()
          .update(passwordResets)
          .set({ usedAt: now })
          .where(
            and(
              eq(passwordResets.tokenHash, tokenHash),
              eq(passwordResets.userId, userId),
              isNull(passwordResets.usedAt),
              gt(passwordResets.expiresAt, now),
            ),
          );
        if (used.rowCount !== 1) return false;
        await pgx.db().update(users).set({ passwordHash }).where(eq(users.id, userId));
        await pgx.db().delete(sessions).where(eq(sessions.userId, userId));
        return true;
      });
    },
  } satisfies Async<ReturnType<typeof createPasswordResetStore>>;
}
