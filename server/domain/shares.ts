import { AppError } from '#schema/errors.ts';
import { canonicalContent } from '#schema/content/canonical.ts';
import { SPECS, type Section } from '#schema/content/spec.ts';
import type { WorkspaceContent } from '#schema/content/ydoc.ts';
import type { FeedbackView, SharedFeedback, ShareLinkView } from '#schema/api.ts';
import type { FeedbackRow, ShareStore, ShareLinkRow } from '../store/shares.ts';
import type { AuditStore } from '../store/audit.ts';
import type { ProjectStore } from '../store/projects.ts';
import type { ReleaseStore } from '../store/releases.ts';
import type { Principal } from './accounts.ts';
import { announcer, type Atomically, type Emit } from './events.ts';
import type { LocalData } from './local.ts';
import type { Snapshots } from './snapshots.ts';
import { hashToken, newId, newSecretToken } from './ids.ts';
import { LIMITS, requireBelow, requireRate } from './limits.ts';
import { DAY, MINUTE } from '../lib/time.ts';
import { requireEnvironment } from './require.ts';
import { shownSnapshotId } from '#schema/composition.ts';
import { isAuthoring } from '#schema/pipeline.ts';
import { mapInOrder } from '../lib/in-order.ts';

export const shareLinkView = (l: ShareLinkRow): ShareLinkView => ({
  id: l.id,
  environmentId: l.environmentId,
  label: l.label,
  snapshotId: l.snapshotId,
  allowFeedback: l.allowFeedback,
  createdBy: l.createdBy,
  createdAt: new Date(l.createdAt).toISOString(),
  expiresAt: new Date(l.expiresAt).toISOString(),
  revokedAt: l.revokedAt ? new Date(l.revokedAt).toISOString() : null,
});

/**
 * Read-only links for stakeholders without an account: to an environment (whatever is
 * current there) or one pinned snapshot. The token is shown once and stored hashed; a link
 * can read and, if allowed, leave feedback — nothing else.
 */
