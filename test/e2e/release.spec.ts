import { expect, test, type Locator } from '@playwright/test';
import {
  ensureAdmin,
  hydrated,
  openItem,
  openNewProjectDraft,
  signIn,
  textbox,
} from './helpers.ts';

test.beforeEach(async ({ request }) => {
  await ensureAdmin(request);
});

/** The sample's integrations name two secrets PRODUCTION lacks: the board names them and goes ahead only when told. */
async function goAheadWithoutSecrets(column: Locator) {
  await expect(column.getByTestId('action-error')).toContainText(
    '2 secrets this content’s integrations use: HELPDESK_API_KEY, ORDERS_API_TOKEN',
  );
  await column.getByTestId('go-ahead-without-secrets').click();
}

test('[R1] a reviewer sees what moves, syncs DEV to TEST, TEST is read-only, and the release goes all the way to live', async ({
  page,
}) => {
  await signIn(page);
  const devUrl = await openNewProjectDraft(page, 'Release path', { sample: true });
  const boardUrl = devUrl.replace(/\/environments\/.*/, '');

  // The board shows what the next Sync would move, with a readable diff.
  await page.goto(boardUrl);
  await hydrated(page);
  const columns = page.getByTestId('env-column');
  await expect(columns.nth(0).getByTestId('pending-summary')).toHaveText(
    '2 agents · 2 workflows · 3 articles · 2 integrations · 2 channels · 6 variables',
  );
  await columns.nth(0).getByRole('link', { name: 'View the changes' }).click();
  await expect(page.getByRole('heading', { name: /What DEV would bring to TEST/ })).toBeVisible();
  await expect(
    page
      .getByTestId('diff-item')
      .filter({ has: page.locator('summary strong', { hasText: /^Support agent$/ }) }),
  ).toContainText('New');
  await page.goBack();

  // Sync DEV → TEST with a note; TEST now shows the snapshot and who moved it.
  await columns.nth(0).getByRole('textbox', { name: 'DEV sync note' }).fill('First release');
  await columns.nth(0).getByTestId('sync').click();
  await expect(columns.nth(1).getByTestId('pointer-current')).toContainText('First release');
  await expect(columns.nth(1).getByTestId('pointer-current')).toContainText('sync by Ada Admin');
  await expect(columns.nth(0).getByTestId('next-sync')).toContainText('TEST is up to date');

  // TEST is read-only in the UI: content shown, no editor, no way to type into it.
  await columns.nth(1).getByRole('link', { name: 'View TEST' }).click();
  await expect(page.getByTestId('env-indicator')).toContainText('Read-only');
  await expect(page.getByTestId('content-view')).toContainText('Support agent');
  await expect(page.getByTestId('draft-editor')).toHaveCount(0);
  await expect(page.locator('[contenteditable="true"]')).toHaveCount(0);
  await page.getByRole('link', { name: 'History' }).click();
  await expect(page.getByTestId('history')).toContainText('First release');

  // Onwards to production and live.
  await page.goto(boardUrl);
  for (const i of [1, 2, 3]) {
    await columns.nth(i).getByTestId('sync').click();
    if (i === 3) await goAheadWithoutSecrets(columns.nth(3));
    await expect(
      columns.nth(i + 1).getByTestId(i + 1 === 4 ? 'pointer-synced' : 'pointer-current'),
    ).toContainText('#');
  }
  await expect(columns.nth(4).getByTestId('pointer-live')).toContainText('Nothing live yet');
  await columns.nth(4).getByTestId('publish').click();
  await page.getByTestId('publish-dialog').getByTestId('confirm-reason').fill('First release');
  await page.getByTestId('publish-dialog').getByTestId('confirm-ok').click();
  await goAheadWithoutSecrets(columns.nth(4));
  await expect(columns.nth(4).getByTestId('pointer-live')).toContainText('publish by Ada Admin');
  const synced = await columns.nth(1).getByTestId('pointer-current').locator('.snap').textContent();
  await expect(columns.nth(4).getByTestId('pointer-live').locator('.snap')).toHaveText(synced!);

  // A DEV change shows up as pending again.
  await page.goto(devUrl);
  await openItem(page, 'knowledge', 'Size guide');
  await page.getByRole('textbox', { name: 'Title', exact: true }).fill('Size chart');
  await expect(page.getByTestId('connection-status')).toHaveAttribute(
    'data-sync-status',
    'connected',
  );
  await page.goto(boardUrl);
  await expect(columns.nth(0).getByTestId('pending-summary')).toHaveText('1 article');
});

