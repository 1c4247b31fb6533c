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
import { announcer, type Atomically, type Emit } from './events.ts';
import { hashToken, newId, newSecretToken } from './ids.ts';
import { LIMITS, requireBelow, requireRate } from './limits.ts';
import { DAY } from '../lib/time.ts';
import { isAuthoring } from '#schema/pipeline.ts';
import { requireEnvironment } from './require.ts';

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
  function invitationEvent(
    grant: { projectId: string } | null,
    actorId: string,
    invitationId: string,
    action: 'created' | 'accepted' | 'revoked' | 'link',
  ): void {
    if (!grant) return;
    deps.emit({
      projectId: grant.projectId,
      environmentId: null,
      kind: 'invitation',
      actorId,
      subject: { invitationId, action },
    });
  }

  /** The person's roles in one environment (see rolesOfMember). */
  function rolesIn(p: Principal, env: EnvironmentRow): Role[] {
    if (p.isInstanceAdmin) return [...ALL_ROLES];
    const m = store.member(env.projectId, p.user.id);
    if (!m) return [];
    return rolesOfMember({ isInstanceAdmin: false, roles: m.roles }, env.id);
  }

  function environment(envId: string): EnvironmentRow {
    return requireEnvironment(projects, envId).environment;
  }

  /**
   * Drafts: the authoring environment's always; a `section` draft where a `down` section is edited
   * (flow rules); production's while a hotfix is open.
   */
  function hasDraft(env: EnvironmentRow): boolean {
    return (
      isAuthoring(env) ||
      deps.projects.getEnvironment(env.id)?.draft !== undefined ||
      deps.hotfixes.openDraft(env.id) !== undefined
    );
  }

  function isMember(p: Principal, projectId: string): boolean {
    return p.isInstanceAdmin || store.member(projectId, p.user.id) !== undefined;
  }

  function isProjectAdmin(p: Principal, projectId: string): boolean {
    if (p.isInstanceAdmin) return true;
    const m = store.member(projectId, p.user.id);
    return !!m && Object.values(m.roles).some((roles) => roles.includes('project_admin'));
  }

  /** The names of the project's admins, who grant roles (said in refusals instead of a permission id). */
  function adminNames(projectId: string): string[] {
    const ids = projectAdminIds(
      store.members(projectId).map((m) => ({ userId: m.userId, roles: m.roles })),
    );
    return ids
      .map((id) => deps.accounts.findUserById(id)?.name)
      .filter((n): n is string => n !== undefined);
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
  function requireInvitationRate(projectId: string, now: number): void {
    const perDay = LIMITS.INVITATIONS_PER_PROJECT_PER_DAY;
    const created = store
      .invitationsSince(now - DAY)
      .filter((i) => i.grant?.projectId === projectId)
      .map((i) => i.createdAt);
    const relinked = store.auditTimesSince(projectId, 'invitation.link_replaced', now - DAY);
    requireRate(
      'INVITATIONS_PER_PROJECT_PER_DAY',
      perDay,
      [...created, ...relinked],
      DAY,
      now,
      `At most ${perDay} invitation links a day go out for this project: try again tomorrow.`,
    );
  }

  function managedInvitation(p: Principal, id: string) {
    const inv = store.invitationById(id);
    const missing = new AppError('not_found', 'No such pending invitation.');
    if (!inv || inv.usedAt !== null || inv.expiresAt <= Date.now()) throw missing;
    if (p.isInstanceAdmin) return inv;
    if (!inv.grant || !isMember(p, inv.grant.projectId)) throw missing;
    if (!isProjectAdmin(p, inv.grant.projectId))
      throw new AppError('forbidden', 'Only a project admin may manage invitations.');
    return inv;
  }

  function validateRoles(projectId: string, roles: RoleMap): RoleMap {
    const envIds = new Set(projects.getProject(projectId)!.environments.map((e) => e.id));
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
    authorize(p: Principal, action: Action, envId: string): EnvironmentRow {
      const env = environment(envId);
      if (!isMember(p, env.projectId)) throw new AppError('environment_not_found');
      if (
        !can(rolesIn(p, env), action, {
          hasDraft: action === 'content.edit' ? hasDraft(env) : true,
        })
      ) {
        // In words, naming who grants it: the message reaches people (the web shows it as is).
        const ask =
          action === 'content.read'
            ? askForAccess(adminNames(env.projectId), env.name)
            : `Ask ${projectAdminsInWords(adminNames(env.projectId))} for the role.`;
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
    authorizeChain(p: Principal, projectId: string): void {
      if (!isMember(p, projectId)) throw new AppError('not_a_member');
      const project = projects.getProject(projectId);
      if (!project) throw new AppError('not_a_member');
      const unreadable = project.environments.filter(
        (e) => !can(rolesIn(p, e), 'content.read', { hasDraft: true }),
      );
      if (unreadable.length === 0) return;
      const names = unreadable.map((e) => e.name);
      throw new AppError(
        'chain_not_readable',
        `The release history names what moved in every environment, and you may not read ${names.join(', ')}. ${askForAccess(adminNames(projectId), names.join(', '))}`,
      );
    },

    /** Any member may see the project; outsiders are told it does not exist. */
    requireMember(p: Principal, projectId: string): void {
      if (!isMember(p, projectId)) throw new AppError('not_a_member');
    },
    requireProjectAdmin(p: Principal, projectId: string): void {
      if (!isMember(p, projectId)) throw new AppError('not_a_member');
      if (!isProjectAdmin(p, projectId))
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
    myRoles(p: Principal, projectId: string): Record<string, Role[]> {
      const project = projects.getProject(projectId)!;
      return Object.fromEntries(project.environments.map((e) => [e.id, rolesIn(p, e)]));
    },

    visibleProjectIds(p: Principal): Set<string> | 'all' {
      if (p.isInstanceAdmin) return 'all';
      return new Set(store.memberships(p.user.id).map((m) => m.projectId));
    },

    /**
     * Audit events of one environment (approvals, share links …), newest first: `limit` of them
     * (default 200) before the event `before` (a seq; VH-4).
     */
    auditFor(envId: string, limit = 200, before: number | null = null): AuditEventView[] {
      return store.auditFor(envId, limit, before).map((e) => ({
        seq: e.seq,
        kind: e.kind,
        actorId: e.actorId,
        subject: JSON.parse(e.subject) as unknown,
        createdAt: new Date(e.createdAt).toISOString(),
        hash: e.hash,
      }));
    },

    members(projectId: string): MemberView[] {
      return store.members(projectId).map((m) => {
        const u = deps.accounts.findUserById(m.userId);
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
    setMember(by: Principal, projectId: string, userId: string, roles: RoleMap) {
      if (!deps.accounts.findUserById(userId)) throw new AppError('user_not_found');
      const clean = validateRoles(projectId, roles);
      const now = Date.now();
      announce(
        () => {
          store.putMember({
            projectId,
            userId,
            roles: clean,
            updatedBy: by.user.id,
            updatedAt: now,
          });
          store.audit(
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

    removeMember(by: Principal, projectId: string, userId: string): void {
      announce(
        () => {
          if (!store.deleteMember(projectId, userId))
            throw new AppError('user_not_found', 'This person is not a member of the project.');
          store.audit(
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
    addCreator(by: Principal, projectId: string): void {
      store.putMember({
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
      if (deps.accounts.findUserByEmail(input.email)) throw new AppError('email_taken');
      const row = await newUser(input, false);
      deps.accounts.insertUser(row);
      store.audit(
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
    user(id: string): UserView {
      const u = deps.accounts.findUserById(id);
      if (!u) throw new AppError('user_not_found');
      return userView(u);
    },

    listUsers(): UserView[] {
      return deps.accounts.listUsers().map(userView);
    },

    /** An expiring, single-use invitation; optionally with a membership (a template or explicit roles). */
    invite(
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
      if (deps.accounts.findUserByEmail(input.email)) throw new AppError('email_taken');
      let grant: { projectId: string; roles: RoleMap } | null = null;
      if (input.projectId) {
        const project = projects.getProject(input.projectId);
        if (!project) throw new AppError('project_not_found');
        const roles =
          input.roles ??
          (input.template ? applyTemplate(input.template, project.environments) : {});
        grant = { projectId: input.projectId, roles: validateRoles(input.projectId, roles) };
      }
      const now = Date.now();
      if (grant) {
        const projectId = grant.projectId;
        const into = <R extends { grant: { projectId: string } | null }>(rows: R[]) =>
          rows.filter((i) => i.grant?.projectId === projectId);
        const max = LIMITS.MAX_PENDING_INVITATIONS_PER_PROJECT;
        requireBelow(
          'MAX_PENDING_INVITATIONS_PER_PROJECT',
          max,
          into(store.pendingInvitations(now)).length,
          `This project already has ${max} open invitations: wait for them to be used or to expire.`,
        );
        requireInvitationRate(projectId, now);
      }
      const token = newSecretToken('sci');
      const id = newId('inv');
      projects.atomically(() => {
        store.insertInvitation({
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
        store.audit(
          {
            projectId: grant?.projectId ?? null,
            environmentId: null,
            kind: 'invitation.created',
            actorId: by.user.id,
            subject: { invitationId: id, email: input.email, roles: grant?.roles ?? null },
          },
          now,
        );
        invitationEvent(grant, by.user.id, id, 'created');
      });
      return {
        id,
        token,
        path: `/invite/${token}`,
        expiresAt: new Date(now + input.expiresInDays * DAY).toISOString(),
      };
    },

    /** The project's pending invitations (bounded: at most the open-invitations limit). */
    pendingInvitations(projectId: string): PendingInvitationView[] {
      return store
        .pendingInto(projectId, Date.now(), LIMITS.MAX_PENDING_INVITATIONS_PER_PROJECT)
        .map((i) => ({
          id: i.id,
          email: i.email,
          name: i.name,
          roles: i.grant?.roles ?? {},
          createdBy: deps.accounts.findUserById(i.createdBy)?.name ?? 'a removed user',
          createdAt: new Date(i.createdAt).toISOString(),
          expiresAt: new Date(i.expiresAt).toISOString(),
        }));
    },

    /** Revokes a pending invitation: its link then answers `invitation_invalid`. */
    revokeInvitation(by: Principal, id: string): void {
      const inv = managedInvitation(by, id);
      const now = Date.now();
      if (!store.endInvitation(inv.id, now))
        throw new AppError('not_found', 'No such pending invitation.');
      projects.atomically(() => {
        store.audit(
          {
            projectId: inv.grant?.projectId ?? null,
            environmentId: null,
            kind: 'invitation.revoked',
            actorId: by.user.id,
            subject: { invitationId: inv.id, email: inv.email },
          },
          now,
        );
        invitationEvent(inv.grant, by.user.id, inv.id, 'revoked');
      });
    },

    /**
     * A new link for a pending invitation (only the token's hash is kept, so the old link cannot
     * be shown again): the old link stops working; the expiry stays.
     */
    newInvitationLink(by: Principal, id: string) {
      const inv = managedInvitation(by, id);
      const token = newSecretToken('sci');
      const now = Date.now();
      if (inv.grant) requireInvitationRate(inv.grant.projectId, now);
      if (!store.replaceToken(inv.id, hashToken(token), now))
        throw new AppError('not_found', 'No such pending invitation.');
      store.audit(
        {
          projectId: inv.grant?.projectId ?? null,
          environmentId: null,
          kind: 'invitation.link_replaced',
          actorId: by.user.id,
          subject: { invitationId: inv.id, email: inv.email },
        },
        now,
      );
      invitationEvent(inv.grant, by.user.id, inv.id, 'link');
      return { path: `/invite/${token}`, expiresAt: new Date(inv.expiresAt).toISOString() };
    },

    invitation(token: string) {
      const inv = store.invitation(hashToken(token));
      if (!inv || inv.usedAt !== null || inv.expiresAt <= Date.now())
        throw new AppError('invitation_invalid');
      return { email: inv.email, name: inv.name, expiresAt: new Date(inv.expiresAt).toISOString() };
    },

    /** Creates the account with the person's password and grants the invitation's roles. */
    async accept(token: string, password: string): Promise<{ email: string }> {
      const inv = store.invitation(hashToken(token));
      if (!inv || inv.usedAt !== null || inv.expiresAt <= Date.now())
        throw new AppError('invitation_invalid');
      const user = await newUser({ email: inv.email, name: inv.name, password }, false);
      // Checked again when marked used: a revocation or a new link during the hashing wins.
      if (!store.useInvitation(inv.id, inv.tokenHash, Date.now()))
        throw new AppError('invitation_invalid');
      if (deps.accounts.findUserByEmail(inv.email)) throw new AppError('email_taken');
      const userId = user.id;
      projects.atomically(() => {
        deps.accounts.insertUser(user);
        if (inv.grant) {
          const grant = inv.grant;
          store.putMember({
            projectId: grant.projectId,
            userId,
            roles: grant.roles,
            updatedBy: inv.createdBy,
            updatedAt: Date.now(),
          });
        }
        store.audit(
          {
            projectId: null,
            environmentId: null,
            kind: 'invitation.accepted',
            actorId: userId,
            subject: { invitationId: inv.id },
          },
          Date.now(),
        );
        invitationEvent(inv.grant, userId, inv.id, 'accepted');
      });
      return { email: inv.email };
    },
  };
}

export type Access = ReturnType<typeof createAccess>;
