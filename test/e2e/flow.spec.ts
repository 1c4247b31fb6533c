import { expect, test } from '@playwright/test';
import { ensureAdmin, hydrated, signIn } from './helpers.ts';

test.beforeEach(async ({ request }) => {
  await ensureAdmin(request);
});

test('[FLOW-4] three stages: an admin edits knowledge in Production and sees it arrive, read-only, in Staging', async ({
  page,
}) => {
  await signIn(page);
  await page.getByLabel('Name', { exact: true }).fill('KM cluster');
  await page.getByRole('radio', { name: /Three stages/ }).check();
  await page.getByRole('checkbox', { name: /sample content/ }).uncheck();
  await page.getByRole('button', { name: 'Create project' }).click();
  const columns = page.getByTestId('env-column');
  await expect(columns).toHaveCount(3);
  const boardUrl = page.url();

  // Production edits knowledge in its own draft: only knowledge is there.
  await columns.nth(2).getByTestId('edit-own-sections').click();
  await expect(page.getByTestId('connection-status')).toHaveAttribute(
    'data-sync-status',
    'connected',
  );
  await expect(page.getByTestId('section-knowledge')).toBeVisible();
  await expect(page.getByTestId('section-agents')).toHaveCount(0);
  await page.getByRole('button', { name: 'Create article' }).click();
  await page.getByRole('textbox', { name: 'Title', exact: true }).fill('Opening hours');

  // Staging: it arrives by itself, and cannot be changed there.
  await page.goto(boardUrl);
  await hydrated(page);
  await columns.nth(0).getByRole('link', { name: 'Open editor' }).click();
  await expect(page.getByTestId('connection-status')).toHaveAttribute(
    'data-sync-status',
    'connected',
  );
  await page.getByTestId('section-knowledge').click();
  await expect(page.getByTestId('section-flows-down')).toContainText(
    'Knowledge flows down from UAT: read-only here',
  );
  await expect(page.getByTestId('item').filter({ hasText: 'Opening hours' })).toBeVisible({
    timeout: 15_000,
  });
  await expect(page.getByRole('button', { name: /New article|Create article/ })).toHaveCount(0);
  await page.getByTestId('item').filter({ hasText: 'Opening hours' }).click();
  // Read-only fields look read-only (REV-44): the title as text, no input.
  await expect(page.locator('[data-field="title"]')).toContainText('Opening hours');
  await expect(
    page.getByTestId('item-form').locator('input, select, [contenteditable]'),
  ).toHaveCount(0);
  // Agents are Staging's own: still editable here.
  await page.getByTestId('section-agents').click();
  await expect(page.getByRole('button', { name: 'Create agent' })).toBeVisible();
});

test('[FLOW-1] [FLOW-8] a custom pipeline keeps channels in each stage; later the admin lets knowledge flow down from the last stage in project settings', async ({
  page,
}) => {
  await signIn(page);
  await page.getByLabel('Name', { exact: true }).fill(`Custom flow ${Date.now()}`);
  await page.getByRole('radio', { name: /Custom/ }).check();
  await page.getByRole('checkbox', { name: /sample content/ }).uncheck();
  await page.getByTestId('flow-rules').locator('summary').click();
  await page.getByLabel('How channels moves').selectOption('local');
  await page.getByRole('button', { name: 'Create project' }).click();
  const columns = page.getByTestId('env-column');
  await expect(columns).toHaveCount(3);
  // Every later stage edits its own channels.
  await expect(columns.nth(2).getByTestId('edit-own-sections')).toContainText('Edit channels here');
  const boardUrl = page.url();

  await page.goto(`${boardUrl}/members/rules`);
  await hydrated(page);
  const card = page.getByTestId('flow-rules-card');
  await card.getByLabel('How knowledge moves').selectOption('down');
  await card.getByLabel('Where knowledge is set up').selectOption({ label: 'Production' });
  await card.getByRole('button', { name: 'Save flow rules' }).click();
  await expect(card.getByRole('status')).toContainText('Flow rules saved.');

  // Production now edits knowledge and channels; the first stage shows knowledge read-only.
  await page.goto(boardUrl);
  await hydrated(page);
  await expect(columns.nth(2).getByTestId('edit-own-sections')).toContainText(
    'Edit knowledge, channels here',
  );
  await columns.nth(0).getByRole('link', { name: 'Open editor' }).click();
  await page.getByTestId('section-knowledge').click();
  await expect(page.getByTestId('section-flows-down')).toContainText('read-only here');
});