test('[HOT-2] [HOT-3] [HOT-4] a hotfix in production is published, shown as divergence, and applied to DEV', async ({
  page,
}) => {
  await signIn(page);
  const devUrl = await openNewProjectDraft(page, 'Hotfix path', { sample: true });
  const boardUrl = devUrl.replace(/\/environments\/.*/, '');
  await page.goto(boardUrl);
  await hydrated(page);
  const columns = page.getByTestId('env-column');
  for (const i of [0, 1, 2, 3]) {
    await columns.nth(i).getByTestId('sync').click();
    if (i === 3) await goAheadWithoutSecrets(columns.nth(3));
    await expect(
      columns.nth(i + 1).getByTestId(i + 1 === 4 ? 'pointer-synced' : 'pointer-current'),
    ).toContainText('#');
  }
  await columns.nth(4).getByTestId('publish').click();
  await page.getByTestId('publish-dialog').getByTestId('confirm-reason').fill('First release');
  await page.getByTestId('publish-dialog').getByTestId('confirm-ok').click();
  await goAheadWithoutSecrets(columns.nth(4));
  await expect(columns.nth(4).getByTestId('pointer-live')).toContainText('publish');

  await columns.nth(4).getByRole('button', { name: 'Start a hotfix' }).click();
  await expect(page.getByTestId('env-indicator')).toContainText('Hotfix draft');
  await openItem(page, 'channels', 'Website widget');
  await textbox(page, 'Greeting').click();
  await page.keyboard.press('Control+Home');
  await page.keyboard.type('We are closed today. ');
  await expect(page.getByTestId('connection-status')).toHaveAttribute(
    'data-sync-status',
    'connected',
  );
  await page.getByTestId('hotfix-publish').click();
  await page
    .getByTestId('hotfix-publish-dialog')
    .getByTestId('confirm-reason')
    .fill('Closed today');
  await page.getByTestId('hotfix-publish-dialog').getByTestId('confirm-ok').click();
  await expect(page.getByTestId('content-view')).toBeVisible();

  await page.goto(boardUrl);
  await expect(columns.nth(4).getByTestId('pointer-live')).toContainText('hotfix');
  const banner = page.getByTestId('divergence');
  await expect(banner).toContainText('greeting');
  await banner.getByRole('button', { name: 'Apply to DEV' }).click();
  await expect(banner).toHaveCount(0);
  await page.goto(devUrl);
  await openItem(page, 'channels', 'Website widget');
  await expect(textbox(page, 'Greeting')).toContainText('We are closed today. Hi!');
});

