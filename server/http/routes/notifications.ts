import { Hono } from 'hono';
import {
  NotificationsReadBody,
  type NotificationsRead,
  type NotificationsView,
} from '#schema/api.ts';
import type { AppDeps, AppEnv } from '../context.ts';
import { readJson } from '../validate.ts';
import { beforeParam } from '../../domain/notifications.ts';
import { op } from '../describe.ts';

/** The signed-in person's inbox: only their own notifications, of projects they still belong to. */
export function notificationRoutes(deps: AppDeps) {
  const { notifications } = deps;
  return new Hono<AppEnv>()
    .get(
      '/notifications',
      op({
        id: 'listNotifications',
        tag: 'Events',
        summary: 'Your notifications, newest first',
        query: { before: { description: 'Page: only notifications before this cursor.' } },
        answers: { 200: 'NotificationsView' },
      }),
      async (c) =>
        c.json(
          (await notifications.list(
            c.get('principal'),
            beforeParam(c.req.query('before')),
          )) satisfies NotificationsView,
        ),
    )
    .post(
      '/notifications/read',
      op({
        id: 'markNotificationsRead',
        tag: 'Events',
        summary: 'Mark notifications read',
        body: NotificationsReadBody,
        answers: { 200: 'NotificationsRead' },
      }),
      async (c) => {
        const body = await readJson(c, NotificationsReadBody);
        return c.json({
          unread: await notifications.markRead(c.get('principal'), body),
        } satisfies NotificationsRead);
      },
    );
}
