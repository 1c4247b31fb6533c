import { Hono, type Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import {
  AcceptInvitationBody,
  PasswordResetBody,
  SessionBody,
  SetupBody,
  TokenBody,
} from '#schema/api.ts';
import type {
  InvitationView,
  LockedMembersView,
  PasswordResetCheck,
  PasswordResetLink,
  SessionView,
  SetupState,
  SignedIn,
  TokenCreated,
  TokensView,
} from '#schema/api.ts';
import type { AppDeps, AppEnv } from '../context.ts';
import { SESSION_COOKIE } from '../../request/authenticate.ts';
import { readJson } from '../validate.ts';
import type { SignInLimiter } from '../rate-limit.ts';
import { clientAddress, hopOfContext, requestScheme } from '../../request/client.ts';
import { sameOrigin } from '../same-origin.ts';
import { AppError } from '#schema/errors.ts';
import { op } from '../describe.ts';

/** Routes that work without a principal: first-run set-up, signing in and out, invitations, password resets. */
export function publicAccountRoutes(deps: AppDeps, signIns: SignInLimiter) {
  const origin = sameOrigin(deps);

  const startSession = async (c: Context, email: string, password: string) => {
    // Counted before the password is checked (signIn awaits argon2): parallel guesses all count.
    const begun = await signIns.begin(email, clientAddress(hopOfContext(c), deps.trustProxy));
    // The error handler turns details.retryAfter into the Retry-After header, as for every 429.
    if ('wait' in begun)
      throw new AppError(
        'too_many_attempts',
        `Too many failed sign-in attempts. Try again in ${Math.ceil(begun.wait / 60)} minute${begun.wait > 60 ? 's' : ''}.`,
        { retryAfter: begun.wait },
      );
    const s = await deps.accounts.signIn(email, password);
    await begun.attempt.succeeded();
    // Secure behind https: configured, or the request came over https (directly, or via a trusted proxy).
    const https = deps.secureCookies || requestScheme(hopOfContext(c), deps.trustProxy) === 'https';
    setCookie(c, SESSION_COOKIE, s.sessionToken, {
      httpOnly: true,
      sameSite: 'Lax',
      path: '/',
      secure: https,
      maxAge: Math.floor(deps.sessionTtlMs / 1000),
    });
    return s.user;
  };

  return new Hono<AppEnv>()
    .get(
      '/setup',
      op({
        id: 'getSetupState',
        tag: 'Accounts',
        auth: 'public',
        summary: 'Whether the first administrator is still to be set up',
        answers: { 200: 'SetupState' },
      }),
      async (c) => c.json({ needed: await deps.accounts.setupNeeded() } satisfies SetupState),
    )
    .post(
      '/setup',
      op({
        id: 'setUp',
        tag: 'Accounts',
        auth: 'public',
        summary: 'Set up the instance: create the first administrator and sign in',
        body: SetupBody,
        answers: { 201: 'SignedIn' },
        errors: ['bad_origin', 'setup_done', 'weak_password', 'too_many_attempts'],
      }),
      origin,
      async (c) => {
        const body = await readJson(c, SetupBody);
        await deps.accounts.setup(body);
        // The new admin is signed in straight away.
        const user = await startSession(c, body.email, body.password);
        return c.json({ user } satisfies SignedIn, 201);
      },
    )
    .post(
      '/session',
      op({
        id: 'signIn',
        tag: 'Accounts',
        auth: 'public',
        summary: 'Sign in with email and password (sets the session cookie)',
        body: SessionBody,
        answers: { 200: 'SignedIn' },
        errors: ['bad_origin', 'invalid_credentials', 'too_many_attempts'],
      }),
      origin,
      async (c) => {
        const body = await readJson(c, SessionBody);
        const user = await startSession(c, body.email, body.password);
        return c.json({ user } satisfies SignedIn);
      },
    )
    .get(
      '/invitations/:token',
      op({
        id: 'getInvitation',
        tag: 'Accounts',
        auth: 'public',
        summary: 'What an invitation link invites to',
        answers: { 200: 'InvitationView' },
        errors: ['invitation_invalid'],
      }),
      async (c) =>
        c.json((await deps.access.invitation(c.req.param('token'))) satisfies InvitationView),
    )
    .post(
      '/invitations/:token/accept',
      op({
        id: 'acceptInvitation',
        tag: 'Accounts',
        auth: 'public',
        summary: 'Accept an invitation: choose a password and sign in',
        body: AcceptInvitationBody,
        answers: { 201: 'SignedIn' },
        errors: ['bad_origin', 'invitation_invalid', 'weak_password', 'too_many_attempts'],
      }),
      origin,
      async (c) => {
        const { password } = await readJson(c, AcceptInvitationBody);
        const { email } = await deps.access.accept(c.req.param('token'), password);
        const user = await startSession(c, email, password);
        return c.json({ user } satisfies SignedIn, 201);
      },
    )
    .get(
      '/password-reset/:token',
      op({
        id: 'checkPasswordReset',
        tag: 'Accounts',
        auth: 'public',
        summary: 'Whether a password-reset link is still valid',
        answers: { 200: 'PasswordResetCheck' },
        errors: ['reset_link_invalid'],
      }),
      async (c) =>
        c.json(
          (await deps.passwordResets.check(c.req.param('token'))) satisfies PasswordResetCheck,
        ),
    )
    .post(
      '/password-reset/:token',
      op({
        id: 'resetPassword',
        tag: 'Accounts',
        auth: 'public',
        summary: 'Choose a new password through a reset link and sign in',
        body: PasswordResetBody,
        answers: { 200: 'SignedIn' },
        errors: ['bad_origin', 'reset_link_invalid', 'weak_password', 'too_many_attempts'],
      }),
      origin,
      async (c) => {
        const { password } = await readJson(c, PasswordResetBody);
        const { email } = await deps.passwordResets.complete(c.req.param('token'), password);
        // A new password from an admin's link also lifts any sign-in lock on the account.
        await signIns.unlock(email);
        const user = await startSession(c, email, password);
        return c.json({ user } satisfies SignedIn);
      },
    )
    .delete(
      '/session',
      op({
        id: 'signOut',
        tag: 'Accounts',
        auth: 'public',
        summary: 'Sign out (ends the session, clears the cookie)',
        answers: { 204: null },
        errors: ['bad_origin'],
      }),
      origin,
      async (c) => {
        const token = getCookie(c, SESSION_COOKIE);
        if (token) await deps.accounts.signOut(token);
        deleteCookie(c, SESSION_COOKIE, { path: '/' });
        return c.body(null, 204);
      },
    );
}

/** Routes for the signed-in principal. */
export function accountRoutes(deps: AppDeps, signIns: SignInLimiter) {
  return new Hono<AppEnv>()
    .get(
      '/session',
      op({
        id: 'getSession',
        tag: 'Accounts',
        summary: 'Who is signed in, and how',
        answers: { 200: 'SessionView' },
      }),
      (c) => {
        const p = c.get('principal');
        return c.json({
          user: p.user,
          isInstanceAdmin: p.isInstanceAdmin,
          via: p.via,
        } satisfies SessionView);
      },
    )
    .post(
      '/tokens',
      op({
        id: 'createToken',
        tag: 'Accounts',
        summary: 'Create a personal API token (its value is shown once)',
        body: TokenBody,
        answers: { 201: 'TokenCreated' },
        errors: ['limit_reached'],
      }),
      async (c) => {
        const body = await readJson(c, TokenBody);
        const t = await deps.accounts.createToken(
          c.get('principal').user.id,
          body.name,
          body.expiresInDays,
        );
        return c.json(t satisfies TokenCreated, 201);
      },
    )
    .get(
      '/tokens',
      op({
        id: 'listTokens',
        tag: 'Accounts',
        summary: 'Your API tokens (never their values)',
        answers: { 200: 'TokensView' },
      }),
      async (c) =>
        c.json({
          tokens: await deps.accounts.listTokens(c.get('principal').user.id),
        } satisfies TokensView),
    )
    .delete(
      '/tokens/:id',
      op({
        id: 'revokeToken',
        tag: 'Accounts',
        summary: 'Revoke one of your API tokens',
        answers: { 204: null },
        errors: ['not_found'],
      }),
      async (c) => {
        await deps.accounts.revokeToken(c.get('principal').user.id, c.req.param('id'));
        return c.body(null, 204);
      },
    )
    .get(
      '/projects/:id/locked-members',
      op({
        id: 'listLockedMembers',
        tag: 'Accounts',
        summary: 'Members of a project locked out by failed sign-ins (instance admin)',
        answers: { 200: 'LockedMembersView' },
        errors: ['project_not_found'],
      }),
      async (c) => {
        deps.access.requireInstanceAdmin(c.get('principal'));
        await deps.projects.get(c.req.param('id')); // 404 project_not_found, as for every project route
        // Bounded by the project's members; removed users (no email) are never locked.
        const members = (await deps.access.members(c.req.param('id'))).filter(
          (m) => m.user.email !== '',
        );
        const locked = await signIns.locked(members.map((m) => m.user.email));
        return c.json({
          userIds: members.filter((m) => locked.has(m.user.email)).map((m) => m.user.id),
        } satisfies LockedMembersView);
      },
    )
    .post(
      '/users/:id/unlock',
      op({
        id: 'unlockUser',
        tag: 'Accounts',
        summary: 'Lift a sign-in lock-out (instance admin)',
        answers: { 204: null },
        errors: ['user_not_found'],
      }),
      async (c) => {
        deps.access.requireInstanceAdmin(c.get('principal'));
        await signIns.unlock((await deps.access.user(c.req.param('id'))).email);
        return c.body(null, 204);
      },
    )
    .post(
      '/users/:id/password-reset',
      op({
        id: 'createPasswordResetLink',
        tag: 'Accounts',
        summary: 'Make a password-reset link for a user (instance admin)',
        answers: { 201: 'PasswordResetLink' },
        errors: ['user_not_found', 'rate_limited'],
      }),
      async (c) => {
        deps.access.requireInstanceAdmin(c.get('principal'));
        const link = await deps.passwordResets.issue(c.get('principal'), c.req.param('id'));
        return c.json(
          {
            url: deps.absoluteUrl(link.path),
            path: link.path,
            expiresAt: link.expiresAt,
          } satisfies PasswordResetLink,
          201,
        );
      },
    );
}