test('[FLOW-6] Production pulls one article tested in UAT: only that one arrives, and the history opens the pull as a diff', async ({
  page,
  baseURL,
}) => {
  await signIn(page);
  await page.getByLabel('Name', { exact: true }).fill(`Pull ${Date.now()}`);
  await page.getByRole('radio', { name: /Three stages/ }).check();
  await page.getByRole('checkbox', { name: /sample content/ }).uncheck();
  await page.getByRole('button', { name: 'Create project' }).click();
  const columns = page.getByTestId('env-column');
  await expect(columns).toHaveCount(3);
  const project = await (
    await page.request.get(`/api/projects/${page.url().split('/').pop()}`)
  ).json();
  const [, uat] = project.environments as { id: string }[];
  const article = (title: string) => ({ title, body: `${title}.`, tags: [], audiences: [] });
  const put = await page.request.put(`/api/environments/${uat!.id}/content`, {
    data: {
      knowledge: {
        kb_ready: article('Ready for customers'),
        kb_review: article('Still in review'),
      },
    },
    headers: { origin: baseURL! },
  });
  expect(put.status()).toBe(200);

  await columns.nth(2).getByTestId('edit-own-sections').click();
  const panel = page.getByTestId('pull-panel');
  await panel.locator('summary').click();
  await panel.getByRole('checkbox', { name: /Ready for customers/ }).check();
  await panel.getByRole('button', { name: 'Pull 1 article' }).click();
  await expect(panel.getByRole('status')).toHaveText('Pulled 1 article from UAT.');
  await expect(page.getByTestId('item').filter({ hasText: 'Ready for customers' })).toBeVisible();
  await expect(page.getByTestId('item').filter({ hasText: 'Still in review' })).toHaveCount(0);

  await page.goto(`${page.url().split('?')[0]}?tab=history`);
  await page.getByTestId('history-changes').first().click();
  await expect(page.getByRole('heading', { name: /^Pulled/ })).toBeVisible();
  await expect(page.getByTestId('diff-summary')).toHaveText('1 article added');
  await expect(page.getByText('Ready for customers').first()).toBeVisible();
});

test('[FLOW-5] an article changed in both UAT and Production shows as a conflict in UAT; taking Production’s resolves it', async ({
  page,
  baseURL,
}) => {
  await signIn(page);
  await page.getByLabel('Name', { exact: true }).fill(`Conflict ${Date.now()}`);
  await page.getByRole('radio', { name: /Three stages/ }).check();
  await page.getByRole('checkbox', { name: /sample content/ }).uncheck();
  await page.getByRole('button', { name: 'Create project' }).click();
  await expect(page.getByTestId('env-column')).toHaveCount(3);
  const project = await (
    await page.request.get(`/api/projects/${page.url().split('/').pop()}`)
  ).json();
  const [, uat, production] = project.environments as { id: string }[];
  const put = async (envId: string, body: string) =>
    expect(
      (
        await page.request.put(`/api/environments/${envId}/content`, {
          data: { knowledge: { kb_refunds: { title: 'Refunds', body, tags: [], audiences: [] } } },
          headers: { origin: baseURL! },
        })
      ).status(),
    ).toBe(200);
  const bodyIn = async (envId: string) =>
    (
      (await (await page.request.get(`/api/environments/${envId}/content`)).json()) as {
        knowledge: Record<string, { body: string }>;
      }
    ).knowledge.kb_refunds?.body;
  await put(production!.id, 'Within 30 days.');
  await expect.poll(() => bodyIn(uat!.id), { timeout: 15_000 }).toBe('Within 30 days.');
  await put(uat!.id, 'UAT: within 30 days.');
  await put(production!.id, 'Production: within 45 days.');

  await page.goto(`${page.url()}/environments/${uat!.id}?tab=editor`);
  const conflict = page.getByTestId('conflict');
  await expect(conflict).toContainText('Refunds', { timeout: 15_000 });
  await conflict.getByRole('button', { name: /Take Production/ }).click();
  await expect(page.getByTestId('conflict')).toHaveCount(0);
  await expect.poll(() => bodyIn(uat!.id)).toBe('Production: within 45 days.');
});