test('[HOT-5] a promotion that would undo a live hotfix shows what it would undo and needs a confirmation', async ({
  page,
}) => {
  await signIn(page);
  const devUrl = await openNewProjectDraft(page, 'Undo guard', { sample: true });
  const boardUrl = devUrl.replace(/\/environments\/.*/, '');
  const projectId = /projects\/([^/]+)/.exec(boardUrl)![1]!;
  const project = (await (await page.request.get(`/api/projects/${projectId}`)).json()) as {
    environments: { id: string }[];
  };
  const [dev, , , , prod] = project.environments.map((e) => e.id);
  const post = (path: string, data: object = {}) =>
    page.request.post(`/api/${path}`, { data, headers: { origin: new URL(boardUrl).origin } });
  for (const env of project.environments.slice(0, 4))
    expect(
      (await post(`environments/${env.id}/sync`, { confirmMissingSecrets: true })).status(),
    ).toBe(200);
  expect(
    (await post(`environments/${prod}/publish`, { confirmMissingSecrets: true })).status(),
  ).toBe(200);
  expect((await post(`environments/${prod}/hotfix`)).status()).toBe(201);
  // The release manager edits the hotfix draft in the browser.
  await page.goto(`${boardUrl}/environments/${prod}?tab=hotfix`);
  await openItem(page, 'variables', 'max_refund_eur');
  await page.getByRole('textbox', { name: 'Default value', exact: true }).fill('20');
  await expect(page.getByTestId('connection-status')).toHaveAttribute(
    'data-sync-status',
    'connected',
  );
  await page.getByTestId('hotfix-publish').click();
  await page
    .getByTestId('hotfix-publish-dialog')
    .getByTestId('confirm-reason')
    .fill('Refund limit');
  await page.getByTestId('hotfix-publish-dialog').getByTestId('confirm-ok').click();
  await expect(page.getByTestId('content-view')).toBeVisible();

  // DEV moves on without the hotfix and the new release reaches STAGING.
  const content = (await (await page.request.get(`/api/environments/${dev}/content`)).json()) as {
    knowledge: Record<string, { title: string }>;
  };
  content.knowledge.kb_sizes!.title = 'Size chart';
  expect(
    (
      await page.request.put(`/api/environments/${dev}/content`, {
        data: content,
        headers: { origin: new URL(boardUrl).origin },
      })
    ).status(),
  ).toBe(200);
  for (const env of project.environments.slice(0, 3))
    expect((await post(`environments/${env.id}/sync`)).status()).toBe(200);

  await page.goto(boardUrl);
  await hydrated(page);
  const columns = page.getByTestId('env-column');
  await columns.nth(3).getByTestId('sync').click();
  const dialog = page.getByTestId('undo-hotfix-dialog');
  await expect(dialog).toContainText('would undo a hotfix');
  await expect(dialog).toContainText('variable “max_refund_eur”');
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await expect(columns.nth(3).getByTestId('next-sync')).toContainText('1 article');
  await columns.nth(3).getByTestId('sync').click();
  await dialog.getByRole('button', { name: 'Sync anyway' }).click();
  await goAheadWithoutSecrets(columns.nth(3));
  await expect(columns.nth(3).getByTestId('next-sync')).toContainText('PRODUCTION is up to date');
});

test('[R3] a Sync into a stage missing an audience names it, and the board creates it there and syncs', async ({
  page,
}) => {
  await signIn(page);
  const devUrl = await openNewProjectDraft(page, 'Audience path', { sample: true });
  const boardUrl = devUrl.replace(/\/environments\/.*/, '');
  const projectId = new URL(boardUrl).pathname.split('/').pop()!;
  const origin = { origin: new URL(boardUrl).origin };
  const project = (await (await page.request.get(`/api/projects/${projectId}`)).json()) as {
    environments: { id: string }[];
  };
  const test = project.environments[1]!.id;
  const [customers] = (
    (await (await page.request.get(`/api/environments/${test}/audiences`)).json()) as {
      audiences: { id: string }[];
    }
  ).audiences;
  expect(
    (
      await page.request.delete(`/api/environments/${test}/audiences/${customers!.id}`, {
        headers: origin,
      })
    ).status(),
  ).toBe(204);

  await page.goto(boardUrl);
  await hydrated(page);
  const dev = page.getByTestId('env-column').nth(0);
  await dev.getByTestId('sync').click();
  await expect(dev.getByTestId('action-error')).toContainText(
    'TEST has no audience named “customers”',
  );
  await dev.getByTestId('create-audiences').click();
  await expect(page.getByTestId('env-column').nth(1).getByTestId('pointer-current')).toContainText(
    'sync by Ada Admin',
  );
  await expect(dev.getByTestId('action-error')).toHaveCount(0);

  await page.getByTestId('env-column').nth(1).getByRole('link', { name: 'View TEST' }).click();
  await page.getByRole('link', { name: 'Audiences' }).click();
  await expect(page.getByTestId('audience')).toContainText('customers');
  await expect(page.getByTestId('audience')).toContainText('Created for a Sync');
});
