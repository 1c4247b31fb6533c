import { Hono } from 'hono';
import {
  CreateUserBody,
  InvitationBody,
  MemberBody,
  type InvitationCreated,
  type InvitationLink,
  type PendingInvitationsView,
  type MemberRoles,
  type MembersView,
  type UsersView,
  type UserView,
} from '#schema/api.ts';
import { ROLE_LABELS, TEMPLATES } from '#schema/permissions.ts';
import type { AppDeps, AppEnv } from '../context.ts';
import { readJson } from '../validate.ts';

/** Users (instance admin), project members and roles (project admin), invitations. */
export function accessRoutes(deps: AppDeps) {
  const { access } = deps;
  return new Hono<AppEnv>()
    .post('/users', async (c) => {
      access.requireInstanceAdmin(c.get('principal'));
      return c.json(
        (await access.createUser(
          c.get('principal'),
          await readJson(c, CreateUserBody),
        )) satisfies UserView,
        201,
      );
    })
    .get('/users', (c) => {
      access.requireInstanceAdmin(c.get('principal'));
      return c.json({ users: access.listUsers() } satisfies UsersView);
    })
    .delete('/users/:id', (c) => {
      deps.accounts.removeUser(c.get('principal'), c.req.param('id'));
      return c.body(null, 204);
    })
    .get('/roles', (c) =>
      c.json({
        roles: ROLE_LABELS,
        templates: Object.fromEntries(
          Object.entries(TEMPLATES).map(([id, t]) => [id, { label: t.label, byKind: t.byKind }]),
        ),
      }),
    )
    .get('/projects/:id/members', (c) => {
      access.requireMember(c.get('principal'), c.req.param('id'));
      return c.json({ members: access.members(c.req.param('id')) } satisfies MembersView);
    })
    .put('/projects/:id/members/:userId', async (c) => {
      access.requireProjectAdmin(c.get('principal'), c.req.param('id'));
      const { roles } = await readJson(c, MemberBody);
      return c.json({
        userId: c.req.param('userId'),
        roles: access.setMember(
          c.get('principal'),
          c.req.param('id'),
          c.req.param('userId'),
          roles,
        ),
      } satisfies MemberRoles);
    })
    .delete('/projects/:id/members/:userId', (c) => {
      access.requireProjectAdmin(c.get('principal'), c.req.param('id'));
      access.removeMember(c.get('principal'), c.req.param('id'), c.req.param('userId'));
      return c.body(null, 204);
    })
    .get('/projects/:id/invitations', (c) => {
      access.requireProjectAdmin(c.get('principal'), c.req.param('id'));
      return c.json({
        invitations: access.pendingInvitations(c.req.param('id')),
      } satisfies PendingInvitationsView);
    })
    .delete('/invitations/:id', (c) => {
      access.revokeInvitation(c.get('principal'), c.req.param('id'));
      return c.body(null, 204);
    })
    .post('/invitations/:id/link', (c) => {
      const link = access.newInvitationLink(c.get('principal'), c.req.param('id'));
      return c.json({
        url: deps.absoluteUrl(link.path),
        path: link.path,
        expiresAt: link.expiresAt,
      } satisfies InvitationLink);
    })
    .post('/invitations', async (c) => {
      const body = await readJson(c, InvitationBody);
      if (body.projectId) access.requireProjectAdmin(c.get('principal'), body.projectId);
      else access.requireInstanceAdmin(c.get('principal'));
      const inv = access.invite(c.get('principal'), body);
      return c.json(
        {
          id: inv.id,
          token: inv.token,
          url: deps.absoluteUrl(inv.path),
          path: inv.path,
          expiresAt: inv.expiresAt,
        } satisfies InvitationCreated,
        201,
      );
    });
}
