import { AppError } from '#schema/errors.ts';
import type { SetupInput, TokenView, UserView } from '#schema/api.ts';
import type { AccountStore, UserRow } from '../store/accounts.ts';
import { hashToken, newId, newSecretToken } from './ids.ts';
import { DUMMY_HASH, hashPassword, verifyPassword } from './passwords.ts';
import { assertStrongPassword } from './password-strength.ts';

/**
 * The sign-in a request or socket came with: a session (id = its token's hash) or an API token;
 * `expiresAt` null = never.
 */
export interface Credential {
  kind: 'session' | 'token';
  id: string;
  expiresAt: number | null;
}

/** What ended, so live connections opened with it can be closed (sign-out, revocation, a removed user). */
export type Ended = { kind: 'session' | 'token' | 'user'; id: string };
import { LIMITS, requireBelow } from './limits.ts';
import { DAY } from '../lib/time.ts';

export interface Principal {
  user: UserView;
  isInstanceAdmin: boolean;
  via: 'session' | 'token';
  credential: Credential;
}

/** How stale a token's lastUsedAt may be: one write a minute per token, not one per request. */
const TOKEN_TOUCH_MS = 60_000;

export function userView(u: UserRow): UserView {
  return { id: u.id, email: u.email, name: u.name };
}

/**
 * A new account's row, made in one place for set-up, an instance admin's createUser and an
 * accepted invitation: the password must be strong (it may not echo the email or name) and is
 * stored only hashed. The caller stores it (AccountStore.insertUser, or insertFirstUser at set-up).
 */
export async function newUser(
  input: { email: string; name: string; password: string },
  isInstanceAdmin: boolean,
): Promise<UserRow> {
  await assertStrongPassword(input.password, [input.email, input.name]);
  return {
    id: newId('usr'),
    email: input.email,
    name: input.name,
    passwordHash: await hashPassword(input.password),
    isInstanceAdmin,
    createdAt: Date.now(),
  };
}

