import { AppError } from '#schema/errors.ts';
import {
  ACTION_WORDS,
  ALL_ROLES,
  ROLES,
  applyTemplate,
  askForAccess,
  can,
  projectAdminIds,
  projectAdminsInWords,
  type Action,
  type Role,
  type TemplateId,
} from '#schema/permissions.ts';
import type { AuditEventView, MemberView, PendingInvitationView, UserView } from '#schema/api.ts';
import type { MemberStore } from '../store/members.ts';
import type { InvitationStore } from '../store/invitations.ts';
import type { AuditStore } from '../store/audit.ts';
import type { AccountStore } from '../store/accounts.ts';
import type { ProjectStore, EnvironmentRow } from '../store/projects.ts';
import type { HotfixStore } from '../store/hotfixes.ts';
import { newUser, userView, type Principal } from './accounts.ts';
import { requireProject } from './require.ts';
import { announcer, type Atomically, type Emit } from './events.ts';
import { hashToken, newId, newSecretToken } from './ids.ts';
import { LIMITS, requireBelow, requireRate } from './limits.ts';
import { DAY } from '../lib/time.ts';
import { isAuthoring } from '#schema/pipeline.ts';
import { requireEnvironment } from './require.ts';
import { mapInOrder, filterInOrder } from '../lib/in-order.ts';

export type RoleMap = Record<string, Role[]>;

/**
 * A member's roles in one environment: the instance admin holds every role; "*" entries apply
 * everywhere in the project.
 */
export function rolesOfMember(
  m: { isInstanceAdmin: boolean; roles: RoleMap },
  envId: string,
): Role[] {
  if (m.isInstanceAdmin) return [...ALL_ROLES];
  return [...new Set([...(m.roles[envId] ?? []), ...(m.roles['*'] ?? [])])];
}

/**
 * Who may do what, where. Every route and the websocket upgrade ask here, and here asks the
 * one matrix in schema/permissions.ts.
 */
