import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect, test, type Page } from '@playwright/test';
import { Webhook } from 'standardwebhooks';
import { admin, ensureAdmin, hydrated, signIn, shot } from './helpers.ts';

/**
 * WH-20 … WH-24: the webhooks page. A receiver on 127.0.0.1 (node:http, port 0) stands for CI; the
 * browser tests' server allows private receivers (WEBHOOK_ALLOW_PRIVATE in playwright.config.ts).
 */

interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A receiver that keeps what it gets and answers `status` (changeable between deliveries). */
async function receiver() {
  const got: Received[] = [];
  const state = { status: 204 };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      got.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(state.status, { 'content-type': 'text/plain' });
      res.end(state.status === 410 ? 'this hook is gone' : '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/stagecoach`,
    got,
    state,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function newProject(page: Page, baseURL: string, name: string) {
  const res = await page.request.post('/api/projects', {
    data: { name },
    headers: { origin: baseURL },
  });
  expect(res.status()).toBe(201);
  return (await res.json()) as { id: string; environments: { id: string; name: string }[] };
}

async function noSidewaysScroll(page: Page) {
  const wide = await page.evaluate(() => document.documentElement.scrollWidth);
  expect(wide).toBeLessThanOrEqual(390);
}

test('[WH-20] [WH-21] [WH-22] [WH-23] [WH-24] an admin adds an endpoint, sees its secret once, sends a test event the receiver gets and verifies, and the delivery shows succeeded', async ({
  page,
  context,
  baseURL,
}) => {
  const hook = await receiver();
  try {
    await ensureAdmin(page.request);
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: baseURL! });
    await page.setViewportSize({ width: 1366, height: 900 });
    await signIn(page);
    const project = await newProject(page, baseURL!, `Webhooks ${Date.now()}`);

    // Reached from the team's tabs, beside People, Stages and Rules.
    await page.goto(`/projects/${project.id}/members`);
    await hydrated(page);
    const tabs = page.getByRole('navigation', { name: 'Team' });
    await expect(tabs.getByRole('link')).toHaveText(['People', 'Stages', 'Rules', 'Webhooks']);
    await tabs.getByRole('link', { name: 'Webhooks' }).click();
    await expect(page.getByRole('heading', { name: 'Add an endpoint' })).toBeVisible();
    await expect(page.getByTestId('webhook-list')).toContainText('No endpoints yet');

    // The form checks what it can before sending.
    const form = page.getByTestId('webhook-form');
    await form.getByLabel('Receiver URL').fill('ci.example.com/hooks');
    await form.getByRole('button', { name: 'Add endpoint' }).click();
    await expect(form.getByRole('alert')).toContainText('full URL');

    // Two events from the checklist instead of "All events".
    await form.getByLabel('Receiver URL').fill(hook.url);
    await form.getByLabel('Description').fill('Run the evals in CI');
    await form.getByRole('checkbox', { name: /All events/ }).uncheck();
    await form.getByRole('checkbox', { name: /snapshot\.created/ }).check();
    await form.getByRole('checkbox', { name: /environment\.published/ }).check();
    await shot(page, 'form-1366', { fullPage: true });
    await form.getByRole('button', { name: 'Add endpoint' }).click();

    // The secret, once, with a copy button and the words that it will not be shown again.
    const fresh = page.getByTestId('webhook-secret');
    await expect(fresh).toContainText('will not be shown again');
    const secret = (await page.getByTestId('webhook-secret-value').textContent())!.trim();
    expect(secret).toMatch(/^whsec_/);
    await fresh.getByRole('button', { name: 'Copy' }).click();
    await expect(fresh.getByRole('button', { name: 'Copied' })).toBeVisible();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(secret);

    const row = page.getByTestId('webhook-row').filter({ hasText: hook.url });
    await expect(row).toContainText('Run the evals in CI');
    await expect(row).toContainText('Events: snapshot.created, environment.published');
    await expect(row.getByTestId('webhook-status')).toHaveText('Receiving');
    await expect(row.getByTestId('webhook-last')).toHaveText('Nothing delivered yet');
    await shot(page, 'created-1366', { fullPage: true });

    // A test event: the receiver gets it, signed; the page shows it succeeded without a reload.
    await row.getByRole('button', { name: 'Send test event' }).click();
    await expect(row.getByRole('status')).toContainText('Test event sent');
    await expect.poll(() => hook.got.length).toBe(1);
    const first = hook.got[0]!;
    const verified = new Webhook(secret).verify(first.body, {
      'webhook-id': String(first.headers['webhook-id']),
      'webhook-timestamp': String(first.headers['webhook-timestamp']),
      'webhook-signature': String(first.headers['webhook-signature']),
    }) as { type: string; data: { projectId: string } };
    expect(verified.type).toBe('webhook.test');
    expect(verified.data.projectId).toBe(project.id);
    const delivery = row.getByTestId('delivery-row').first();
    await expect(delivery).toContainText('webhook.test');
    await expect(delivery.getByTestId('delivery-state')).toHaveText('succeeded');
    await expect(delivery).toContainText('answered 204');
    await expect(row.getByTestId('webhook-last')).toContainText('webhook.test, succeeded');
    // Its details: the webhook-id a receiver logs, each attempt with its status and duration.
    await delivery.locator('summary').click();
    await expect(delivery).toContainText(`webhook-id ${String(first.headers['webhook-id'])}`);
    await expect(delivery).toContainText(/Attempt 1, .*answered 204 in \d/);
    await shot(page, 'delivered-1366', { fullPage: true });

    // Redeliver sends the same message again (same webhook-id).
    await delivery.getByRole('button', { name: /Redeliver/ }).click();
    await expect.poll(() => hook.got.length).toBe(2);
    expect(hook.got[1]!.headers['webhook-id']).toBe(first.headers['webhook-id']);

    // A change elsewhere (a Sync through the API) is delivered and shows here without a reload:
    // the page follows the project's events.
    const sync = await page.request.post(`/api/environments/${project.environments[0]!.id}/sync`, {
      data: { message: 'Evals, please' },
      headers: { origin: baseURL! },
    });
    expect(sync.status()).toBe(200);
    await expect
      .poll(() => hook.got.map((g) => (JSON.parse(g.body) as { type: string }).type))
      .toEqual(['webhook.test', 'webhook.test', 'snapshot.created']);
    await expect(row.getByTestId('webhook-last')).toContainText('snapshot.created, succeeded');
    await expect(row.getByTestId('delivery-row').first()).toContainText('snapshot.created');

    // No internal id is shown: not the endpoint's, not a delivery's.
    const ids = (await (await page.request.get(`/api/projects/${project.id}/webhooks`)).json()) as {
      webhooks: { id: string }[];
    };
    const webhookId = ids.webhooks[0]!.id;
    const deliveries = (await (
      await page.request.get(`/api/webhooks/${webhookId}/deliveries`)
    ).json()) as { deliveries: { id: string }[] };
    const shown = await page.locator('main').innerText();
    for (const id of [project.id, webhookId, ...deliveries.deliveries.map((d) => d.id)])
      expect(shown).not.toContain(id);

    // Shown once: after a reload the secret is gone for good.
    await page.reload();
    await hydrated(page);
    await expect(row.getByTestId('webhook-last')).toContainText('snapshot.created, succeeded');
    await expect(page.getByTestId('webhook-secret')).toHaveCount(0);

    // Pause and resume, the outcome beside the buttons.
    await row.getByRole('button', { name: 'Pause' }).click();
    await expect(row.getByTestId('webhook-status')).toHaveText('Paused');
    await expect(row.getByRole('status')).toContainText('Paused: nothing is sent');
    await expect(row.getByRole('button', { name: 'Send test event' })).toBeDisabled();
    // A redelivery while paused waits, and goes out once the endpoint is resumed.
    await row.getByRole('button', { name: 'Deliveries' }).click();
    const sent = hook.got.length;
    await row
      .getByTestId('delivery-row')
      .first()
      .getByRole('button', { name: /Redeliver/ })
      .click();
    await expect(row.getByTestId('delivery-row').first()).toContainText(
      'waiting until the endpoint is resumed',
    );
    expect(hook.got.length).toBe(sent);
    await row.getByRole('button', { name: 'Resume' }).click();
    await expect(row.getByTestId('webhook-status')).toHaveText('Receiving');
    await expect.poll(() => hook.got.length).toBe(sent + 1);
    await expect(row.getByTestId('delivery-row').first().getByTestId('delivery-state')).toHaveText(
      'succeeded',
    );
    await row.getByRole('button', { name: 'Hide deliveries' }).click();

    // Editing changes the description and the events; the secret stays.
    await row.getByRole('button', { name: `Edit the endpoint ${hook.url}` }).click();
    const edit = row.getByTestId('webhook-edit');
    await expect(edit.getByLabel('Receiver URL')).toHaveValue(hook.url);
    await expect(edit.getByRole('checkbox', { name: /snapshot\.created/ })).toBeChecked();
    await edit.getByLabel('Description').fill('Evals and the regression suite');
    await edit.getByRole('checkbox', { name: /All events/ }).check();
    await shot(page, 'edit-1366', { fullPage: true });
    await edit.getByRole('button', { name: 'Save endpoint' }).click();
    await expect(row.getByRole('status')).toContainText('Saved');
    await expect(row).toContainText('Evals and the regression suite');
    await expect(row).toContainText('Events: All events');
    await expect(row.getByTestId('webhook-edit')).toHaveCount(0);

    // Rotating asks first, then shows the new secret once, on the endpoint.
    await row.getByRole('button', { name: 'Rotate secret…' }).click();
    const dialog = page.getByRole('dialog');
    await expect(dialog).toContainText('signed with both');
    await dialog.getByRole('button', { name: 'Rotate secret' }).click();
    await expect(row.getByTestId('webhook-secret')).toContainText('will not be shown again');
    const rotated = (await row.getByTestId('webhook-secret-value').textContent())!.trim();
    expect(rotated).toMatch(/^whsec_/);
    expect(rotated).not.toBe(secret);
    await row.getByRole('button', { name: 'I have stored it' }).click();
    await expect(page.getByTestId('webhook-secret')).toHaveCount(0);

    // A receiver that answers 410 Gone stops the endpoint, and the page says why.
    hook.state.status = 410;
    await row.getByRole('button', { name: 'Send test event' }).click();
    await expect(row.getByTestId('webhook-status')).toHaveText(
      'Stopped: the receiver answered 410 Gone',
    );
    // (Sending opened its deliveries.)
    await expect(row.getByTestId('delivery-row').first()).toContainText('answered 410');
    await shot(page, 'gone-1366', { fullPage: true });

    // On a phone: nothing wider than the screen.
    await page.setViewportSize({ width: 390, height: 844 });
    await row.getByTestId('delivery-row').first().locator('summary').click();
    await noSidewaysScroll(page);
    await shot(page, 'webhooks-390', { fullPage: true });

    // Deleting asks first, says it cannot be undone, then the row is gone.
    await row.getByRole('button', { name: `Delete the endpoint ${hook.url}` }).click();
    await expect(dialog).toContainText('cannot be undone');
    await shot(page, 'delete-390');
    await dialog.getByRole('button', { name: 'Delete endpoint' }).click();
    await expect(page.getByRole('status').filter({ hasText: 'is deleted' })).toBeVisible();
    await expect(row).toHaveCount(0);
  } finally {
    await hook.close();
  }
});

