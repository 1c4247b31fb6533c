import { Hono } from 'hono';
import { FeedbackBody, ShareLinkBody } from '#schema/local.ts';
import type {
  FeedbackListView,
  FeedbackPosted,
  ShareLinkCreated,
  ShareLinksView,
  SharedView,
} from '#schema/api.ts';
import type { AppDeps, AppEnv } from '../context.ts';
import { readJson } from '../validate.ts';

/** Managing share links (environment admins) and the team's view of feedback. */
export function shareRoutes(deps: AppDeps) {
  const { access, shares } = deps;
  return new Hono<AppEnv>()
    .post('/environments/:envId/share-links', async (c) => {
      access.authorize(c.get('principal'), 'env.admin', c.req.param('envId'));
      const link = shares.create(
        c.get('principal'),
        c.req.param('envId'),
        await readJson(c, ShareLinkBody),
      );
      return c.json({ ...link, url: deps.absoluteUrl(link.path) } satisfies ShareLinkCreated, 201);
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
      access.authorize(c.get('principal'), 'content.read', c.req.param('envId'));
      return c.json({ feedback: shares.feedback(c.req.param('envId')) } satisfies FeedbackListView);
    });
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
