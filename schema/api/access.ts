import type { Role } from '../permissions.ts';
import type { UserView } from './projects.ts';

/** Account and access answers: set-up, sessions, tokens, members, invitations, password resets. */

/** GET /setup. */
export interface SetupState {
  needed: boolean;
}

/** POST /setup, /session, /invitations/:token/accept, /password-reset/:token: the signed-in user. */
export interface SignedIn {
  user: UserView;
}

/** GET /session. */
export interface SessionView {
  user: UserView;
  isInstanceAdmin: boolean;
  via: 'session' | 'token';
}

/** `GET /api/whoami`: who this browser is, 200 either way (the web app asks this, so a signed-out
 * visit logs no failed request; `GET /api/session` keeps its 401). */
export type WhoAmI = SessionView | { user: null; isInstanceAdmin: false; via: null };

export interface TokenView {
  id: string;
  name: string;
  createdAt: string;
  lastUsedAt: string | null;
  expiresAt: string | null;
}

/** GET /tokens. */
export interface TokensView {
  tokens: TokenView[];
}

/** POST /tokens: the token itself, shown this once. */
export interface TokenCreated {
  id: string;
  name: string;
  token: string;
  expiresAt: string | null;
}

/** GET /users. */
export interface UsersView {
  users: UserView[];
}

/** A project member as GET /projects/:id/members lists them (any member may read the list). */
export interface MemberView {
  user: UserView;
  /** Per environment id ("*": every environment). */
  roles: Record<string, Role[]>;
  isInstanceAdmin: boolean;
  updatedAt: string;
}

/** GET /projects/:id/members. */
export interface MembersView {
  members: MemberView[];
}

/** PUT /projects/:id/members/:userId: the roles as stored. */
export interface MemberRoles {
  userId: string;
  roles: Record<string, Role[]>;
}

/** GET /invitations/:token. */
export interface InvitationView {
  email: string;
  name: string;
  expiresAt: string;
}

/** POST /invitations: the link, shown this once. */
export interface InvitationCreated {
  id: string;
  token: string;
  url: string;
  path: string;
  expiresAt: string;
}

/**
 * A pending invitation into a project (not used, not revoked, not expired), as its project's
 * admins list it. Never its token: only a hash is kept, so the link cannot be shown again.
 */
export interface PendingInvitationView {
  id: string;
  email: string;
  name: string;
  /** Granted on acceptance, per environment id ("*": every environment). */
  roles: Record<string, Role[]>;
  /** The name of who invited (or "a removed user"). */
  createdBy: string;
  createdAt: string;
  expiresAt: string;
}

/** GET /projects/:id/invitations: oldest first, bounded by the open-invitations limit. */
export interface PendingInvitationsView {
  invitations: PendingInvitationView[];
}

/** POST /invitations/:id/link: a new link for the same invitation, shown this once. */
export interface InvitationLink {
  url: string;
  path: string;
  expiresAt: string;
}

/** GET /password-reset/:token. */
export interface PasswordResetCheck {
  email: string;
}

/**
 * GET /projects/:id/locked-members (instance admins): the members whose sign-in is locked now
 * (too many failed attempts), so the members list can say so and offer "Unlock".
 */
export interface LockedMembersView {
  userIds: string[];
}

/** POST /users/:id/password-reset: the link an admin hands over. */
export interface PasswordResetLink {
  url: string;
  path: string;
  expiresAt: string;
}
