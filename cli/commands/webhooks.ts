import { str, type Context } from '../context.ts';
import { CliError, usage } from '../errors.ts';

/**
 * `webhooks list | create --url U [--events a,b|*] [--description d] | test <id> |
 * deliveries <id> [--limit N] | redeliver <id> <deliveryId>` (CLI-14): a project's signed webhook
 * endpoints (project admins). `create` prints the signing secret once on stdout (in `result.secret`
 * with `--json`), never on stderr. Endpoint ids may be given by a unique prefix.
 */
export async function webhooks(ctx: Context): Promise<number> {
  const [sub, id, deliveryId] = ctx.positionals;
  const subs = ['list', 'create', 'test', 'deliveries', 'redeliver'];
  if (!sub || !subs.includes(sub))
    throw usage(
      'webhooks list | create --url U [--events a,b] | test <id> | deliveries <id> | redeliver <id> <delivery id>',
    );
  ctx.out.command = `webhooks ${sub}`;
  const project = await ctx.project();
  const { webhooks: endpoints } = await ctx.api.get('/api/projects/{id}/webhooks', {
    path: { id: project.id },
  });
  if (sub === 'list') {
    for (const w of endpoints)
      ctx.out.say(
        `${w.id}  ${w.url}  ${w.events.join(',')}${w.enabled ? '' : ` (disabled: ${w.disabledReason ?? 'manual'})`}`,
      );
    if (!endpoints.length) ctx.out.say(`${project.name} has no webhooks.`);
    return ctx.out.done({ webhooks: endpoints });
  }
  if (sub === 'create') {
    const url = str(ctx, 'url');
    if (!url)
      throw usage(
        'webhooks create --url <https://receiver> [--events a,b] (default: every event, *)',
      );
    const events = (str(ctx, 'events') ?? '*')
      .split(',')
      .map((e) => e.trim())
      .filter(Boolean);
    const description = str(ctx, 'description');
    const r = await ctx.api.write(
      'POST',
      '/api/projects/{id}/webhooks',
      'webhook-create',
      { path: { id: project.id } },
      { url, events, ...(description ? { description } : {}) },
    );
    ctx.out.say(
      `Webhook ${r.webhook.id} created for ${r.webhook.url}: its signing secret is on stdout (shown once).`,
    );
    ctx.out.value(r.secret);
    return ctx.out.done({ webhook: r.webhook, secret: r.secret });
  }
  if (!id) throw usage(`webhooks ${sub} <webhook id>`);
  const hits = endpoints.filter((w) => w.id === id || w.id.startsWith(id));
  if (hits.length > 1)
    throw new CliError(
      'ambiguous',
      `"${id}" matches ${hits.length} webhooks: give more of the id.`,
    );
  const webhookId = hits[0]?.id ?? id;
  if (sub === 'test') {
    const r = await ctx.api.write('POST', '/api/webhooks/{id}/test', 'webhook-test', {
      path: { id: webhookId },
    });
    ctx.out.say(`Test delivery ${r.delivery.id} queued (webhook-id ${r.delivery.messageId}).`);
    return ctx.out.done(r);
  }
  if (sub === 'deliveries') {
    const limit = str(ctx, 'limit');
    const r = await ctx.api.get('/api/webhooks/{id}/deliveries', {
      path: { id: webhookId },
      query: limit ? { limit } : {},
    });
    for (const d of r.deliveries) {
      const last = d.attempts.at(-1);
      ctx.out.say(
        `${d.id}  ${d.createdAt}  ${d.event.padEnd(24)} ${d.state}${last ? ` (${last.status ?? last.error ?? 'no answer'}, ${d.attempts.length} attempt${d.attempts.length === 1 ? '' : 's'})` : ''}`,
      );
    }
    if (!r.deliveries.length) ctx.out.say('No deliveries yet.');
    return ctx.out.done(r);
  }
  if (!deliveryId) throw usage('webhooks redeliver <webhook id> <delivery id>');
  const r = await ctx.api.write(
    'POST',
    '/api/webhooks/{id}/deliveries/{deliveryId}/redeliver',
    'webhook-redeliver',
    { path: { id: webhookId, deliveryId } },
  );
  ctx.out.say(`Delivery ${deliveryId} queued again (webhook-id ${r.delivery.messageId}).`);
  return ctx.out.done(r);
}
