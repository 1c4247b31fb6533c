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
import { op } from '../describe.ts';
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
    .get(
      '/projects/:id/webhooks',
      op({
        id: 'listWebhooks',
        tag: 'Webhooks',
        summary: 'The project’s webhook endpoints (project admins; never a secret)',
        answers: { 200: 'WebhooksView' },
        errors: ['project_not_found'],
      }),
      (c) =>
        c.json({
          webhooks: webhooks.list(c.get('principal'), c.req.param('id')),
        } satisfies WebhooksView),
    )
    .post(
      '/projects/:id/webhooks',
      op({
        id: 'createWebhook',
        tag: 'Webhooks',
        summary: 'A new webhook endpoint; its signing secret is answered this once',
        body: CreateWebhookBody,
        answers: { 201: 'WebhookCreated' },
        errors: ['project_not_found', 'webhook_url_not_allowed', 'too_many_webhooks'],
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
        summary: 'Change a webhook endpoint (URL, events, description, enabled)',
        body: UpdateWebhookBody,
        answers: { 200: 'WebhookResult' },
        errors: ['webhook_not_found', 'webhook_url_not_allowed'],
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
        summary: 'Delete a webhook endpoint',
        answers: { 204: null },
        errors: ['webhook_not_found'],
      }),
      (c) => {
        webhooks.remove(c.get('principal'), c.req.param('id'));
        return c.body(null, 204);
      },
    )
    .post(
      '/webhooks/:id/rotate-secret',
      op({
        id: 'rotateWebhookSecret',
        tag: 'Webhooks',
        summary: 'A new signing secret (answered once); the old one keeps signing for the overlap',
        answers: { 200: 'WebhookCreated' },
        errors: ['webhook_not_found'],
      }),
      (c) =>
        c.json(webhooks.rotate(c.get('principal'), c.req.param('id')) satisfies WebhookCreated),
    )
    .post(
      '/webhooks/:id/test',
      op({
        id: 'testWebhook',
        tag: 'Webhooks',
        summary: 'Queue a `webhook.test` delivery to the endpoint',
        answers: { 202: 'WebhookDeliveryResult' },
        errors: ['webhook_not_found', 'too_many_webhook_deliveries'],
      }),
      (c) =>
        c.json(
          {
            delivery: webhooks.test(c.get('principal'), c.req.param('id')),
          } satisfies WebhookDeliveryResult,
          202,
        ),
    )
    .get(
      '/webhooks/:id/deliveries',
      op({
        id: 'listWebhookDeliveries',
        tag: 'Webhooks',
        summary: 'The endpoint’s delivery log, newest first, pageable',
        query: {
          before: { description: 'The `next` of the page before (older deliveries).' },
          limit: { description: 'Deliveries per page.' },
        },
        answers: { 200: 'WebhookDeliveriesView' },
        errors: ['webhook_not_found'],
      }),
      (c) =>
        c.json(
          webhooks.deliveries(
            c.get('principal'),
            c.req.param('id'),
            c.req.query('before') || undefined,
            limitParam(c.req.query('limit')),
          ) satisfies WebhookDeliveriesView,
        ),
    )
    .post(
      '/webhooks/:id/deliveries/:deliveryId/redeliver',
      op({
        id: 'redeliverWebhook',
        tag: 'Webhooks',
        summary: 'Send a logged delivery again (a new attempt with the same webhook-id)',
        answers: { 202: 'WebhookDeliveryResult' },
        errors: ['webhook_not_found', 'webhook_delivery_not_found', 'too_many_webhook_deliveries'],
      }),
      (c) =>
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
