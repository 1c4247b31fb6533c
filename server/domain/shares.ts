import { AppError } from '#schema/errors.ts';
import { canonicalContent } from '#schema/content/canonical.ts';
import type { Section } from '#schema/content/spec.ts';
import type { FeedbackView, ShareLinkView } from '#schema/api.ts';
import type { ShareStore, ShareLinkRow } from '../store/shares.ts';
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
  /** The project event log: a `shares` event of the stage, in each link change's transaction. */
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

  function resolve(token: string): ShareLinkRow {
    const link = store.shareLinkByToken(hashToken(token));
    if (!link)
      throw new AppError('not_found', 'This link does not exist. Check that it was copied whole.');
    if (link.revokedAt !== null) throw new AppError('share_link_revoked');
    if (link.expiresAt < Date.now()) throw new AppError('share_link_expired');
    return link;
  }

  return {
    create(
      by: Principal,
      envId: string,
      input: { label: string; expiresInDays: number; snapshotId?: string; allowFeedback: boolean },
    ) {
      const env = requireEnvironment(projects, envId).environment;
      // A link shows a snapshot (and the sections the stage holds); the authoring stage has only
      // its live draft, which nobody reviewed: stakeholders get a stage after it.
      if (isAuthoring(env)) throw new AppError('authoring_not_shareable');
      // A pinned link shows a snapshot this environment actually held.
      if (
        input.snapshotId &&
        !(
          deps.releases.wasEverAt(env.id, 'current', input.snapshotId) ||
          deps.releases.wasEverAt(env.id, 'live', input.snapshotId)
        )
      ) {
        throw new AppError(
          'not_in_history',
          'That snapshot was never in this environment: pin one from its history.',
        );
      }
      const now = Date.now();
      const max = deps.limits.maxShareLinksPerEnvironment;
      requireBelow(
        'MAX_SHARE_LINKS_PER_ENVIRONMENT',
        max,
        store.activeShareLinkCount(env.id, now),
        `${env.name} already has ${max} active share links: revoke one first.`,
      );
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
      announce(
        () => {
          store.insertShareLink(row);
          store.audit(
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

    list(envId: string) {
      return store.shareLinks(envId).map(shareLinkView);
    },

    environmentOf(linkId: string): string {
      const l = store.shareLink(linkId);
      if (!l) throw new AppError('not_found', 'No such share link.');
      return l.environmentId;
    },

    revoke(by: Principal, linkId: string): void {
      const l = store.shareLink(linkId);
      if (!l) throw new AppError('not_found', 'No such share link.');
      const env = projects.getEnvironment(l.environmentId)!.environment;
      announce(
        () => {
          store.revokeShareLink(linkId, Date.now());
          store.audit(
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
    view(token: string) {
      const link = resolve(token);
      const { environment: env } = projects.getEnvironment(link.environmentId)!;
      const project = projects.getProject(env.projectId)!;
      const snapshotId = link.snapshotId ?? shownSnapshotId(env, project);
      // Flow rules: what a Sync moved is pinned; the sections the environment holds itself are shown as they are now.
      const content = snapshotId
        ? canonicalContent(deps.local.contentWith(env.id, snapshotId))
        : null;
      return {
        label: link.label,
        expiresAt: new Date(link.expiresAt).toISOString(),
        allowFeedback: link.allowFeedback,
        pinned: link.snapshotId !== null,
        project: { name: project.project.name },
        environment: { name: env.name, kind: env.kind, color: env.color },
        snapshot: snapshotId ? deps.snapshots.meta(env.projectId, snapshotId) : null,
        content,
        variables: content
          ? deps.local
              .variables(env.id, content)
              .filter((v) => !v.orphaned)
              .map((v) => ({
                name: v.name,
                type: v.type,
                description: v.description,
                value: v.effectiveValue,
              }))
          : [],
        feedback: link.allowFeedback
          ? store.feedbackOfLink(env.id, link.id).map((f) => ({
              section: f.section,
              itemId: f.itemId,
              author: f.author,
              text: f.text,
              createdAt: new Date(f.createdAt).toISOString(),
            }))
          : [],
      };
    },

    /** Stakeholder feedback on an item: environment-local, never promoted. */
    addFeedback(
      token: string,
      input: { section: Section; itemId: string; author: string; text: string },
    ) {
      const link = resolve(token);
      if (!link.allowFeedback) throw new AppError('forbidden', 'This link does not take feedback.');
      // The poster is anonymous: the link itself is what is limited, in rate and in what it keeps.
      // Counted and stored in one synchronous step, so parallel posts cannot slip past the count.
      const now = Date.now();
      const perMinute = deps.limits.feedbackPerLinkPerMinute;
      requireRate(
        'FEEDBACK_PER_LINK_PER_MINUTE',
        perMinute,
        store.feedbackTimesOfLink(link.environmentId, link.id, now - MINUTE),
        MINUTE,
        now,
        `This link takes at most ${perMinute} feedback posts a minute: wait a moment and send it again.`,
      );
      const kept = LIMITS.MAX_FEEDBACK_PER_LINK;
      requireBelow(
        'MAX_FEEDBACK_PER_LINK',
        kept,
        store.feedbackCountOfLink(link.environmentId, link.id),
        `This link already holds ${kept} feedback posts: ask the team for a new link.`,
      );
      const row = {
        id: newId('fbk'),
        environmentId: link.environmentId,
        shareLinkId: link.id,
        section: input.section,
        itemId: input.itemId,
        author: input.author,
        text: input.text,
        createdAt: now,
      };
      store.insertFeedback(row);
      return { ...row, createdAt: new Date(row.createdAt).toISOString() };
    },

    feedback(envId: string): FeedbackView[] {
      return store.feedback(envId).map((f) => ({
        id: f.id,
        section: f.section,
        itemId: f.itemId,
        author: f.author,
        text: f.text,
        shareLinkId: f.shareLinkId,
        createdAt: new Date(f.createdAt).toISOString(),
      }));
    },
  };
}

export type Shares = ReturnType<typeof createShares>;
