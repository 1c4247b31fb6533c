import { Hono } from 'hono';
import {
  CreateWebhookBody,
  UpdateWebhookBody,
  type WebhookCreated,
  type WebhookDeliveriesView,
  type WebhookDeliveryResult,
  type WebhookResult,
  type WebhooksView,
} from '#schema/api.ts';
import { AppError } from '#schema/errors.ts';
import type { AppDeps, AppEnv } from '../context.ts';
import { readJson } from '../validate.ts';
import { DELIVERIES_PAGE, DELIVERIES_PAGE_MAX } from '../../domain/webhooks.ts';

/** `?limit=`: 1 … DELIVERIES_PAGE_MAX, DELIVERIES_PAGE when absent. */
function limitParam(v: string | undefined): number {
  if (v === undefined || v === '') return DELIVERIES_PAGE;
  const n = Number(v);
  if (!/^[0-9]{1,4}$/.test(v) || n < 1 || n > DELIVERIES_PAGE_MAX)
    throw new AppError('invalid_body', `“limit” is a number from 1 to ${DELIVERIES_PAGE_MAX}.`);
  return n;
}

/** Signed webhooks (WH-1 … WH-3, WH-12): project admins only; the secret is answered once. */
export function webhookRoutes(deps: AppDeps) {
  const { webhooks } = deps;
  return new Hono<AppEnv>()
    .get('/projects/:id/webhooks', (c) =>
      c.json({
        webhooks: webhooks.list(c.get('principal'), c.req.param('id')),
      } satisfies WebhooksView),
    )
    .post('/projects/:id/webhooks', async (c) => {
      const body = await readJson(c, CreateWebhookBody);
      return c.json(
        (await webhooks.create(
          c.get('principal'),
          c.req.param('id'),
          body,
        )) satisfies WebhookCreated,
        201,
      );
    })
    .patch('/webhooks/:id', async (c) => {
      const body = await readJson(c, UpdateWebhookBody);
      return c.json({
        webhook: await webhooks.update(c.get('principal'), c.req.param('id'), body),
      } satisfies WebhookResult);
    })
    .delete('/webhooks/:id', (c) => {
      webhooks.remove(c.get('principal'), c.req.param('id'));
      return c.body(null, 204);
    })
    .post('/webhooks/:id/rotate-secret', (c) =>
      c.json(webhooks.rotate(c.get('principal'), c.req.param('id')) satisfies WebhookCreated),
    )
    .post('/webhooks/:id/test', (c) =>
      c.json(
        {
          delivery: webhooks.test(c.get('principal'), c.req.param('id')),
        } satisfies WebhookDeliveryResult,
        202,
      ),
    )
    .get('/webhooks/:id/deliveries', (c) =>
      c.json(
        webhooks.deliveries(
          c.get('principal'),
          c.req.param('id'),
          c.req.query('before') || undefined,
          limitParam(c.req.query('limit')),
        ) satisfies WebhookDeliveriesView,
      ),
    )
    .post('/webhooks/:id/deliveries/:deliveryId/redeliver', (c) =>
      c.json(
        {
          delivery: webhooks.redeliver(
            c.get('principal'),
            c.req.param('id'),
            c.req.param('deliveryId'),
          ),
        } satisfies WebhookDeliveryResult,
        202,
      ),
    );
}