function principal(u: UserRow, credential: Credential): Principal {
  return {
    user: userView(u),
    isInstanceAdmin: u.isInstanceAdmin,
    via: credential.kind,
    credential,
  };
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

export function createAccounts(
  store: AccountStore,
  opts: {
    sessionTtlMs: number;
    onEnded?: (ended: Ended) => void;
    /**
     * Runs in the removal's transaction, before the account (and with it its memberships) goes:
     * the projects it leaves announce it (`members` events).
     */
    onRemoving?: (userId: string) => Promise<void>;
    atomically?: <T>(fn: () => Promise<T>) => Promise<T>;
  },
) {
  const ended = (e: Ended) => opts.onEnded?.(e);
  const atomically = opts.atomically ?? (async <T>(fn: () => Promise<T>): Promise<T> => await fn());
  return {
    async setupNeeded(): Promise<boolean> {
      return (await store.countUsers()) === 0;
    },

    /** Creates the first (instance admin) account; refused once any account exists. */
    async setup(input: SetupInput): Promise<UserView> {
      if ((await store.countUsers()) > 0) throw new AppError('setup_done');
      const row = await newUser(input, true);
      // Re-checked inside the transaction: two set-ups racing through the hash both pass the first check.
      if (!(await store.insertFirstUser(row))) throw new AppError('setup_done');
      return userView(row);
    },

    /** Checks the password and opens a session; returns the secret for the cookie. */
    async signIn(
      email: string,
      password: string,
    ): Promise<{ sessionToken: string; user: UserView; expiresAt: number }> {
      const user = await store.findUserByEmail(email);
      const ok = await verifyPassword(password, user?.passwordHash ?? (await DUMMY_HASH));
      if (!user || !ok) throw new AppError('invalid_credentials');
      const sessionToken = newSecretToken('scs');
      const now = Date.now();
      const expiresAt = now + opts.sessionTtlMs;
      await store.deleteExpiredSessions(now);
      // Bounded per user: the oldest sign-ins end, with their sockets (a stolen password cannot
      // lock the owner out with a refusal).
      for (const id of await store.trimSessions(user.id, LIMITS.MAX_SESSIONS_PER_USER - 1))
        ended({ kind: 'session', id });
      await store.insertSession({
        tokenHash: hashToken(sessionToken),
        userId: user.id,
        createdAt: now,
        expiresAt,
      });
      return { sessionToken, user: userView(user), expiresAt };
    },

    /** Ends the session; the sockets it opened close too. */
    async signOut(sessionToken: string): Promise<void> {
      const id = hashToken(sessionToken);
      await store.deleteSession(id);
      ended({ kind: 'session', id });
    },

    async fromSession(sessionToken: string): Promise<Principal | null> {
      const id = hashToken(sessionToken);
      const s = await store.findSession(id, Date.now());
      return s ? principal(s.user, { kind: 'session', id, expiresAt: s.expiresAt }) : null;
    },

    async fromApiToken(token: string, now = Date.now()): Promise<Principal | null> {
      const t = await store.findToken(hashToken(token), now);
      if (!t) return null;
      // lastUsedAt is a hint for the owner, so a read must never depend on writing it: it is
      // written at most once a minute, and a locked or full database only skips it.
      if (t.lastUsedAt === null || now - t.lastUsedAt >= TOKEN_TOUCH_MS) {
        try {
          await store.touchToken(t.tokenId, now);
        } catch {
          // Storage is failing; the request goes on, the next one tries again.
        }
      }
      return principal(t.user, { kind: 'token', id: t.tokenId, expiresAt: t.expiresAt });
    },

    /**
     * Creates a personal API token; the secret is returned once and stored only hashed.
     * Without `expiresInDays` it lasts until revoked: scripts and CI break silently on expiry,
     * so a limit is the creator's choice (the UI offers 90 days first).
     */
    async createToken(
      userId: string,
      name: string,
      expiresInDays?: number,
    ): Promise<{ id: string; name: string; token: string; expiresAt: string | null }> {
      const max = LIMITS.MAX_API_TOKENS_PER_USER;
      const token = newSecretToken('sct');
      const id = newId('tok');
      const now = Date.now();
      const expiresAt = expiresInDays === undefined ? null : now + expiresInDays * DAY;
      // The count and the insert are one transaction: concurrent creates cannot pass it together (PG-132).
      await atomically(async () => {
        requireBelow(
          'MAX_API_TOKENS_PER_USER',
          max,
          await store.countTokens(userId),
          `You already have ${max} API tokens: revoke one first.`,
        );
        await store.insertToken({
          id,
          userId,
          name,
          tokenHash: hashToken(token),
          createdAt: now,
          expiresAt,
        });
      });
      return { id, name, token, expiresAt: iso(expiresAt) };
    },

    /** Whether a sign-in still stands (PG-112): its session or token unexpired, its account there. */
    async holds(credential: Credential, userId: string, now = Date.now()): Promise<boolean> {
      if (credential.kind === 'session')
        return (await store.findSession(credential.id, now))?.user.id === userId;
      return (await store.listTokens(userId)).some(
        (t) => t.id === credential.id && (t.expiresAt === null || t.expiresAt > now),
      );
    },

    /** Revokes one of the user's own tokens (another's, or unknown: not_found); its sockets close. */
    async revokeToken(userId: string, id: string): Promise<void> {
      if (!(await store.deleteToken(userId, id)))
        throw new AppError('not_found', 'You have no API token with this id.');
      ended({ kind: 'token', id });
    },

    /**
     * Instance admin: removes another account; its sessions, tokens and memberships go with it, and
     * so do its sockets.
     */
    async removeUser(by: Principal, id: string): Promise<void> {
      if (!by.isInstanceAdmin)
        throw new AppError('forbidden', 'Only the instance admin removes accounts.');
      if (id === by.user.id) throw new AppError('forbidden', 'You cannot remove your own account.');
      await atomically(async () => {
        await opts.onRemoving?.(id);
        if (!(await store.deleteUser(id))) throw new AppError('user_not_found');
      });
      ended({ kind: 'user', id });
    },

    /** Display names for user ids (who moved what, on the board and in history). */
    async names(ids: Iterable<string>): Promise<Record<string, string>> {
      const out: Record<string, string> = {};
      for (const id of new Set(ids))
        out[id] =
          id === 'system'
            ? 'Stagecoach (replication)'
            : ((await store.findUserById(id))?.name ?? 'a removed user');
      return out;
    },

    async listTokens(userId: string): Promise<TokenView[]> {
      return (await store.listTokens(userId)).map((t) => ({
        id: t.id,
        name: t.name,
        createdAt: new Date(t.createdAt).toISOString(),
        lastUsedAt: iso(t.lastUsedAt),
        expiresAt: iso(t.expiresAt),
      }));
    },
  };
}

export type Accounts = ReturnType<typeof createAccounts>;
