import dns from 'node:dns';
import net from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import type {
  WebhookCreated,
  WebhookDeliveriesView,
  WebhookDeliveryResult,
} from '#schema/api/webhooks.ts';
import {
  DELIVERIES_KEPT_PER_WEBHOOK,
  LOOKUPS_IN_FLIGHT,
  MANUAL_SENDS_BURST,
  SENDS_PER_PROJECT,
  publicAddress,
  send,
} from '#server/domain/webhooks.ts';
import {
  adminOf,
  inProcessInstance,
  newProject,
  newUser,
  type Client,
} from '../helpers/fixture.ts';
import { testServer } from '../helpers/server.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { webhookReceiver } from '../helpers/webhook-receiver.ts';

/**
 * Red team on signed webhooks (SEC-39 … SEC-45): IPv6 forms that reach the host, plain http
 * after the flag is off, one project's slow receivers against everyone's sends, test and
 * redeliver as a POST cannon, and what the page shows of a URL or description.
 */
const cleanup = cleanupAfterEach();

type Err = { error: { id: string; message: string } };

const create = (api: Client, projectId: string, body: Record<string, unknown>) =>
  api.call<WebhookCreated & Err>('POST', `/api/projects/${projectId}/webhooks`, {
    events: ['*'],
    ...body,
  });