export function createShares(deps: {
  store: ShareStore & AuditStore;
  projects: ProjectStore;
  releases: ReleaseStore;
  snapshots: Snapshots;
  local: LocalData;
  limits: { maxShareLinksPerEnvironment: number; feedbackPerLinkPerMinute: number };
  /** Names of people by user id. */
  names: (ids: Iterable<string>) => Promise<Record<string, string>>;
  /** The project event log: `shares` and `feedback` events of the stage, in each change's transaction. */
  emit: Emit;
  atomically: Atomically;
}) {
  const { store, projects } = deps;
  const announce = announcer(deps.atomically, deps.emit);
  const sharesChanged = (projectId: string, envId: string, by: Principal) => () => ({
    projectId,
    environmentId: envId,
    kind: 'shares' as const,
    actorId: by.user.id,
  });

  async function resolve(token: string): Promise<ShareLinkRow> {
    const link = await store.shareLinkByToken(hashToken(token));
    if (!link)
      throw new AppError('not_found', 'This link does not exist. Check that it was copied whole.');
    if (link.revokedAt !== null) throw new AppError('share_link_revoked');
    if (link.expiresAt < Date.now()) throw new AppError('share_link_expired');
    return link;
  }

  /** What a link shows now: its pinned snapshot, or whatever its environment shows. */
  async function shownContent(link: ShareLinkRow): Promise<WorkspaceContent | null> {
    const { environment: env } = (await projects.getEnvironment(link.environmentId))!;
    const project = (await projects.getProject(env.projectId))!;
    const snapshotId = link.snapshotId ?? shownSnapshotId(env, project);
    return snapshotId ? canonicalContent(await deps.local.contentWith(env.id, snapshotId)) : null;
  }

  const itemNameIn = (content: WorkspaceContent | null, section: Section, itemId: string) => {
    const item = content?.[section]?.[itemId];
    return item ? String(item[SPECS[section].nameField] ?? '') : '';
  };

  const repliesByFeedback = async (rows: FeedbackRow[]) => {
    const by = new Map<string, { author: string; text: string; createdAt: string }[]>();
    for (const r of await store.repliesOf(rows.map((f) => f.id))) {
      const list = by.get(r.feedbackId) ?? [];
      list.push({
        author: r.authorName,
        text: r.text,
        createdAt: new Date(r.createdAt).toISOString(),
      });
      by.set(r.feedbackId, list);
    }
    return by;
  };

  /** The team's view of feedback rows of one environment. */
  async function teamViews(envId: string, rows: FeedbackRow[]): Promise<FeedbackView[]> {
    // Only the links these comments came through (at most one per comment listed).
    const links = new Map(
      (await store.shareLinksByIds([...new Set(rows.map((f) => f.shareLinkId))])).map((l) => [
        l.id,
        l,
      ]),
    );
    const replies = await repliesByFeedback(rows);
    const names = await deps.names(rows.flatMap((f) => (f.resolvedBy ? [f.resolvedBy] : [])));
    // Older comments have no stored name: the item's name in what the environment shows now.
    let current: WorkspaceContent | null | undefined;
    const nameOf = async (f: FeedbackRow) => {
      if (f.itemName) return f.itemName;
      if (current === undefined) {
        const { environment: env } = (await projects.getEnvironment(envId))!;
        const snap = shownSnapshotId(env, (await projects.getProject(env.projectId))!);
        current = snap ? canonicalContent(await deps.local.contentWith(env.id, snap)) : null;
      }
      return itemNameIn(current, f.section as Section, f.itemId);
    };
    return await mapInOrder(rows, async (f) => {
      const link = links.get(f.shareLinkId);
      return {
        id: f.id,
        section: f.section,
        itemId: f.itemId,
        itemName: await nameOf(f),
        author: f.author,
        text: f.text,
        shareLinkId: f.shareLinkId,
        link: { label: link?.label ?? '', snapshotId: link?.snapshotId ?? null },
        createdAt: new Date(f.createdAt).toISOString(),
        resolved:
          f.resolvedAt !== null
            ? {
                by: (f.resolvedBy && names[f.resolvedBy]) || 'a former member',
                at: new Date(f.resolvedAt).toISOString(),
              }
            : null,
        replies: replies.get(f.id) ?? [],
      };
    });
  }

  async function requireFeedback(id: string): Promise<FeedbackRow> {
    const f = await store.feedbackById(id);
    if (!f) throw new AppError('not_found', 'No such feedback.');
    return f;
  }

  /** One link's feedback with the team's replies: what that link's holders read. */
  async function sharedFeedback(envId: string, linkId: string): Promise<SharedFeedback[]> {
    const rows = await store.feedbackOfLink(envId, linkId, LIMITS.FEEDBACK_LISTED_PER_LINK);
    const replies = await repliesByFeedback(rows);
    return rows.map((f) => ({
      id: f.id,
      section: f.section,
      itemId: f.itemId,
      author: f.author,
      text: f.text,
      createdAt: new Date(f.createdAt).toISOString(),
      resolved: f.resolvedAt !== null,
      replies: replies.get(f.id) ?? [],
    }));
  }

  return {
    async create(
      by: Principal,
      envId: string,
      input: { label: string; expiresInDays: number; snapshotId?: string; allowFeedback: boolean },
    ) {
      const env = (await requireEnvironment(projects, envId)).environment;
      // A link shows a snapshot (and the sections the stage holds); the authoring stage has only
      // its live draft, which nobody reviewed: stakeholders get a stage after it.
      if (isAuthoring(env)) throw new AppError('authoring_not_shareable');
      // A pinned link shows a snapshot this environment actually held.
      if (
        input.snapshotId &&
        !(
          (await deps.releases.wasEverAt(env.id, 'current', input.snapshotId)) ||
          (await deps.releases.wasEverAt(env.id, 'live', input.snapshotId))
        )
      ) {
        throw new AppError(
          'not_in_history',
          'That snapshot was never in this environment: pin one from its history.',
        );
      }
      const now = Date.now();
      const max = deps.limits.maxShareLinksPerEnvironment;
      const token = newSecretToken('scl');
      const row: ShareLinkRow = {
        id: newId('shr'),
        environmentId: env.id,
        snapshotId: input.snapshotId ?? null,
        label: input.label,
        tokenHash: hashToken(token),
        allowFeedback: input.allowFeedback,
        createdBy: by.user.id,
        createdAt: now,
        expiresAt: now + input.expiresInDays * DAY,
        revokedAt: null,
      };
      await announce(
        async () => {
          // Counted in the insert's transaction: racing creates cannot pass it together (PG-134).
          requireBelow(
            'MAX_SHARE_LINKS_PER_ENVIRONMENT',
            max,
            await store.activeShareLinkCount(env.id, now),
            `${env.name} already has ${max} active share links: revoke one first.`,
          );
          await store.insertShareLink(row);
          await store.audit(
            {
              projectId: env.projectId,
              environmentId: env.id,
              kind: 'share_link.created',
              actorId: by.user.id,
              subject: {
                linkId: row.id,
                label: row.label,
                snapshotId: row.snapshotId,
                expiresAt: row.expiresAt,
              },
            },
            now,
          );
        },
        sharesChanged(env.projectId, env.id, by),
      );
      return { ...shareLinkView(row), token, path: `/share/${token}` };
    },

    async list(envId: string) {
      return (await store.shareLinks(envId)).map(shareLinkView);
    },

    async environmentOf(linkId: string): Promise<string> {
      const l = await store.shareLink(linkId);
      if (!l) throw new AppError('not_found', 'No such share link.');
      return l.environmentId;
    },

    async revoke(by: Principal, linkId: string): Promise<void> {
      const l = await store.shareLink(linkId);
      if (!l) throw new AppError('not_found', 'No such share link.');
      const env = (await projects.getEnvironment(l.environmentId))!.environment;
      await announce(
        async () => {
          await store.revokeShareLink(linkId, Date.now());
          await store.audit(
            {
              projectId: env.projectId,
              environmentId: env.id,
              kind: 'share_link.revoked',
              actorId: by.user.id,
              subject: { linkId, label: l.label },
            },
            Date.now(),
          );
        },
        sharesChanged(env.projectId, env.id, by),
      );
    },

    /** What a stakeholder sees: the content, variables at their effective values, never a secret value. */
    async view(token: string) {
      const link = await resolve(token);
      const { environment: env } = (await projects.getEnvironment(link.environmentId))!;
      const project = (await projects.getProject(env.projectId))!;
      const snapshotId = link.snapshotId ?? shownSnapshotId(env, project);
      // Flow rules: what a Sync moved is pinned; the sections the environment holds itself are shown as they are now.
      const content = snapshotId
        ? canonicalContent(await deps.local.contentWith(env.id, snapshotId))
        : null;
      return {
        label: link.label,
        expiresAt: new Date(link.expiresAt).toISOString(),
        allowFeedback: link.allowFeedback,
        pinned: link.snapshotId !== null,
        project: { name: project.project.name },
        environment: { name: env.name, kind: env.kind, color: env.color },
        snapshot: snapshotId ? await deps.snapshots.meta(env.projectId, snapshotId) : null,
        content,
        variables: content
          ? (await deps.local.variables(env.id, content))
              .filter((v) => !v.orphaned)
              .map((v) => ({
                name: v.name,
                type: v.type,
                description: v.description,
                value: v.effectiveValue,
              }))
          : [],
        feedback: link.allowFeedback ? await sharedFeedback(env.id, link.id) : [],
      };
    },

    /** Stakeholder feedback on an item: environment-local, never promoted. */
    async addFeedback(
      token: string,
      input: { section: Section; itemId: string; author: string; text: string },
    ) {
      const link = await resolve(token);
      if (!link.allowFeedback) throw new AppError('forbidden', 'This link does not take feedback.');
      // The poster is anonymous: the link itself is what is limited, in rate and in what it keeps.
      const now = Date.now();
      const perMinute = deps.limits.feedbackPerLinkPerMinute;
      const kept = LIMITS.MAX_FEEDBACK_PER_LINK;
      const id = newId('fbk');
      const { environment } = await requireEnvironment(projects, link.environmentId);
      // Counted and stored in one transaction: parallel posts cannot slip past the counts (PG-135).
      const row = await deps.atomically(async () => {
        requireRate(
          'FEEDBACK_PER_LINK_PER_MINUTE',
          perMinute,
          await store.feedbackTimesOfLink(link.environmentId, link.id, now - MINUTE),
          MINUTE,
          now,
          `This link takes at most ${perMinute} feedback posts a minute: wait a moment and send it again.`,
        );
        requireBelow(
          'MAX_FEEDBACK_PER_LINK',
          kept,
          await store.feedbackCountOfLink(link.environmentId, link.id),
          `This link already holds ${kept} feedback posts: ask the team for a new link.`,
        );
        const row = {
          id,
          environmentId: link.environmentId,
          shareLinkId: link.id,
          section: input.section,
          itemId: input.itemId,
          author: input.author,
          text: input.text,
          createdAt: now,
          // The name the stakeholder read, so the team's view names the item even after it changes.
          itemName: itemNameIn(await shownContent(link), input.section, input.itemId),
          resolvedAt: null,
          resolvedBy: null,
        };
        await store.insertFeedback(row);
        await deps.emit({
          projectId: environment.projectId,
          environmentId: environment.id,
          kind: 'feedback',
          actorId: null,
          subject: { feedbackId: row.id, action: 'posted' },
        });
        return row;
      });
      return {
        id: row.id,
        environmentId: row.environmentId,
        section: row.section,
        itemId: row.itemId,
        itemName: row.itemName,
        author: row.author,
        text: row.text,
        createdAt: new Date(row.createdAt).toISOString(),
      };
    },

    /** The team's view: newest first, bounded, narrowed to open or resolved. */
    async feedback(envId: string, status: 'open' | 'resolved' | 'all' = 'all') {
      const max = LIMITS.FEEDBACK_LISTED;
      const rows = await store.feedback(envId, status, max + 1);
      return {
        feedback: await teamViews(envId, rows.slice(0, max)),
        counts: await store.feedbackCounts(envId),
        truncated: rows.length > max,
      };
    },

    /** The environment a feedback post belongs to (404 when there is none). */
    async environmentOfFeedback(id: string): Promise<string> {
      return (await requireFeedback(id)).environmentId;
    },

    /** A team member answers a stakeholder; the link's holders read it under the item. */
    async reply(by: Principal, id: string, text: string): Promise<FeedbackView> {
      const f = await requireFeedback(id);
      const max = LIMITS.MAX_REPLIES_PER_FEEDBACK;
      const now = Date.now();
      const replyId = newId('fbr');
      const env = (await projects.getEnvironment(f.environmentId))!.environment;
      // Counted in the insert's transaction: racing replies cannot pass it together (PG-134).
      await deps.atomically(async () => {
        requireBelow(
          'MAX_REPLIES_PER_FEEDBACK',
          max,
          await store.replyCount(f.id),
          `This comment already has ${max} replies: resolve it, or ask for a new comment.`,
        );
        await store.insertReply({
          id: replyId,
          feedbackId: f.id,
          createdBy: by.user.id,
          authorName: by.user.name,
          text,
          createdAt: now,
        });
        await deps.emit({
          projectId: env.projectId,
          environmentId: env.id,
          kind: 'feedback',
          actorId: by.user.id,
          subject: { feedbackId: f.id, action: 'replied' },
        });
      });
      await store.audit(
        {
          projectId: env.projectId,
          environmentId: env.id,
          kind: 'feedback.replied',
          actorId: by.user.id,
          subject: {
            feedbackId: f.id,
            replyId,
            section: f.section,
            itemId: f.itemId,
            itemName: f.itemName,
          },
        },
        now,
      );
      return (await teamViews(env.id, [f]))[0]!;
    },

    /** Marks feedback resolved (or open again); saying what it already is changes nothing. */
    async setResolved(by: Principal, id: string, resolved: boolean): Promise<FeedbackView> {
      const f = await requireFeedback(id);
      if (resolved !== (f.resolvedAt !== null)) {
        const now = Date.now();
        const env = (await projects.getEnvironment(f.environmentId))!.environment;
        await deps.atomically(async () => {
          await store.setFeedbackResolved(
            f.id,
            resolved ? by.user.id : null,
            resolved ? now : null,
          );
          await deps.emit({
            projectId: env.projectId,
            environmentId: env.id,
            kind: 'feedback',
            actorId: by.user.id,
            subject: { feedbackId: f.id, action: resolved ? 'resolved' : 'reopened' },
          });
        });
        await store.audit(
          {
            projectId: env.projectId,
            environmentId: env.id,
            kind: resolved ? 'feedback.resolved' : 'feedback.reopened',
            actorId: by.user.id,
            subject: {
              feedbackId: f.id,
              section: f.section,
              itemId: f.itemId,
              itemName: f.itemName,
            },
          },
          now,
        );
      }
      return (await teamViews(f.environmentId, [await requireFeedback(id)]))[0]!;
    },

    /** Open (unresolved) feedback per environment. */
    async openCounts(envIds: string[]): Promise<Record<string, number>> {
      return await store.openFeedbackCounts(envIds);
    },
  };
}

export type Shares = ReturnType<typeof createShares>;