test('[WH-20] a member who is not a project admin sees no Webhooks link; a direct visit says who sets webhooks up and reads nothing', async ({
  page,
  browser,
  baseURL,
}) => {
  await ensureAdmin(page.request);
  await signIn(page);
  const stamp = Date.now();
  const project = await newProject(page, baseURL!, `Webhooks hidden ${stamp}`);
  const vic = {
    name: 'Vic Viewer',
    email: `vic.${stamp}@example.com`,
    password: 'maple river quiet stone',
  };
  const headers = { origin: baseURL! };
  const created = await page.request.post('/api/users', { data: vic, headers });
  expect(created.status()).toBe(201);
  const user = (await created.json()) as { id: string };
  const put = await page.request.put(`/api/projects/${project.id}/members/${user.id}`, {
    data: { roles: { '*': ['editor'] } },
    headers,
  });
  expect(put.status()).toBe(200);

  const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const other = await context.newPage();
  const asked: string[] = [];
  other.on('request', (r) => {
    if (r.url().includes('/webhooks')) asked.push(r.url());
  });
  await other.goto('/signin');
  await hydrated(other);
  await other.getByLabel('Email').fill(vic.email);
  await other.getByLabel('Password').fill(vic.password);
  await other.getByRole('button', { name: 'Sign in' }).click();
  await expect(other.getByRole('heading', { name: 'Projects' })).toBeVisible();

  await other.goto(`/projects/${project.id}/members`);
  await hydrated(other);
  const tabs = other.getByRole('navigation', { name: 'Team' });
  await expect(tabs.getByRole('link')).toHaveText(['People', 'Stages', 'Rules']);
  await expect(other.getByRole('link', { name: /Webhooks/ })).toHaveCount(0);

  await other.goto(`/projects/${project.id}/members/webhooks`);
  await hydrated(other);
  await expect(other.getByTestId('webhooks-admins-only')).toContainText(
    `Webhooks are set up by a project admin (${admin.name})`,
  );
  await expect(other.locator('main').getByRole('button')).toHaveCount(0);
  await noSidewaysScroll(other);
  await shot(other, 'not-admin-390', { fullPage: true });
  // Nothing about webhooks was asked of the server (it would refuse).
  expect(asked.filter((u) => u.includes('/api/'))).toEqual([]);
  await context.close();
});
