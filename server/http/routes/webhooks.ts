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
import type { AppDeps, AppEnv } from '../context.ts';
import { readJson } from '../validate.ts';
import { op } from '../describe.ts';
import { limitParam } from '../paging.ts';
import { DELIVERIES_PAGE, DELIVERIES_PAGE_MAX } from '../../domain/webhooks.ts';

/** Errors every webhook route can answer: who may manage them, and which webhook. */
const WEBHOOK_ERRORS = ['not_a_member', 'forbidden', 'webhook_not_found'] as const;

/** Signed webhooks (WH-1 … WH-3, WH-12): project admins only; the secret is answered once. */
export function webhookRoutes(deps: AppDeps) {
  const { webhooks } = deps;
  return new Hono<AppEnv>()
    .get(
      '/projects/:id/webhooks',
      op({
        id: 'listWebhooks',
        tag: 'Webhooks',
        summary: 'The project’s webhook endpoints (never their secrets)',
        answers: { 200: 'WebhooksView' },
        errors: ['project_not_found', 'not_a_member', 'forbidden'],
      }),
      async (c) =>
        c.json({
          webhooks: await webhooks.list(c.get('principal'), c.req.param('id')),
        } satisfies WebhooksView),
    )
    .post(
      '/projects/:id/webhooks',
      op({
        id: 'createWebhook',
        tag: 'Webhooks',
        summary: 'Add a webhook endpoint; its signing secret is answered this once',
        body: CreateWebhookBody,
        answers: { 201: 'WebhookCreated' },
        errors: [
          'project_not_found',
          'not_a_member',
          'forbidden',
          'webhook_url_not_allowed',
          'too_many_webhooks',
        ],
      }),
      async (c) => {
        const body = await readJson(c, CreateWebhookBody);
        return c.json(
          (await webhooks.create(
            c.get('principal'),
            c.req.param('id'),
            body,
          )) satisfies WebhookCreated,
          201,
        );
      },
    )
    .patch(
      '/webhooks/:id',
      op({
        id: 'updateWebhook',
        tag: 'Webhooks',
        summary: 'Change a webhook’s URL, events or description; pause or resume it',
        body: UpdateWebhookBody,
        answers: { 200: 'WebhookResult' },
        errors: [...WEBHOOK_ERRORS, 'webhook_url_not_allowed'],
      }),
      async (c) => {
        const body = await readJson(c, UpdateWebhookBody);
        return c.json({
          webhook: await webhooks.update(c.get('principal'), c.req.param('id'), body),
        } satisfies WebhookResult);
      },
    )
    .delete(
      '/webhooks/:id',
      op({
        id: 'deleteWebhook',
        tag: 'Webhooks',
        summary: 'Delete a webhook and its deliveries',
        answers: { 204: null },
        errors: [...WEBHOOK_ERRORS],
      }),
      async (c) => {
        await webhooks.remove(c.get('principal'), c.req.param('id'));
        return c.body(null, 204);
      },
    )
    .post(
      '/webhooks/:id/rotate-secret',
      op({
        id: 'rotateWebhookSecret',
        tag: 'Webhooks',
        summary: 'A new signing secret, answered this once; the previous one signs too for 24 h',
        answers: { 200: 'WebhookCreated' },
        errors: [...WEBHOOK_ERRORS],
      }),
      async (c) =>
        c.json(
          (await webhooks.rotate(c.get('principal'), c.req.param('id'))) satisfies WebhookCreated,
        ),
    )
    .post(
      '/webhooks/:id/test',
      op({
        id: 'testWebhook',
        tag: 'Webhooks',
        summary: 'Send a webhook.test event to this endpoint',
        answers: { 202: 'WebhookDeliveryResult' },
        errors: [...WEBHOOK_ERRORS, 'too_many_webhook_deliveries', 'rate_limited'],
      }),
      async (c) =>
        c.json(
          {
            delivery: await webhooks.test(c.get('principal'), c.req.param('id')),
          } satisfies WebhookDeliveryResult,
          202,
        ),
    )
    .get(
      '/webhooks/:id/deliveries',
      op({
        id: 'listWebhookDeliveries',
        tag: 'Webhooks',
        summary: 'A webhook’s deliveries with their attempts, newest first',
        query: {
          before: { description: 'The `next` of the previous page; absent: the newest page.' },
          limit: {
            description: `Deliveries per page (1–${DELIVERIES_PAGE_MAX}, default ${DELIVERIES_PAGE}).`,
            schema: { type: 'integer', minimum: 1, maximum: DELIVERIES_PAGE_MAX },
          },
        },
        answers: { 200: 'WebhookDeliveriesView' },
        errors: [...WEBHOOK_ERRORS],
      }),
      async (c) =>
        c.json(
          (await webhooks.deliveries(
            c.get('principal'),
            c.req.param('id'),
            c.req.query('before') || undefined,
            limitParam(c.req.query('limit'), DELIVERIES_PAGE, DELIVERIES_PAGE_MAX),
          )) satisfies WebhookDeliveriesView,
        ),
    )
    .post(
      '/webhooks/:id/deliveries/:deliveryId/redeliver',
      op({
        id: 'redeliverWebhookDelivery',
        tag: 'Webhooks',
        summary: 'Send a delivery again: the same payload and webhook-id, new attempts',
        answers: { 202: 'WebhookDeliveryResult' },
        errors: [
          ...WEBHOOK_ERRORS,
          'webhook_delivery_not_found',
          'too_many_webhook_deliveries',
          'rate_limited',
        ],
      }),
      async (c) =>
        c.json(
          {
            delivery: await webhooks.redeliver(
              c.get('principal'),
              c.req.param('id'),
              c.req.param('deliveryId'),
            ),
          } satisfies WebhookDeliveryResult,
          202,
        ),
    );
}