describe('SEC-39 … SEC-45 webhooks red team', () => {
  it('[SEC-39] IPv6 outside global unicast (IPv4-compatible ::7f00:1, the rest of ::/8) is not a public address', async () => {
    for (const a of ['::7f00:1', '::127.0.0.1', '::a9fe:a9fe', '::a00:1', '::2', '1::1', '400::1'])
      expect(publicAddress(a), a).toBe(false);
    for (const a of ['2606:4700:4700::1111', '2a00:1450:4001::200e', '93.184.216.34'])
      expect(publicAddress(a), a).toBe(true);
    const server = await testServer(cleanup);
    const admin = await adminOf(server.url);
    const project = await newProject(admin);
    for (const url of [
      'https://[::127.0.0.1]/hook',
      'https://[::7f00:1]/',
      'https://[::a9fe:a9fe]/',
    ]) {
      const r = await create(admin, project.id, { url });
      expect([r.status, r.body.error?.id], url).toEqual([422, 'webhook_url_not_allowed']);
    }
  });

  it('[SEC-40] without WEBHOOK_ALLOW_PRIVATE a send to a plain http URL is refused before any connection', async () => {
    const r = await send('http://93.184.216.34:9/hook', {}, '{}', {
      timeoutMs: 2000,
      allowPrivate: false,
    });
    expect(r).toEqual({ status: null, error: 'https required', excerpt: null });
  });

  it('[SEC-41] one project with many slow receivers holds at most SENDS_PER_PROJECT sends; another project still gets its delivery', async () => {
    const server = await testServer(cleanup, {
      WEBHOOK_ALLOW_PRIVATE: '1',
      WEBHOOK_TIMEOUT_MS: '10000',
    });
    const admin = await adminOf(server.url);
    const a = await newProject(admin, { name: 'Slow receivers' });
    const b = await newProject(admin, { name: 'Other team' });
    const receiver = await webhookReceiver(cleanup);
    receiver.answer((r) => (r.url.startsWith('/slow') ? 'hold' : { status: 200 }));
    // Enough slow endpoints for every slot of the process (8 = 4 endpoints × 2 sends each).
    for (let i = 0; i < 4; i++) {
      const h = (await create(admin, a.id, { url: `${receiver.url}/slow${i}` })).body;
      for (let k = 0; k < 2; k++) await admin.ok('POST', `/api/webhooks/${h.webhook.id}/test`);
    }
    await receiver.nth(SENDS_PER_PROJECT);
    const other = (await create(admin, b.id, { url: `${receiver.url}/other` })).body;
    await admin.ok('POST', `/api/webhooks/${other.webhook.id}/test`);
    const next = await Promise.race([
      receiver.nth(SENDS_PER_PROJECT + 1),
      new Promise<null>((resolve) => setTimeout(() => resolve(null), 4000)),
    ]);
    expect(next?.url).toBe('/other');
    expect(receiver.received.filter((r) => r.url.startsWith('/slow'))).toHaveLength(
      SENDS_PER_PROJECT,
    );
    receiver.answer(() => ({ status: 200 }));
    receiver.release();
    await expect
      .poll(() => receiver.received.filter((r) => r.url.startsWith('/slow')).length, {
        timeout: 10_000,
      })
      .toBe(8);
  });

  it('[SEC-42] test events and redeliveries to one endpoint are a burst of MANUAL_SENDS_BURST, then 429 rate_limited with Retry-After', async () => {
    const server = await testServer(cleanup, { WEBHOOK_ALLOW_PRIVATE: '1' });
    const admin = await adminOf(server.url);
    const project = await newProject(admin);
    const receiver = await webhookReceiver(cleanup);
    const { webhook } = (await create(admin, project.id, { url: `${receiver.url}/victim` })).body;
    const first = await admin.ok<WebhookDeliveryResult>('POST', `/api/webhooks/${webhook.id}/test`);
    for (let i = 1; i < MANUAL_SENDS_BURST; i++)
      await admin.ok(
        'POST',
        `/api/webhooks/${webhook.id}/deliveries/${first.delivery.id}/redeliver`,
      );
    for (const path of [
      `/api/webhooks/${webhook.id}/test`,
      `/api/webhooks/${webhook.id}/deliveries/${first.delivery.id}/redeliver`,
    ]) {
      const r = await admin.raw(path, {
        method: 'POST',
        headers: { authorization: `Bearer ${admin.token}` },
      });
      expect([r.status, ((await r.json()) as Err).error.id], path).toEqual([429, 'rate_limited']);
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    // Another endpoint has its own allowance.
    const { webhook: second } = (await create(admin, project.id, { url: `${receiver.url}/other` }))
      .body;
    await admin.ok('POST', `/api/webhooks/${second.id}/test`);
    const queued = await admin.ok<WebhookDeliveriesView>(
      'GET',
      `/api/webhooks/${webhook.id}/deliveries?limit=100`,
    );
    expect(queued.deliveries).toHaveLength(MANUAL_SENDS_BURST);
  });

  it('[SEC-43] a URL is stored as parsed (bidi controls percent-encoded, IDN as xn--) and a description with bidi or control characters is refused', async () => {
    const server = await testServer(cleanup);
    const admin = await adminOf(server.url);
    const project = await newProject(admin);
    const rlo = '\u202e';
    const made = await create(admin, project.id, {
      url: `https://93.184.216.34/${rlo}gpj.exe?x=${rlo}`,
    });
    expect(made.status).toBe(201);
    expect(made.body.webhook.url).not.toContain(rlo);
    expect(made.body.webhook.url).toBe('https://93.184.216.34/%E2%80%AEgpj.exe?x=%E2%80%AE');
    const idn = await admin.call<Err & { webhook: { url: string } }>(
      'PATCH',
      `/api/webhooks/${made.body.webhook.id}`,
      { url: 'https://bücher.example/b' },
    );
    expect(idn.body.webhook.url).toBe('https://xn--bcher-kva.example/b');
    // Percent-encoding makes a URL longer: the stored form is bounded too.
    const long = await create(admin, project.id, {
      url: `https://93.184.216.34/${rlo.repeat(1000)}`,
    });
    expect([long.status, long.body.error.id]).toEqual([400, 'invalid_body']);
    for (const description of [`Billing ${rlo}gnp.exe`, 'a\u2066b', 'bell\u0007']) {
      const r = await create(admin, project.id, { url: 'https://93.184.216.34/', description });
      expect([r.status, r.body.error.id], JSON.stringify(description)).toEqual([
        400,
        'invalid_body',
      ]);
      const p = await admin.call<Err>('PATCH', `/api/webhooks/${made.body.webhook.id}`, {
        description,
      });
      expect(p.status).toBe(400);
    }
    const ok = await create(admin, project.id, {
      url: 'https://93.184.216.34/',
      description: 'Line one\nline two\tand a tab — עברית is fine',
    });
    expect(ok.status).toBe(201);
  });

  it('[SEC-45] a hostile receiver cannot hold a send past its deadline nor make it read more than 1 KB: trickled headers, endless 1xx, an endless body', async () => {
    const sockets: net.Socket[] = [];
    const server = net.createServer();
    const behaviours: Record<string, (s: net.Socket) => void> = {
      // One header byte every 50 ms: never a whole head.
      trickle: (s) => {
        const head = 'HTTP/1.1 200 OK\r\nx-slow: ' + 'a'.repeat(1000);
        let i = 0;
        const t = setInterval(() => (i < head.length ? s.write(head[i++]!) : clearInterval(t)), 50);
        s.on('close', () => clearInterval(t));
      },
      // 102 Processing, again and again.
      informational: (s) => {
        const t = setInterval(() => s.write('HTTP/1.1 102 Processing\r\n\r\n'), 50);
        s.on('close', () => clearInterval(t));
      },
      // A 200 whose body never ends (as if 2 GB).
      endless: (s) => {
        s.write('HTTP/1.1 200 OK\r\ncontent-length: 2147483648\r\n\r\n');
        const chunk = Buffer.alloc(64 * 1024, 120);
        const t = setInterval(() => s.write(chunk), 5);
        s.on('close', () => clearInterval(t));
      },
    };
    server.on('connection', (socket) => {
      sockets.push(socket);
      socket.on('error', () => {});
      socket.once('data', (d: Buffer) => {
        const kind = /^POST \/(\w+)/.exec(d.toString())?.[1] ?? '';
        behaviours[kind]?.(socket);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanup.push(
      () =>
        new Promise<void>((resolve) => {
          for (const s of sockets) s.destroy();
          server.close(() => resolve());
        }),
    );
    const port = (server.address() as net.AddressInfo).port;
    const opts = { timeoutMs: 700, allowPrivate: true };
    for (const kind of ['trickle', 'informational']) {
      const t0 = performance.now();
      const r = await send(`http://127.0.0.1:${port}/${kind}`, {}, '{}', opts);
      expect(r.error, kind).toMatch(/^timeout after/);
      expect(performance.now() - t0, kind).toBeLessThan(1500);
    }
    const t0 = performance.now();
    const r = await send(`http://127.0.0.1:${port}/endless`, {}, '{}', opts);
    expect(r.status).toBe(200);
    expect(Buffer.byteLength(r.excerpt ?? '')).toBeLessThanOrEqual(1024);
    expect(performance.now() - t0).toBeLessThan(700);
    // Every socket the sends opened is closed by our side.
    await expect.poll(() => sockets.every((s) => s.destroyed || s.readableEnded)).toBe(true);
  });

  it('[SEC-44] a project admin who may not read PRODUCTION may grant themselves that right (audited), so an endpoint gets every stage’s events; the payload stays thin', async () => {
    const server = await testServer(cleanup, { WEBHOOK_ALLOW_PRIVATE: '1' });
    const admin = await adminOf(server.url);
    const project = await newProject(admin, { sample: true });
    const [dev, , , , prod] = project.environments.map((e) => e.id) as string[];
    const pa = await newUser(admin, 'dev-admin@example.com', 'Dev admin');
    await admin.ok('PUT', `/api/projects/${project.id}/members/${pa.id}`, {
      roles: { [dev!]: ['project_admin'] },
    });
    const denied = await pa.call<Err>('GET', `/api/environments/${prod}/history`);
    expect(denied.status).toBe(403);
    // What a webhook could tell them, they may take openly: the grant is theirs to make.
    await pa.ok('PUT', `/api/projects/${project.id}/members/${pa.id}`, {
      roles: { [dev!]: ['project_admin'], [prod!]: ['viewer'] },
    });
    expect((await pa.call('GET', `/api/environments/${prod}/history`)).status).toBe(200);
  });

  it('[SEC-45] names on a slow DNS server hold at most LOOKUPS_IN_FLIGHT lookups of the thread pool; the sends still end on time', async () => {
    const stuck: (() => void)[] = [];
    let inFlight = 0;
    let most = 0;
    const spy = vi.spyOn(dns.promises, 'lookup').mockImplementation((() => {
      inFlight++;
      most = Math.max(most, inFlight);
      return new Promise((resolve) =>
        stuck.push(() => {
          inFlight--;
          resolve([{ address: '127.0.0.1', family: 4 }]);
        }),
      );
    }) as unknown as typeof dns.promises.lookup);
    const unstick = () => {
      for (const f of stuck.splice(0)) f();
    };
    cleanup.push(() => {
      unstick();
      spy.mockRestore();
    });
    const opts = { timeoutMs: 300, allowPrivate: false };
    const t0 = performance.now();
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) => send(`https://slow${i}.example/`, {}, '{}', opts)),
    );
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(most).toBe(LOOKUPS_IN_FLIGHT);
    for (const r of results)
      expect(r.error).toMatch(/^timeout after 0\.3 s$|^cannot resolve .* within 300 ms/);
    // Once the stuck lookups end, their slots are free again.
    unstick();
    const next = send('https://next.example/', {}, '{}', opts);
    await expect.poll(() => stuck.length).toBe(1);
    unstick();
    expect((await next).error).toBe('address not allowed');
  });

  it('[SEC-42] an endpoint keeps at most DELIVERIES_KEPT_PER_WEBHOOK settled deliveries: the oldest go, pending ones stay', async () => {
    const api = await inProcessInstance({ WEBHOOK_ALLOW_PRIVATE: '1' });
    cleanup.push(() => api.close());
    const project = await newProject(api);
    const { webhook } = await api.ok<WebhookCreated>(
      'POST',
      `/api/projects/${project.id}/webhooks`,
      { url: 'http://127.0.0.1:9/hook', events: ['*'] },
    );
    const db = api.services.stored;
    // Months of a busy project's deliveries, all sent (and a few still waiting).
    const extra = 300;
    await db.run(
      `INSERT INTO webhook_deliveries
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < CAST(? AS INTEGER))
         SELECT 'whd_old_' || i, CAST(? AS TEXT), CAST(? AS TEXT), 'msg_old_' || i, 'webhook.test', '{}',
                CASE WHEN i <= 3 THEN 'pending' ELSE 'succeeded' END, '[]',
                CASE WHEN i <= 3 THEN CAST(9e15 AS BIGINT) ELSE NULL END, NULL, CAST(? AS BIGINT) + i FROM n`,
      DELIVERIES_KEPT_PER_WEBHOOK + extra + 3,
      webhook.id,
      project.id,
      Date.now() - 86_400_000,
    );
    await api.ok('POST', `/api/webhooks/${webhook.id}/test`);
    const count = async (state: string) =>
      (await db.get<{ n: number }>(
        `SELECT count(*) AS n FROM webhook_deliveries WHERE webhook_id = ? AND state = ?`,
        webhook.id,
        state,
      ))!.n;
    expect(await count('succeeded')).toBe(DELIVERIES_KEPT_PER_WEBHOOK);
    expect(await count('pending')).toBe(4);
    // The newest stayed.
    const oldest = (await db.get<{ i: number }>(
      `SELECT min(CAST(substr(id, 9) AS INTEGER)) AS i FROM webhook_deliveries WHERE webhook_id = ? AND state = 'succeeded'`,
      webhook.id,
    ))!;
    expect(oldest.i).toBe(extra + 4);
  });
});
