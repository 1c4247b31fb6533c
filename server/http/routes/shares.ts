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

/** Managing share links (environment admins) and the team's view of feedback. */
export function shareRoutes(deps: AppDeps) {
  const { access, shares } = deps;
  return (
    new Hono<AppEnv>()
      .post('/environments/:envId/share-links', async (c) => {
        access.authorize(c.get('principal'), 'env.admin', c.req.param('envId'));
        const link = shares.create(
          c.get('principal'),
          c.req.param('envId'),
          await readJson(c, ShareLinkBody),
        );
        return c.json(
          { ...link, url: deps.absoluteUrl(link.path) } satisfies ShareLinkCreated,
          201,
        );
      })
      .get('/environments/:envId/share-links', (c) => {
        access.authorize(c.get('principal'), 'env.admin', c.req.param('envId'));
        return c.json({ links: shares.list(c.req.param('envId')) } satisfies ShareLinksView);
      })
      .delete('/share-links/:id', (c) => {
        access.authorize(c.get('principal'), 'env.admin', shares.environmentOf(c.req.param('id')));
        shares.revoke(c.get('principal'), c.req.param('id'));
        return c.body(null, 204);
      })
      .get('/environments/:envId/feedback', (c) => {
        const p = c.get('principal');
        const env = access.authorize(p, 'content.read', c.req.param('envId'));
        const q = c.req.query('status');
        const status = q === 'open' || q === 'resolved' ? q : 'all';
        return c.json({
          ...shares.feedback(env.id, status),
          canRespond: can(access.rolesIn(p, env), 'env.admin', { hasDraft: true }),
        } satisfies FeedbackListView);
      })
      // Replying and resolving: those who manage the environment's share links (the people who asked
      // the stakeholders); readers only read. Another project's feedback is not found.
      .post('/feedback/:id/replies', async (c) => {
        const p = c.get('principal');
        access.authorize(p, 'env.admin', shares.environmentOfFeedback(c.req.param('id')));
        const { text } = await readJson(c, FeedbackReplyBody);
        return c.json(
          { feedback: shares.reply(p, c.req.param('id'), text) } satisfies FeedbackChanged,
          201,
        );
      })
      .post('/feedback/:id/resolve', async (c) => {
        const p = c.get('principal');
        access.authorize(p, 'env.admin', shares.environmentOfFeedback(c.req.param('id')));
        const { resolved } = await readJson(c, FeedbackResolveBody);
        return c.json({
          feedback: shares.setResolved(p, c.req.param('id'), resolved),
        } satisfies FeedbackChanged);
      })
  );
}

/** What a share link's holder may do, with no other credential: read, and leave feedback if the link allows. */
export function publicShareRoutes(deps: AppDeps) {
  return new Hono<AppEnv>()
    .get('/share/:token', (c) =>
      c.json(deps.shares.view(c.req.param('token')) satisfies SharedView, 200, {
        'Cache-Control': 'no-store',
        'Referrer-Policy': 'no-referrer',
      }),
    )
    .post('/share/:token/feedback', async (c) =>
      c.json(
        deps.shares.addFeedback(
          c.req.param('token'),
          await readJson(c, FeedbackBody),
        ) satisfies FeedbackPosted,
        201,
      ),
    );
}
