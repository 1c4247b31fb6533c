import { AppError } from '#schema/errors.ts';
import type { AccountStore } from '../store/accounts.ts';
import type { PasswordResetStore } from '../store/password-resets.ts';
import type { Principal } from './accounts.ts';
import { hashToken, newSecretToken } from './ids.ts';
import { hashPassword } from './passwords.ts';
import { assertStrongPassword } from './password-strength.ts';

/** A reset link works for a day: long enough to pass it on by another channel, short if it leaks. */
export const RESET_LINK_TTL_MS = 24 * 3600_000;

/**
 * Single-use password-reset links, issued by an instance admin (there is no email delivery:
 * the admin hands the link to the person). Using one sets the password and ends every session
 * of that user; issuing a new one voids the older ones.
 */
export function createPasswordResets(deps: { store: PasswordResetStore; accounts: AccountStore }) {
  return {
    async issue(
      by: Principal,
      userId: string,
      now = Date.now(),
    ): Promise<{ path: string; expiresAt: string }> {
      if (!by.isInstanceAdmin)
        throw new AppError('forbidden', 'Only an instance admin can issue password-reset links.');
      if (!(await deps.accounts.findUserById(userId))) throw new AppError('user_not_found');
      const token = newSecretToken('scr');
      const expiresAt = now + RESET_LINK_TTL_MS;
      await deps.store.issue({
        tokenHash: hashToken(token),
        userId,
        createdBy: by.user.id,
        createdAt: now,
        expiresAt,
        usedAt: null,
      });
      return { path: `/reset/${token}`, expiresAt: new Date(expiresAt).toISOString() };
    },

    /** Whose link this is (the page shows the email), or `reset_link_invalid`. */
    async check(token: string): Promise<{ email: string }> {
      const user = await deps.store.findValid(hashToken(token), Date.now());
      if (!user) throw new AppError('reset_link_invalid');
      return { email: user.email };
    },

    /** Sets the new password; the link is dead afterwards and every other session of the user has ended. */
    async complete(token: string, password: string): Promise<{ email: string }> {
      const tokenHash = hashToken(token);
      const user = await deps.store.findValid(tokenHash, Date.now());
      if (!user) throw new AppError('reset_link_invalid');
      await assertStrongPassword(password, [user.email, user.name]);
      const passwordHash = await hashPassword(password);
      // Re-checked in the transaction: another use of the link may have won during the hash.
      if (!(await deps.store.redeem(tokenHash, user.id, passwordHash, Date.now())))
        throw new AppError('reset_link_invalid');
      return { email: user.email };
    },
  };
}

export type PasswordResets = ReturnType<typeof createPasswordResets>;
