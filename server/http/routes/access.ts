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
  type RolesView,
} from '#schema/api.ts';
import { ROLE_LABELS, TEMPLATES } from '#schema/permissions.ts';
import type { AppDeps, AppEnv } from '../context.ts';
import { readJson } from '../validate.ts';
import { op } from '../describe.ts';

/** Users (instance admin), project members and roles (project admin), invitations. */
export function accessRoutes(deps: AppDeps) {
  const { access } = deps;
  return new Hono<AppEnv>()
    .post(
      '/users',
      op({
        id: 'createUser',
        tag: 'Access',
        summary: 'Create a user (instance admin)',
        body: CreateUserBody,
        answers: { 201: 'UserView' },
        errors: ['email_taken', 'weak_password'],
      }),
      async (c) => {
        access.requireInstanceAdmin(c.get('principal'));
        return c.json(
          (await access.createUser(
            c.get('principal'),
            await readJson(c, CreateUserBody),
          )) satisfies UserView,
          201,
        );
      },
    )
    .get(
      '/users',
      op({
        id: 'listUsers',
        tag: 'Access',
        summary: 'Every user (instance admin)',
        answers: { 200: 'UsersView' },
      }),
      async (c) => {
        access.requireInstanceAdmin(c.get('principal'));
        return c.json({ users: await access.listUsers() } satisfies UsersView);
      },
    )
    .delete(
      '/users/:id',
      op({
        id: 'removeUser',
        tag: 'Access',
        summary: 'Remove a user (instance admin)',
        answers: { 204: null },
        errors: ['user_not_found'],
      }),
      async (c) => {
        await deps.accounts.removeUser(c.get('principal'), c.req.param('id'));
        return c.body(null, 204);
      },
    )
    .get(
      '/roles',
      op({
        id: 'listRoles',
        tag: 'Access',
        summary: 'The roles and role templates, with their labels',
        answers: { 200: 'RolesView' },
      }),
      (c) =>
        c.json({
          roles: ROLE_LABELS,
          templates: Object.fromEntries(
            Object.entries(TEMPLATES).map(([id, t]) => [id, { label: t.label, byKind: t.byKind }]),
          ),
        } satisfies RolesView),
    )
    .get(
      '/projects/:id/members',
      op({
        id: 'listMembers',
        tag: 'Access',
        summary: 'A project’s members and their roles',
        answers: { 200: 'MembersView' },
        errors: ['project_not_found'],
      }),
      async (c) => {
        await access.requireMember(c.get('principal'), c.req.param('id'));
        return c.json({ members: await access.members(c.req.param('id')) } satisfies MembersView);
      },
    )
    .put(
      '/projects/:id/members/:userId',
      op({
        id: 'setMemberRoles',
        tag: 'Access',
        summary: 'Set a member’s roles (project admin)',
        body: MemberBody,
        answers: { 200: 'MemberRoles' },
        errors: ['project_not_found', 'user_not_found'],
      }),
      async (c) => {
        await access.requireProjectAdmin(c.get('principal'), c.req.param('id'));
        const { roles } = await readJson(c, MemberBody);
        return c.json({
          userId: c.req.param('userId'),
          roles: await access.setMember(
            c.get('principal'),
            c.req.param('id'),
            c.req.param('userId'),
            roles,
          ),
        } satisfies MemberRoles);
      },
    )
    .delete(
      '/projects/:id/members/:userId',
      op({
        id: 'removeMember',
        tag: 'Access',
        summary: 'Remove a member from a project (project admin)',
        answers: { 204: null },
        errors: ['project_not_found', 'not_a_member', 'user_not_found'],
      }),
      async (c) => {
        await access.requireProjectAdmin(c.get('principal'), c.req.param('id'));
        await access.removeMember(c.get('principal'), c.req.param('id'), c.req.param('userId'));
        return c.body(null, 204);
      },
    )
    .get(
      '/projects/:id/invitations',
      op({
        id: 'listInvitations',
        tag: 'Access',
        summary: 'A project’s pending invitations (project admin)',
        answers: { 200: 'PendingInvitationsView' },
        errors: ['project_not_found'],
      }),
      async (c) => {
        await access.requireProjectAdmin(c.get('principal'), c.req.param('id'));
        return c.json({
          invitations: await access.pendingInvitations(c.req.param('id')),
        } satisfies PendingInvitationsView);
      },
    )
    .delete(
      '/invitations/:id',
      op({
        id: 'revokeInvitation',
        tag: 'Access',
        summary: 'Revoke a pending invitation',
        answers: { 204: null },
        errors: ['invitation_invalid', 'not_found'],
      }),
      async (c) => {
        await access.revokeInvitation(c.get('principal'), c.req.param('id'));
        return c.body(null, 204);
      },
    )
    .post(
      '/invitations/:id/link',
      op({
        id: 'renewInvitationLink',
        tag: 'Access',
        summary: 'A new link for a pending invitation (the old one stops working)',
        answers: { 200: 'InvitationLink' },
        errors: ['invitation_invalid', 'not_found', 'rate_limited'],
      }),
      async (c) => {
        const link = await access.newInvitationLink(c.get('principal'), c.req.param('id'));
        return c.json({
          url: deps.absoluteUrl(link.path),
          path: link.path,
          expiresAt: link.expiresAt,
        } satisfies InvitationLink);
      },
    )
    .post(
      '/invitations',
      op({
        id: 'createInvitation',
        tag: 'Access',
        summary: 'Invite someone to the instance or a project',
        body: InvitationBody,
        answers: { 201: 'InvitationCreated' },
        errors: ['project_not_found', 'email_taken', 'limit_reached', 'rate_limited'],
      }),
      async (c) => {
        const body = await readJson(c, InvitationBody);
        if (body.projectId) await access.requireProjectAdmin(c.get('principal'), body.projectId);
        else access.requireInstanceAdmin(c.get('principal'));
        const inv = await access.invite(c.get('principal'), body);
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
      },
    );
}
