import { AppError } from '#schema/errors.ts';
import type { SetupInput, UserView } from '#schema/api.ts';
import type { AccountStore, UserRow } from '../store/accounts.ts';
import { hashToken, newId, newSecretToken } from './ids.ts';
import { DUMMY_HASH, hashPassword, verifyPassword } from './passwords.ts';
import { LIMITS, requireBelow } from './limits.ts';

export interface Principal {
  user: UserView;
  isInstanceAdmin: boolean;
  via: 'session' | 'token';
}

export function userView(u: UserRow): UserView {
  return { id: u.id, email: u.email, name: u.name };
}

function principal(u: UserRow, via: Principal['via']): Principal {
  return { user: userView(u), isInstanceAdmin: u.isInstanceAdmin, via };
}

export function createAccounts(store: AccountStore, opts: { sessionTtlMs: number }) {
  return {
    setupNeeded(): boolean {
      return store.countUsers() === 0;
    },

    /** Creates the first (instance admin) account; refused once any account exists. */
    async setup(input: SetupInput): Promise<UserView> {
      if (store.countUsers() > 0) throw new AppError('setup_done');
      const row: UserRow = {
        id: newId('usr'),
        email: input.email,
        name: input.name,
        passwordHash: await hashPassword(input.password),
        isInstanceAdmin: true,
        createdAt: Date.now(),
      };
      // Re-checked inside the transaction: two set-ups racing through the hash both pass the first check.
      if (!store.insertFirstUser(row)) throw new AppError('setup_done');
      return userView(row);
    },

    /** Checks the password and opens a session; returns the secret for the cookie. */
    async signIn(email: string, password: string): Promise<{ sessionToken: string; user: UserView; expiresAt: number }> {
      const user = store.findUserByEmail(email);
      const ok = await verifyPassword(password, user?.passwordHash ?? (await DUMMY_HASH));
      if (!user || !ok) throw new AppError('invalid_credentials');
      const sessionToken = newSecretToken('scs');
      const now = Date.now();
      const expiresAt = now + opts.sessionTtlMs;
      store.deleteExpiredSessions(now);
      // Bounded per user: the oldest sign-ins end (a stolen password cannot lock the owner out with a refusal).
      store.trimSessions(user.id, LIMITS.MAX_SESSIONS_PER_USER - 1);
      store.insertSession({ tokenHash: hashToken(sessionToken), userId: user.id, createdAt: now, expiresAt });
      return { sessionToken, user: userView(user), expiresAt };
    },

    signOut(sessionToken: string): void {
      store.deleteSession(hashToken(sessionToken));
    },

    fromSession(sessionToken: string): Principal | null {
      const u = store.findSessionUser(hashToken(sessionToken), Date.now());
      return u ? principal(u, 'session') : null;
    },

    fromApiToken(token: string): Principal | null {
      const u = store.findTokenUser(hashToken(token), Date.now());
      return u ? principal(u, 'token') : null;
    },

    /** Creates a personal API token; the secret is returned once and stored only hashed. */
    createToken(userId: string, name: string): { id: string; name: string; token: string } {
      const max = LIMITS.MAX_API_TOKENS_PER_USER;
      requireBelow('MAX_API_TOKENS_PER_USER', max, store.countTokens(userId), `You already have ${max} API tokens: revoke one first.`);
      const token = newSecretToken('sct');
      const id = newId('tok');
      store.insertToken({ id, userId, name, tokenHash: hashToken(token), createdAt: Date.now() });
      return { id, name, token };
    },

    /** Display names for user ids (who moved what, on the board and in history). */
    names(ids: Iterable<string>): Record<string, string> {
      const out: Record<string, string> = {};
      for (const id of new Set(ids)) out[id] = id === 'system' ? 'Stagecoach (replication)' : (store.findUserById(id)?.name ?? 'a removed user');
      return out;
    },

    listTokens(userId: string) {
      return store.listTokens(userId).map((t) => ({
        id: t.id,
        name: t.name,
        createdAt: new Date(t.createdAt).toISOString(),
        lastUsedAt: t.lastUsedAt ? new Date(t.lastUsedAt).toISOString() : null,
      }));
    },
  };
}

export type Accounts = ReturnType<typeof createAccounts>;
