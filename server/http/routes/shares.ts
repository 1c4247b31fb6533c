import { Hono } from 'hono';
import {
  FeedbackBody,
  FeedbackReplyBody,
  FeedbackResolveBody,
  ShareLinkBody,
} from '#schema/local.ts';
import type {
  FeedbackChanged,
  FeedbackListView,
  FeedbackPosted,
  ShareLinkCreated,
  ShareLinksView,
  SharedView,
} from '#schema/api.ts';
import { can } from '#schema/permissions.ts';
import type { AppDeps, AppEnv } from '../context.ts';
import { readJson } from '../validate.ts';
import { op } from '../describe.ts';

/** Managing share links (environment admins) and the team's view of feedback. */
export function shareRoutes(deps: AppDeps) {
  const { access, shares } = deps;
  return (
    new Hono<AppEnv>()
      .post(
        '/environments/:envId/share-links',
        op({
          id: 'createShareLink',
          tag: 'Sharing',
          summary: 'Create a share link to an environment (its URL is shown once)',
          body: ShareLinkBody,
          answers: { 201: 'ShareLinkCreated' },
          errors: ['environment_not_found', 'authoring_not_shareable', 'limit_reached'],
        }),
        async (c) => {
          await access.authorize(c.get('principal'), 'env.admin', c.req.param('envId'));
          const link = await shares.create(
            c.get('principal'),
            c.req.param('envId'),
            await readJson(c, ShareLinkBody),
          );
          return c.json(
            { ...link, url: deps.absoluteUrl(link.path) } satisfies ShareLinkCreated,
            201,
          );
        },
      )
      .get(
        '/environments/:envId/share-links',
        op({
          id: 'listShareLinks',
          tag: 'Sharing',
          summary: 'An environment’s share links',
          answers: { 200: 'ShareLinksView' },
          errors: ['environment_not_found'],
        }),
        async (c) => {
          await access.authorize(c.get('principal'), 'env.admin', c.req.param('envId'));
          return c.json({
            links: await shares.list(c.req.param('envId')),
          } satisfies ShareLinksView);
        },
      )
      .delete(
        '/share-links/:id',
        op({
          id: 'revokeShareLink',
          tag: 'Sharing',
          summary: 'Revoke a share link',
          answers: { 204: null },
          errors: ['not_found'],
        }),
        async (c) => {
          await access.authorize(
            c.get('principal'),
            'env.admin',
            await shares.environmentOf(c.req.param('id')),
          );
          await shares.revoke(c.get('principal'), c.req.param('id'));
          return c.body(null, 204);
        },
      )
      .get(
        '/environments/:envId/feedback',
        op({
          id: 'listFeedback',
          tag: 'Sharing',
          summary: 'Feedback left through an environment’s share links',
          query: {
            status: {
              description: 'open, resolved or all (default).',
              schema: { type: 'string', enum: ['open', 'resolved', 'all'] },
            },
          },
          answers: { 200: 'FeedbackListView' },
          errors: ['environment_not_found'],
        }),
        async (c) => {
          const p = c.get('principal');
          const env = await access.authorize(p, 'content.read', c.req.param('envId'));
          const q = c.req.query('status');
          const status = q === 'open' || q === 'resolved' ? q : 'all';
          return c.json({
            ...(await shares.feedback(env.id, status)),
            canRespond: can(await access.rolesIn(p, env), 'env.admin', { hasDraft: true }),
          } satisfies FeedbackListView);
        },
      )
      // Replying and resolving: those who manage the environment's share links (the people who asked
      // the stakeholders); readers only read. Another project's feedback is not found.
      .post(
        '/feedback/:id/replies',
        op({
          id: 'replyToFeedback',
          tag: 'Sharing',
          summary: 'Reply to feedback',
          body: FeedbackReplyBody,
          answers: { 201: 'FeedbackChanged' },
          errors: ['not_found', 'limit_reached'],
        }),
        async (c) => {
          const p = c.get('principal');
          await access.authorize(
            p,
            'env.admin',
            await shares.environmentOfFeedback(c.req.param('id')),
          );
          const { text } = await readJson(c, FeedbackReplyBody);
          return c.json(
            { feedback: await shares.reply(p, c.req.param('id'), text) } satisfies FeedbackChanged,
            201,
          );
        },
      )
      .post(
        '/feedback/:id/resolve',
        op({
          id: 'resolveFeedback',
          tag: 'Sharing',
          summary: 'Mark feedback resolved or open again',
          body: FeedbackResolveBody,
          answers: { 200: 'FeedbackChanged' },
          errors: ['not_found'],
        }),
        async (c) => {
          const p = c.get('principal');
          await access.authorize(
            p,
            'env.admin',
            await shares.environmentOfFeedback(c.req.param('id')),
          );
          const { resolved } = await readJson(c, FeedbackResolveBody);
          return c.json({
            feedback: await shares.setResolved(p, c.req.param('id'), resolved),
          } satisfies FeedbackChanged);
        },
      )
  );
}

/** What a share link's holder may do, with no other credential: read, and leave feedback if the link allows. */
export function publicShareRoutes(deps: AppDeps) {
  return new Hono<AppEnv>()
    .get(
      '/share/:token',
      op({
        id: 'readSharedView',
        tag: 'Sharing',
        auth: 'public',
        summary: 'What a share link shows its holder',
        answers: { 200: 'SharedView' },
        errors: ['not_found', 'share_link_expired', 'share_link_revoked'],
      }),
      async (c) =>
        c.json((await deps.shares.view(c.req.param('token'))) satisfies SharedView, 200, {
          'Cache-Control': 'no-store',
          'Referrer-Policy': 'no-referrer',
        }),
    )
    .post(
      '/share/:token/feedback',
      op({
        id: 'postSharedFeedback',
        tag: 'Sharing',
        auth: 'public',
        summary: 'Leave feedback through a share link',
        body: FeedbackBody,
        answers: { 201: 'FeedbackPosted' },
        errors: [
          'not_found',
          'share_link_expired',
          'share_link_revoked',
          'rate_limited',
          'limit_reached',
        ],
      }),
      async (c) =>
        c.json(
          (await deps.shares.addFeedback(
            c.req.param('token'),
            await readJson(c, FeedbackBody),
          )) satisfies FeedbackPosted,
          201,
        ),
    );
}
