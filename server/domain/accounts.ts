import { AppError } from '#schema/errors.ts';
import type { SetupInput, UserView } from '#schema/api.ts';
import type { AccountStore, UserRow } from '../store/accounts.ts';
import { hashToken, newId, newSecretToken } from './ids.ts';
import { DUMMY_HASH, hashPassword, verifyPassword } from './passwords.ts';
import { assertStrongPassword } from './password-strength.ts';

export interface Principal {
  user: UserView;
  isInstanceAdmin: boolean;
  via: 'session' | 'token';
}

/** How stale a token's lastUsedAt may be: one write a minute per token, not one per request. */
const TOKEN_TOUCH_MS = 60_000;

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
      await assertStrongPassword(input.password, [input.email, input.name]);
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

    fromApiToken(token: string, now = Date.now()): Principal | null {
      const found = store.findTokenUser(hashToken(token));
      if (!found) return null;
      // lastUsedAt is a hint for the owner, so a read must never depend on writing it: it is
      // written at most once a minute, and a locked or full database only skips it.
      if (found.lastUsedAt === null || now - found.lastUsedAt >= TOKEN_TOUCH_MS) {
        try {
          store.touchToken(found.tokenId, now);
        } catch {
          // Storage is failing; the request goes on, the next one tries again.
        }
      }
      return principal(found.user, 'token');
    },

    /** Creates a personal API token; the secret is returned once and stored only hashed. */
    createToken(userId: string, name: string): { id: string; name: string; token: string } {
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