export function createAccess(deps: {
  store: MemberStore & InvitationStore & AuditStore;
  accounts: AccountStore;
  projects: ProjectStore;
  hotfixes: HotfixStore;
  onRightsChanged: (userId: string) => void;
  /** The project event log: `members` (project-wide) and `invitation` events, in each change's transaction. */
  emit: Emit;
  atomically: Atomically;
}) {
  const { store, projects } = deps;
  const announce = announcer(deps.atomically, deps.emit);
  const membersChanged = (projectId: string, by: Principal, userId: string) => () => ({
    projectId,
    environmentId: null,
    kind: 'members' as const,
    actorId: by.user.id,
    subject: { userId },
  });

  /** Says what happened to an invitation into a project (one without a project is the instance's). */
  async function invitationEvent(
    grant: { projectId: string } | null,
    actorId: string,
    invitationId: string,
    action: 'created' | 'accepted' | 'revoked' | 'link',
  ): Promise<void> {
    if (!grant) return;
    await deps.emit({
      projectId: grant.projectId,
      environmentId: null,
      kind: 'invitation',
      actorId,
      subject: { invitationId, action },
    });
  }

  /** A managed invitation revoked or given a new link: its audit row and its event. */
  async function changedInvitation(
    inv: { id: string; email: string; grant: { projectId: string } | null },
    by: Principal,
    action: 'revoked' | 'link',
    now: number,
  ): Promise<void> {
    await store.audit(
      {
        projectId: inv.grant?.projectId ?? null,
        environmentId: null,
        kind: action === 'link' ? 'invitation.link_replaced' : 'invitation.revoked',
        actorId: by.user.id,
        subject: { invitationId: inv.id, email: inv.email },
      },
      now,
    );
    await invitationEvent(inv.grant, by.user.id, inv.id, action);
  }

  /** The person's roles in one environment (see rolesOfMember). */
  async function rolesIn(p: Principal, env: EnvironmentRow): Promise<Role[]> {
    if (p.isInstanceAdmin) return [...ALL_ROLES];
    const m = await store.member(env.projectId, p.user.id);
    if (!m) return [];
    return rolesOfMember({ isInstanceAdmin: false, roles: m.roles }, env.id);
  }

  async function environment(envId: string): Promise<EnvironmentRow> {
    return (await requireEnvironment(projects, envId)).environment;
  }

  /**
   * Drafts: the authoring environment's always; a `section` draft where a `down` section is edited
   * (flow rules); production's while a hotfix is open.
   */
  async function hasDraft(env: EnvironmentRow): Promise<boolean> {
    return (
      isAuthoring(env) ||
      (await deps.projects.getEnvironment(env.id))?.draft !== undefined ||
      (await deps.hotfixes.openDraft(env.id)) !== undefined
    );
  }

  async function isMember(p: Principal, projectId: string): Promise<boolean> {
    return p.isInstanceAdmin || (await store.member(projectId, p.user.id)) !== undefined;
  }

  async function isProjectAdmin(p: Principal, projectId: string): Promise<boolean> {
    if (p.isInstanceAdmin) return true;
    const m = await store.member(projectId, p.user.id);
    return !!m && Object.values(m.roles).some((roles) => roles.includes('project_admin'));
  }

  /** The names of the project's admins, who grant roles (said in refusals instead of a permission id). */
  async function adminNames(projectId: string): Promise<string[]> {
    const ids = projectAdminIds(
      (await store.members(projectId)).map((m) => ({ userId: m.userId, roles: m.roles })),
    );
    return (
      await mapInOrder(ids, async (id) => (await deps.accounts.findUserById(id))?.name)
    ).filter((n): n is string => n !== undefined);
  }

  /**
   * A pending invitation `p` may manage: an admin of its project (the instance admin for one
   * without a project). Unknown, used, revoked, expired or another project's: 404 alike.
   */
  /**
   * Links that go out for a project in a day: new invitations and new links for pending ones
   * (each is a link someone can use, and a row written), together at most
   * INVITATIONS_PER_PROJECT_PER_DAY.
   */
  async function requireInvitationRate(projectId: string, now: number): Promise<void> {
    const perDay = LIMITS.INVITATIONS_PER_PROJECT_PER_DAY;
    const created = (await store.invitationsSince(now - DAY))
      .filter((i) => i.grant?.projectId === projectId)
      .map((i) => i.createdAt);
    const relinked = await store.auditTimesSince(projectId, 'invitation.link_replaced', now - DAY);
    requireRate(
      'INVITATIONS_PER_PROJECT_PER_DAY',
      perDay,
      [...created, ...relinked],
      DAY,
      now,
      `At most ${perDay} invitation links a day go out for this project: try again tomorrow.`,
    );
  }

  async function managedInvitation(p: Principal, id: string) {
    const inv = await store.invitationById(id);
    const missing = new AppError('not_found', 'No such pending invitation.');
    if (!inv || inv.usedAt !== null || inv.expiresAt <= Date.now()) throw missing;
    if (p.isInstanceAdmin) return inv;
    if (!inv.grant || !(await isMember(p, inv.grant.projectId))) throw missing;
    if (!(await isProjectAdmin(p, inv.grant.projectId)))
      throw new AppError('forbidden', 'Only a project admin may manage invitations.');
    return inv;
  }

  async function validateRoles(projectId: string, roles: RoleMap): Promise<RoleMap> {
    const envIds = new Set((await projects.getProject(projectId))!.environments.map((e) => e.id));
    const clean: RoleMap = {};
    for (const [envId, list] of Object.entries(roles)) {
      if (envId !== '*' && !envIds.has(envId))
        throw new AppError('invalid_body', `“${envId}” is not an environment of this project.`);
      const unique = [...new Set(list)].filter((r) => ROLES.includes(r));
      if (unique.length > 0) clean[envId] = unique;
    }
    return clean;
  }

  return {
    rolesIn,
    hasDraft,
    isMember,
    isProjectAdmin,

    /** Throws forbidden unless `p` may do `action` in the environment; returns the environment. */
    async authorize(p: Principal, action: Action, envId: string): Promise<EnvironmentRow> {
      const env = await environment(envId);
      if (!(await isMember(p, env.projectId))) throw new AppError('environment_not_found');
      if (
        !can(await rolesIn(p, env), action, {
          hasDraft: action === 'content.edit' ? await hasDraft(env) : true,
        })
      ) {
        // In words, naming who grants it: the message reaches people (the web shows it as is).
        const ask =
          action === 'content.read'
            ? askForAccess(await adminNames(env.projectId), env.name)
            : `Ask ${projectAdminsInWords(await adminNames(env.projectId))} for the role.`;
        throw new AppError('forbidden', `You may not ${ACTION_WORDS[action]} ${env.name}. ${ask}`);
      }
      return env;
    },

    /**
     * The project's release chain (VH-3): its records name every environment's snapshots,
     * messages and evidence, so only members who may read the content of every environment may
     * read it; other members are refused with `chain_not_readable`, naming what they lack;
     * outsiders are told the project does not exist.
     */
    async authorizeChain(p: Principal, projectId: string): Promise<void> {
      if (!(await isMember(p, projectId))) throw new AppError('not_a_member');
      const project = await projects.getProject(projectId);
      if (!project) throw new AppError('not_a_member');
      const unreadable = await filterInOrder(
        project.environments,
        async (e) => !can(await rolesIn(p, e), 'content.read', { hasDraft: true }),
      );
      if (unreadable.length === 0) return;
      const names = unreadable.map((e) => e.name);
      throw new AppError(
        'chain_not_readable',
        `The release history names what moved in every environment, and you may not read ${names.join(', ')}. ${askForAccess(await adminNames(projectId), names.join(', '))}`,
      );
    },

    /** Any member may see the project; outsiders are told it does not exist. */
    async requireMember(p: Principal, projectId: string): Promise<void> {
      if (!(await isMember(p, projectId))) throw new AppError('not_a_member');
    },
    async requireProjectAdmin(p: Principal, projectId: string): Promise<void> {
      if (!(await isMember(p, projectId))) throw new AppError('not_a_member');
      if (!(await isProjectAdmin(p, projectId)))
        throw new AppError(
          'forbidden',
          'Only a project admin may change members, roles and gates.',
        );
    },
    requireInstanceAdmin(p: Principal): void {
      if (!p.isInstanceAdmin)
        throw new AppError('forbidden', 'Only the instance admin may do this.');
    },

    /** The signed-in person's roles in each environment of a project (for what the UI offers). */
    async myRoles(p: Principal, projectId: string): Promise<Record<string, Role[]>> {
      const project = await requireProject(projects, projectId);
      return Object.fromEntries(
        await mapInOrder(project.environments, async (e) => [e.id, await rolesIn(p, e)]),
      );
    },

    async visibleProjectIds(p: Principal): Promise<Set<string> | 'all'> {
      if (p.isInstanceAdmin) return 'all';
      return new Set((await store.memberships(p.user.id)).map((m) => m.projectId));
    },

    /**
     * Audit events of one environment (approvals, share links …), newest first: `limit` of them
     * (default 200) before the event `before` (a seq; VH-4).
     */
    async auditFor(
      envId: string,
      limit = 200,
      before: number | null = null,
    ): Promise<AuditEventView[]> {
      return (await store.auditFor(envId, limit, before)).map((e) => ({
        seq: e.seq,
        kind: e.kind,
        actorId: e.actorId,
        subject: JSON.parse(e.subject) as unknown,
        createdAt: new Date(e.createdAt).toISOString(),
        hash: e.hash,
      }));
    },

    async members(projectId: string): Promise<MemberView[]> {
      return await mapInOrder(await store.members(projectId), async (m) => {
        const u = await deps.accounts.findUserById(m.userId);
        return {
          user: u ? userView(u) : { id: m.userId, email: '', name: 'a removed user' },
          roles: m.roles,
          isInstanceAdmin: u?.isInstanceAdmin ?? false,
          updatedAt: new Date(m.updatedAt).toISOString(),
        };
      });
    },

    /**
     * Sets a member's roles (adding them if new). Their open connections close so they reconnect
     * with the new rights.
     */
    async setMember(by: Principal, projectId: string, userId: string, roles: RoleMap) {
      if (!(await deps.accounts.findUserById(userId))) throw new AppError('user_not_found');
      const clean = await validateRoles(projectId, roles);
      const now = Date.now();
      await announce(
        async () => {
          await store.putMember({
            projectId,
            userId,
            roles: clean,
            updatedBy: by.user.id,
            updatedAt: now,
          });
          await store.audit(
            {
              projectId,
              environmentId: null,
              kind: 'member.roles',
              actorId: by.user.id,
              subject: { userId, roles: clean },
            },
            now,
          );
        },
        membersChanged(projectId, by, userId),
      );
      deps.onRightsChanged(userId);
      return clean;
    },

    async removeMember(by: Principal, projectId: string, userId: string): Promise<void> {
      await announce(
        async () => {
          if (!(await store.deleteMember(projectId, userId)))
            throw new AppError('user_not_found', 'This person is not a member of the project.');
          await store.audit(
            {
              projectId,
              environmentId: null,
              kind: 'member.removed',
              actorId: by.user.id,
              subject: { userId },
            },
            Date.now(),
          );
        },
        membersChanged(projectId, by, userId),
      );
      deps.onRightsChanged(userId);
    },

    /** The project's creator becomes its project admin with every role everywhere. */
    async addCreator(by: Principal, projectId: string): Promise<void> {
      await store.putMember({
        projectId,
        userId: by.user.id,
        roles: { '*': [...ALL_ROLES] },
        updatedBy: by.user.id,
        updatedAt: Date.now(),
      });
    },

    async createUser(
      by: Principal,
      input: { email: string; name: string; password: string },
    ): Promise<UserView> {
      if (await deps.accounts.findUserByEmail(input.email)) throw new AppError('email_taken');
      const row = await newUser(input, false);
      await deps.accounts.insertUser(row);
      await store.audit(
        {
          projectId: null,
          environmentId: null,
          kind: 'user.created',
          actorId: by.user.id,
          subject: { userId: row.id, email: row.email },
        },
        Date.now(),
      );
      return userView(row);
    },

    /** One account (instance admins manage accounts: unlock, reset links). */
    async user(id: string): Promise<UserView> {
      const u = await deps.accounts.findUserById(id);
      if (!u) throw new AppError('user_not_found');
      return userView(u);
    },

    async listUsers(): Promise<UserView[]> {
      return (await deps.accounts.listUsers()).map(userView);
    },

    /** An expiring, single-use invitation; optionally with a membership (a template or explicit roles). */
    async invite(
      by: Principal,
      input: {
        email: string;
        name: string;
        projectId?: string;
        template?: TemplateId;
        roles?: RoleMap;
        expiresInDays: number;
      },
    ) {
      if (await deps.accounts.findUserByEmail(input.email)) throw new AppError('email_taken');
      let grant: { projectId: string; roles: RoleMap } | null = null;
      if (input.projectId) {
        const project = await projects.getProject(input.projectId);
        if (!project) throw new AppError('project_not_found');
        const roles =
          input.roles ??
          (input.template ? applyTemplate(input.template, project.environments) : {});
        grant = { projectId: input.projectId, roles: await validateRoles(input.projectId, roles) };
      }
      const now = Date.now();
      const token = newSecretToken('sci');
      const id = newId('inv');
      // The limits' counts and the insert are one transaction: concurrent invitations cannot pass them together (PG-133).
      await deps.atomically(async () => {
        if (grant) {
          const projectId = grant.projectId;
          const into = <R extends { grant: { projectId: string } | null }>(rows: R[]) =>
            rows.filter((i) => i.grant?.projectId === projectId);
          const max = LIMITS.MAX_PENDING_INVITATIONS_PER_PROJECT;
          requireBelow(
            'MAX_PENDING_INVITATIONS_PER_PROJECT',
            max,
            into(await store.pendingInvitations(now)).length,
            `This project already has ${max} open invitations: wait for them to be used or to expire.`,
          );
          await requireInvitationRate(projectId, now);
        }
        await store.insertInvitation({
          id,
          tokenHash: hashToken(token),
          email: input.email,
          name: input.name,
          grant,
          createdBy: by.user.id,
          createdAt: now,
          expiresAt: now + input.expiresInDays * DAY,
          usedAt: null,
        });
        await store.audit(
          {
            projectId: grant?.projectId ?? null,
            environmentId: null,
            kind: 'invitation.created',
            actorId: by.user.id,
            subject: { invitationId: id, email: input.email, roles: grant?.roles ?? null },
          },
          now,
        );
        await invitationEvent(grant, by.user.id, id, 'created');
      });
      return {
        id,
        token,
        path: `/invite/${token}`,
        expiresAt: new Date(now + input.expiresInDays * DAY).toISOString(),
      };
    },

    /** The project's pending invitations (bounded: at most the open-invitations limit). */
    async pendingInvitations(projectId: string): Promise<PendingInvitationView[]> {
      return await mapInOrder(
        await store.pendingInto(projectId, Date.now(), LIMITS.MAX_PENDING_INVITATIONS_PER_PROJECT),
        async (i) => ({
          id: i.id,
          email: i.email,
          name: i.name,
          roles: i.grant?.roles ?? {},
          createdBy: (await deps.accounts.findUserById(i.createdBy))?.name ?? 'a removed user',
          createdAt: new Date(i.createdAt).toISOString(),
          expiresAt: new Date(i.expiresAt).toISOString(),
        }),
      );
    },

    /** Revokes a pending invitation: its link then answers `invitation_invalid`. */
    async revokeInvitation(by: Principal, id: string): Promise<void> {
      const inv = await managedInvitation(by, id);
      const now = Date.now();
      // The revocation, its audit row and event in one transaction (as a new link's).
      await deps.atomically(async () => {
        if (!(await store.endInvitation(inv.id, now)))
          throw new AppError('not_found', 'No such pending invitation.');
        await changedInvitation(inv, by, 'revoked', now);
      });
    },

    /**
     * A new link for a pending invitation (only the token's hash is kept, so the old link cannot
     * be shown again): the old link stops working; the expiry stays.
     */
    async newInvitationLink(by: Principal, id: string) {
      const inv = await managedInvitation(by, id);
      const token = newSecretToken('sci');
      const now = Date.now();
      // One transaction: the rate's count, the new link, its audit row and event stand or fall
      // together (PG-133); a reactor's retryable failure runs it all again, never a dead old link
      // and a 500.
      await deps.atomically(async () => {
        if (inv.grant) await requireInvitationRate(inv.grant.projectId, now);
        if (!(await store.replaceToken(inv.id, hashToken(token), now)))
          throw new AppError('not_found', 'No such pending invitation.');
        await changedInvitation(inv, by, 'link', now);
      });
      return { path: `/invite/${token}`, expiresAt: new Date(inv.expiresAt).toISOString() };
    },

    async invitation(token: string) {
      const inv = await store.invitation(hashToken(token));
      if (!inv || inv.usedAt !== null || inv.expiresAt <= Date.now())
        throw new AppError('invitation_invalid');
      return { email: inv.email, name: inv.name, expiresAt: new Date(inv.expiresAt).toISOString() };
    },

    /** Creates the account with the person's password and grants the invitation's roles. */
    async accept(token: string, password: string): Promise<{ email: string }> {
      const inv = await store.invitation(hashToken(token));
      if (!inv || inv.usedAt !== null || inv.expiresAt <= Date.now())
        throw new AppError('invitation_invalid');
      const user = await newUser({ email: inv.email, name: inv.name, password }, false);
      // Checked again when marked used: a revocation or a new link during the hashing wins.
      if (!(await store.useInvitation(inv.id, inv.tokenHash, Date.now())))
        throw new AppError('invitation_invalid');
      if (await deps.accounts.findUserByEmail(inv.email)) throw new AppError('email_taken');
      const userId = user.id;
      await deps.atomically(async () => {
        await deps.accounts.insertUser(user);
        if (inv.grant) {
          const grant = inv.grant;
          await store.putMember({
            projectId: grant.projectId,
            userId,
            roles: grant.roles,
            updatedBy: inv.createdBy,
            updatedAt: Date.now(),
          });
        }
        await store.audit(
          {
            projectId: null,
            environmentId: null,
            kind: 'invitation.accepted',
            actorId: userId,
            subject: { invitationId: inv.id },
          },
          Date.now(),
        );
        await invitationEvent(inv.grant, userId, inv.id, 'accepted');
      });
      return { email: inv.email };
    },
  };
}

export type Access = ReturnType<typeof createAccess>;
