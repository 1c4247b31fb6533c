import { AppError } from '#schema/errors.ts';
import { can, type Action } from '#schema/permissions.ts';
import { isAuthoring } from '#schema/pipeline.ts';
import { SECTIONS, SPECS, type Section } from '#schema/content/spec.ts';
import { withoutHidden } from '#schema/names.ts';
import type {
  NotificationKind,
  NotificationView,
  NotificationsView,
} from '#schema/api/notifications.ts';
import type { NotificationRow, NotificationStore } from '../store/notifications.ts';
import type { ProjectStore, EnvironmentRow } from '../store/projects.ts';
import type { MemberStore } from '../store/members.ts';
import type { AccountStore } from '../store/accounts.ts';
import type { GateStore } from '../store/gates.ts';
import type { InvitationStore } from '../store/invitations.ts';
import type { ShareStore } from '../store/shares.ts';
import type { ProjectEventRow } from '../store/events.ts';
import { retryable } from '../store/port.ts';
import type { Atomically, ProjectEvents } from './events.ts';
import type { Principal } from './accounts.ts';
import { rolesOfMember } from './access.ts';
import { filterInOrder } from '../lib/in-order.ts';

/**
 * How many notifications each person keeps: older ones are deleted as new ones arrive. A member
 * who makes many requests can only make approvers' inboxes roll over (each request is itself rate
 * limited per stage), never grow the table without bound.
 */
export const NOTIFICATIONS_KEPT_PER_PERSON = 500;
/** One page of `GET /api/notifications`. */
export const NOTIFICATIONS_PAGE = 100;

/** One notice for some people, before it is delivered anywhere. */
export interface Notice {
  kind: NotificationKind;
  projectId: string;
  environmentId: string | null;
  /** In words: names of stages and people, never ids. */
  title: string;
  /** The place to act (a path of the web app). */
  href: string;
  requestId: string | null;
  /** Who is told: never the actor, only people who may see the thing. */
  recipients: string[];
  /** The project event it comes from. */
  eventSeq: number;
  createdAt: number;
}

/**
 * Where notices go. Sinks run inside the change's transaction (the event reactor's): the inbox
 * writes its rows there, so a change that rolls back tells no one. The inbox is the first; a
 * webhook or mail sink would write an outbox row here and send it after commit.
 */
export interface NotificationSink {
  deliver(notice: Notice): Promise<void>;
}

/** Kinds of notice anyone may multiply: one unread of each per person and stage (REV-80). */
const COALESCED: ReadonlySet<NotificationKind> = new Set(['feedback', 'conflict']);

/**
 * A name quoted in a title: without bidi controls or invisible characters (an item's name in
 * content is never checked as a display name; a right-to-left override would turn the rest of
 * the title around), at most `n` characters, never cut inside a character.
 */
const clip = (s: string, n: number) => {
  const chars = [...withoutHidden(s)];
  return chars.length > n ? `${chars.slice(0, n - 1).join('')}…` : chars.join('');
};
const an = (noun: string) => `${/^[aeiou]/.test(noun) ? 'an' : 'a'} ${noun}`;
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/**
 * People are told (REV-70 … REV-78): a reactor on the project event log turns events into notices
 * (who, in words, where to act) and hands them to each sink.
 */
