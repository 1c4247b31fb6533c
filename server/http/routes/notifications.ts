import { Hono } from 'hono';
import {
  NotificationsReadBody,
  type NotificationsRead,
  type NotificationsView,
} from '#schema/api.ts';
import type { AppDeps, AppEnv } from '../context.ts';
import { readJson } from '../validate.ts';
import { beforeParam } from '../../domain/notifications.ts';

/** The signed-in person's inbox: only their own notifications, of projects they still belong to. */
export function notificationRoutes(deps: AppDeps) {
  const { notifications } = deps;
  return new Hono<AppEnv>()
    .get('/notifications', (c) =>
      c.json(
        notifications.list(
          c.get('principal'),
          beforeParam(c.req.query('before')),
        ) satisfies NotificationsView,
      ),
    )
    .post('/notifications/read', async (c) => {
      const body = await readJson(c, NotificationsReadBody);
      return c.json({
        unread: notifications.markRead(c.get('principal'), body),
      } satisfies NotificationsRead);
    });
}
