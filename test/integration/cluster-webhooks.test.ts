import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ProjectView } from '#schema/api.ts';
import type { WebhookCreated, WebhookDeliveryView } from '#schema/api/webhooks.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import {
  printOnFailure,
  startCluster,
  type Cluster,
  type ClusterNode,
} from '../helpers/cluster.ts';
import { newProject, overTheWire } from '../helpers/fixture.ts';
import { pgClusterEnv } from '../helpers/pg-cluster.ts';
import { startPostgres } from '../helpers/postgres.ts';
import { pidOwningPort } from '../helpers/process.ts';
import { startRedis } from '../helpers/redis.ts';
import { setupAdmin, type Admin } from '../helpers/server.ts';
import { webhookReceiver, type Received } from '../helpers/webhook-receiver.ts';

/**
 * Webhook deliveries with several processes on one PostgreSQL (PG-171, PG-175, PG-176): three
 * real server processes, one outbox, a real receiver on loopback.
 */
const shared: (() => unknown)[] = [];
let cluster: Cluster;
/** One attempt's deadline: a claim lasts this plus 3 s (the worker's lease). */
const TIMEOUT_MS = 3000;
beforeAll(async () => {
  const pg = await startPostgres(shared);
  const redis = await startRedis(shared);
  cluster = await startCluster(shared, {
    nodes: 3,
    env: {
      ...pgClusterEnv(pg.url, redis.url),
      WEBHOOK_ALLOW_PRIVATE: '1',
      WEBHOOK_TIMEOUT_MS: String(TIMEOUT_MS),
      WEBHOOK_RETRY_SCHEDULE_MS: '200',
    },
  });
}, 120_000);
afterAll(async () => {
  for (const f of shared.splice(0).reverse()) await f();
});
const cleanup = cleanupAfterEach();
beforeEach(() => printOnFailure(cluster));

let admin: Admin;
async function projectWithHook(url: string, receiverUrl: string) {
  admin ??= await setupAdmin(cluster.nodes[0]!.url);
  const api = overTheWire(url, admin.token);
  const project = await newProject(api, { name: `Hooks ${randomBytes(3).toString('hex')}` });
  const { webhook } = await api.ok<WebhookCreated>('POST', `/api/projects/${project.id}/webhooks`, {
    url: receiverUrl,
    events: ['overlay.changed'],
  });
  return { project: project as ProjectView, hookId: webhook.id };
}

/** A secret set through `node`: one `overlay.changed` delivery per endpoint of the project. */
const setSecret = (node: ClusterNode, envId: string, name: string) =>
  overTheWire(node.url, admin.token).ok('PUT', `/api/environments/${envId}/secrets/${name}`, {
    value: 'not in any payload',
  });

async function deliveriesOf(node: ClusterNode, hookId: string) {
  const { deliveries } = await overTheWire(node.url, admin.token).ok<{
    deliveries: WebhookDeliveryView[];
  }>('GET', `/api/webhooks/${hookId}/deliveries?limit=100`);
  return deliveries;
}

/** The node whose process sent a request still being read (by the sender's port, in /proc). */
function senderOf(r: Received): string {
  const nodes = cluster.nodes;
  const pid = pidOwningPort(
    r.remotePort,
    nodes.map((n) => n.pid()),
  );
  return nodes.find((n) => n.pid() === pid)?.id ?? 'unknown';
}

const idOf = (r: Received) => r.headers['webhook-id'] as string;

describe('PG-175, PG-176: webhook deliveries with several processes', () => {
  // PG-176 first, on processes that have sent nothing yet: none of them has a timer left from an
  // earlier delivery, so only polling or the bus can make another process send it.
  it('PG-171 PG-176 kill -9 of the process sending a delivery while the receiver holds the request open: another process, which never saw it queued, sends it, with the same webhook-id, once the claim ran out', async () => {
    const receiver = await webhookReceiver(cleanup);
    const senders: string[] = [];
    receiver.answer((r, n) => {
      senders.push(senderOf(r));
      return n === 1 ? 'hold' : { status: 200 };
    });
    const { project, hookId } = await projectWithHook(cluster.nodes[0]!.url, receiver.url);
    await setSecret(cluster.nodes[0]!, project.environments[0]!.id, 'HELD');
    const first = await receiver.nth(1);
    const holder = cluster.nodes.find((n) => n.id === senders[0])!;
    expect(holder).toBeDefined();
    const claimedAt = performance.now();
    await holder.kill();
    // Back for the next test, also when this one fails.
    cleanup.push(() => holder.restart());
    const alive = cluster.nodes.filter((n) => n !== holder);

    const second = await receiver.nth(2);
    const waited = performance.now() - claimedAt;
    expect(idOf(second)).toBe(idOf(first));
    expect(second.body).toBe(first.body);
    expect(senders[1]).not.toBe(holder.id);
    expect(alive.map((n) => n.id)).toContain(senders[1]);
    // Not before the claim ran out (its lease: the attempt's deadline plus 3 s).
    expect(waited).toBeGreaterThan(TIMEOUT_MS);
    await expect
      .poll(async () => (await deliveriesOf(alive[0]!, hookId))[0]?.state, { timeout: 20_000 })
      .toBe('succeeded');
    // The dead process's attempt was never recorded: one attempt, the one that was answered.
    const [delivery] = await deliveriesOf(alive[1]!, hookId);
    expect(delivery!.attempts).toHaveLength(1);
    expect(delivery!.attempts[0]!.status).toBe(200);

    // A test delivery after it arrives third: nothing else of the first was sent meanwhile.
    await overTheWire(alive[0]!.url, admin.token).ok('POST', `/api/webhooks/${hookId}/test`, {});
    const third = await receiver.nth(3);
    expect(JSON.parse(third.body)).toMatchObject({ type: 'webhook.test' });
    expect(receiver.received.filter((r) => idOf(r) === idOf(first))).toHaveLength(2);
  }, 90_000);

  it('PG-175 deliveries of changes made through three processes at once are each received exactly once, none missing', async () => {
    const receiver = await webhookReceiver(cleanup);
    const senders: string[] = [];
    receiver.answer((r) => {
      senders.push(senderOf(r));
      return { status: 200 };
    });
    const { project, hookId } = await projectWithHook(cluster.nodes[0]!.url, receiver.url);
    const PER_NODE = 8;
    await Promise.all(
      cluster.nodes.map(async (node, i) => {
        for (let k = 0; k < PER_NODE; k++)
          await setSecret(node, project.environments[i]!.id, `KEY_${node.id}_${k}`.toUpperCase());
      }),
    );
    const total = PER_NODE * cluster.nodes.length;
    await receiver.nth(total);
    // Every delivery is settled as sent once; a settled one is never claimed again.
    await expect
      .poll(
        async () =>
          (await deliveriesOf(cluster.nodes[2]!, hookId)).filter(
            (d) => d.state === 'succeeded' && d.attempts.length === 1,
          ).length,
        { timeout: 20_000 },
      )
      .toBe(total);
    const deliveries = await deliveriesOf(cluster.nodes[1]!, hookId);
    expect(deliveries).toHaveLength(total);
    const ids = receiver.received.map(idOf);
    expect(new Set(ids).size).toBe(total);
    expect(ids.sort()).toEqual(deliveries.map((d) => d.messageId).sort());
    expect(senders).not.toContain('unknown');
    console.log(
      `PG-175: ${total} deliveries sent by ${JSON.stringify(
        Object.fromEntries(
          cluster.nodes.map((n) => [n.id, senders.filter((s) => s === n.id).length]),
        ),
      )}`,
    );
  }, 90_000);
});