export function createNotifications(deps: {
  events: Pick<ProjectEvents, 'emit' | 'onEmit'>;
  store: NotificationStore;
  projects: ProjectStore;
  members: Pick<MemberStore, 'members' | 'memberships'>;
  accounts: Pick<AccountStore, 'findUserById'>;
  requests: Pick<GateStore, 'request'>;
  invitations: Pick<InvitationStore, 'invitationById'>;
  feedback: Pick<ShareStore, 'feedbackById'>;
  /** More sinks after the inbox (webhook, mail). */
  sinks?: NotificationSink[];
  log: (msg: string, err?: unknown) => void;
  /** Several store calls as one transaction (PG-11). */
  atomically: Atomically;
}) {
  const { store } = deps;

  const nameOf = async (userId: string | null) =>
    (userId && (await deps.accounts.findUserById(userId))?.name) || 'Someone';

  /** Members who may do `action` in the environment (an instance admin only if a member). */
  async function holders(projectId: string, envId: string, action: Action): Promise<string[]> {
    return (
      await filterInOrder(await deps.members.members(projectId), async (m) => {
        const u = await deps.accounts.findUserById(m.userId);
        if (!u) return false;
        const roles = rolesOfMember({ isInstanceAdmin: u.isInstanceAdmin, roles: m.roles }, envId);
        return can(roles, action, { hasDraft: true });
      })
    ).map((m) => m.userId);
  }

  async function isMember(projectId: string, userId: string): Promise<boolean> {
    return (await deps.members.members(projectId)).some((m) => m.userId === userId);
  }

  /** The inbox: one row per recipient, the oldest beyond the bound deleted, a `notification` event to their stream. */
  const inbox: NotificationSink = {
    async deliver(n) {
      for (const userId of n.recipients) {
        // Anyone holding a share link posts feedback, and an editor of two stages makes conflicts
        // at will; each notice is one of the 500 a person keeps: while one of these kinds about
        // this stage is unread, more add none (the Feedback tab and the editor list them all), so
        // nobody can push a person's other notices out.
        if (COALESCED.has(n.kind) && (await store.hasUnread(userId, n.kind, n.environmentId)))
          continue;
        await store.insert({
          userId,
          projectId: n.projectId,
          environmentId: n.environmentId,
          kind: n.kind,
          title: n.title,
          href: n.href,
          requestId: n.requestId,
          eventSeq: n.eventSeq,
          createdAt: n.createdAt,
          readAt: null,
        });
        await store.trim(userId, NOTIFICATIONS_KEPT_PER_PERSON);
        await deps.events.emit({
          projectId: n.projectId,
          environmentId: n.environmentId,
          kind: 'notification',
          actorId: null,
          recipientId: userId,
        });
      }
    },
  };
  const sinks = [inbox, ...(deps.sinks ?? [])];

  function move(kind: string, source: EnvironmentRow, target: EnvironmentRow): string {
    if (kind === 'hotfix') return `publishing a hotfix in ${target.name}`;
    if (kind === 'publish') return `publishing ${target.name}`;
    return `a Sync ${source.name} → ${target.name}`;
  }

  /** What an event tells whom; null: nothing to tell. */
  async function noticeOf(
    e: ProjectEventRow,
  ): Promise<Omit<Notice, 'eventSeq' | 'createdAt'> | null> {
    const project = await deps.projects.getProject(e.projectId);
    if (!project) return null;
    const envs = project.environments;
    const env = (id: string | null) => envs.find((x) => x.id === id);
    const board = `/projects/${project.project.id}`;
    const envPage = (id: string, tab: string) => `${board}/environments/${id}?tab=${tab}`;
    const s = e.subject;
    const base = { projectId: e.projectId, environmentId: e.environmentId, requestId: null };

    switch (e.kind) {
      case 'request': {
        const r = await deps.requests.request(str(s.requestId) ?? '');
        const source = env(r?.sourceEnvironmentId ?? null);
        const target = env(r?.targetEnvironmentId ?? null);
        if (!r || !source || !target || r.state !== 'open') return null;
        return {
          ...base,
          kind: 'approval_requested',
          environmentId: target.id,
          requestId: r.id,
          title: `${await nameOf(r.requestedBy)} asks for your approval: ${move(r.kind, source, target)}`,
          href: `${board}#request-${r.id}`,
          // The requester is the actor: never told of their own request.
          recipients: await holders(e.projectId, target.id, 'env.approve'),
        };
      }
      case 'request.decided': {
        const decision = str(s.decision);
        if (decision !== 'approved' && decision !== 'rejected') return null;
        const r = await deps.requests.request(str(s.requestId) ?? '');
        const source = env(r?.sourceEnvironmentId ?? null);
        const target = env(r?.targetEnvironmentId ?? null);
        if (!r || !source || !target || !(await isMember(e.projectId, r.requestedBy))) return null;
        return {
          ...base,
          kind: 'request_decided',
          environmentId: target.id,
          title: `${await nameOf(e.actorId)} ${decision} your request: ${move(r.kind, source, target)}`,
          href: r.state === 'open' ? `${board}#request-${r.id}` : board,
          recipients: [r.requestedBy],
        };
      }
      case 'hotfix': {
        if (s.action !== 'published') return null;
        const prod = env(e.environmentId);
        const authoring = envs.find(isAuthoring);
        if (!prod || !authoring) return null;
        return {
          ...base,
          kind: 'hotfix_to_port',
          title: `${await nameOf(e.actorId)} published a hotfix in ${prod.name}: bring it to ${authoring.name}`,
          href: `${board}#divergence`,
          recipients: await holders(e.projectId, authoring.id, 'content.edit'),
        };
      }
      case 'feedback': {
        const stage = env(e.environmentId);
        const f = await deps.feedback.feedbackById(str(s.feedbackId) ?? '');
        if (!stage || !f || s.action !== 'posted') return null;
        const section = f.section as Section;
        const noun = SECTIONS.includes(section) ? SPECS[section].noun : 'item';
        return {
          ...base,
          kind: 'feedback',
          title: `Feedback on ${stage.name} from “${clip(f.author, 60)}” about ${f.itemName ? `the ${noun} “${clip(f.itemName, 60)}”` : an(noun)}`,
          href: envPage(stage.id, 'feedback'),
          recipients: await holders(e.projectId, stage.id, 'env.admin'),
        };
      }
      case 'conflict': {
        const stage = env(e.environmentId);
        if (!stage || s.action !== 'detected') return null;
        const section = str(s.section) as Section;
        const noun = SECTIONS.includes(section) ? SPECS[section].noun : 'item';
        const above = envs.find((x) => x.position === stage.position + 1);
        return {
          ...base,
          kind: 'conflict',
          title: `Replication conflict in ${stage.name}: ${an(noun)} changed both here${above ? ` and in ${above.name}` : ''}`,
          href: envPage(stage.id, 'editor'),
          recipients: await holders(e.projectId, stage.id, 'content.edit'),
        };
      }
      case 'invitation': {
        if (s.action !== 'accepted') return null;
        const inv = await deps.invitations.invitationById(str(s.invitationId) ?? '');
        if (!inv || !(await isMember(e.projectId, inv.createdBy))) return null;
        return {
          ...base,
          kind: 'invitation_accepted',
          title: `${inv.name} accepted your invitation to ${project.project.name}`,
          href: `${board}/members`,
          recipients: [inv.createdBy],
        };
      }
      default:
        return null;
    }
  }

  /** A request closed: its approvers' "approval requested" no longer waits (read, and their badge told). */
  async function settled(e: ProjectEventRow): Promise<void> {
    const requestId = str(e.subject.requestId);
    if (e.kind !== 'request.decided' || !requestId) return;
    if (!['done', 'voided', 'rejected'].includes(str(e.subject.decision) ?? '')) return;
    for (const userId of new Set(await store.settleRequest(requestId, e.createdAt)))
      await deps.events.emit({
        projectId: e.projectId,
        environmentId: e.environmentId,
        kind: 'notification',
        actorId: null,
        recipientId: userId,
      });
  }

  async function react(e: ProjectEventRow): Promise<void> {
    await settled(e);
    const n = await noticeOf(e);
    if (!n) return;
    // Never the actor of their own action.
    const recipients = [...new Set(n.recipients)].filter((id) => id !== e.actorId);
    if (recipients.length === 0) return;
    const notice: Notice = { ...n, recipients, eventSeq: e.seq, createdAt: e.createdAt };
    for (const sink of sinks) await sink.deliver(notice);
  }

  deps.events.onEmit(async (e) => {
    // A person's own events (their notifications) tell no one.
    if (e.kind === 'notification' || e.recipientId) return;
    // A savepoint of the change's transaction: a notice that fails is undone alone and logged,
    // the change itself (a request, an approval …) still commits.
    try {
      await deps.atomically(async () => await react(e));
    } catch (err) {
      // A deadlock or serialization failure: the whole change runs again, its notices with it
      // (PG-178); swallowed, the change would commit and nobody be told.
      if (retryable(err)) throw err;
      deps.log(`notifying of a ${e.kind} event failed; the change stands, nobody was told`, err);
    }
  });

  /** The projects whose notifications the person may still read. */
  async function readableProjects(p: Principal): Promise<string[] | 'all'> {
    if (p.isInstanceAdmin) return 'all';
    return (await deps.members.memberships(p.user.id)).map((m) => m.projectId);
  }

  function view(r: NotificationRow): NotificationView {
    return {
      id: r.id,
      kind: r.kind as NotificationKind,
      read: r.readAt !== null,
      createdAt: new Date(r.createdAt).toISOString(),
      projectId: r.projectId,
      environmentId: r.environmentId,
      title: r.title,
      href: r.href,
      ...(r.requestId ? { requestId: r.requestId } : {}),
    };
  }

  return {
    /** The person's notifications, newest first, one page (older than `before` when given). */
    async list(p: Principal, before: number | null): Promise<NotificationsView> {
      const projects = await readableProjects(p);
      return {
        notifications: (await store.list(p.user.id, projects, before, NOTIFICATIONS_PAGE)).map(
          view,
        ),
        unread: await store.unread(p.user.id, projects),
      };
    },
    /** Marks the person's own (others' ids are ignored alike, unknown or not theirs); answers the unread count. */
    async markRead(p: Principal, which: { ids: number[] } | { all: true }): Promise<number> {
      await store.markRead(p.user.id, 'all' in which ? 'all' : which.ids, Date.now());
      return await store.unread(p.user.id, await readableProjects(p));
    },
  };
}

export type Notifications = ReturnType<typeof createNotifications>;

/** `?before=` as a notification id, or null; anything else is a bad request. */
export function beforeParam(v: string | undefined): number | null {
  if (v === undefined || v === '') return null;
  if (!/^[1-9][0-9]{0,15}$/.test(v))
    throw new AppError('invalid_body', '“before” is a notification id.');
  return Number(v);
}
