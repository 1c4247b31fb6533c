import { expect, test, type Browser, type Page } from '@playwright/test';
import { ensureAdmin, hydrated, openNewProjectDraft, signIn, textbox } from './helpers.ts';

test.beforeEach(async ({ request }) => {
  await ensureAdmin(request);
});

async function invite(admin: Page, name: string, email: string, template: string): Promise<string> {
  await admin.getByLabel('Name', { exact: true }).fill(name);
  await admin.getByLabel('Email').fill(email);
  await admin.getByLabel('Role template').selectOption(template);
  const url = admin.getByTestId('invite-url');
  // The previous invitation's link stays on screen until the new one arrives: wait for the new one.
  const previous = (await url.count()) > 0 ? await url.textContent() : null;
  await admin.getByRole('button', { name: 'Create invitation link' }).click();
  await expect(url).toContainText('/invite/');
  if (previous !== null) await expect(url).not.toHaveText(previous);
  return (await url.textContent())!.trim();
}

async function accept(browser: Browser, url: string): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  await page.goto(url);
  await hydrated(page);
  await expect(page.getByRole('heading', { name: 'Join Stagecoach' })).toBeVisible();
  await page.getByLabel('Password').fill('correct horse battery');
  await page.getByRole('button', { name: 'Create my account' }).click();
  await expect(page.getByRole('heading', { name: 'Projects' })).toBeVisible();
  return page;
}

test('[R4] [GATE-1] [SHARE-2] an admin invites QA and a business owner; QA cannot edit DEV; the owner approves a Sync into STAGING; a stakeholder reads UAT through a link', async ({
  page,
  browser,
}) => {
  const stamp = Date.now();
  await signIn(page);
  const devUrl = await openNewProjectDraft(page, 'Access path', { sample: true });
  const boardUrl = devUrl.replace(/\/environments\/.*/, '');

  // Members: a gate on STAGING, and two invitations from persona templates.
  await page.goto(`${boardUrl}/members/rules`);
  await hydrated(page);
  await page.getByRole('spinbutton', { name: 'STAGING required approvals' }).fill('1');
  await page.getByRole('button', { name: 'Save gates' }).click();
  await expect(page.getByTestId('gates-save')).toContainText('Gate saved.');
  await page.goto(`${boardUrl}/members`);
  await hydrated(page);
  const qaUrl = await invite(page, 'Quinn QA', `qa.${stamp}@example.com`, 'qa');
  const ownerUrl = await invite(page, 'Olga Owner', `owner.${stamp}@example.com`, 'business_owner');

  // QA can read DEV but not edit it: no edit controls, and the text cannot be typed into.
  const qa = await accept(browser, qaUrl);
  await expect(qa.getByRole('button', { name: 'Create project' })).toHaveCount(0);
  await qa.getByRole('link', { name: 'Access path' }).click();
  await qa.getByTestId('env-column').first().getByRole('link', { name: 'View the draft' }).click();
  await expect(qa.getByTestId('read-only-note')).toBeVisible();
  await expect(qa.getByRole('button', { name: /\+ New/ })).toHaveCount(0);
  await qa.getByTestId('item').first().click();
  // Read-only fields look read-only (REV-44): plain text, nothing to type into.
  await expect(qa.getByTestId('item-form').locator('input, select, [contenteditable]')).toHaveCount(
    0,
  );
  await expect(qa.locator('[data-field="instructions"]')).toContainText('{{company}}');

  // The release reaches UAT; the admin asks for the Sync into STAGING.
  await page.goto(boardUrl);
  const columns = page.getByTestId('env-column');
  for (const i of [0, 1]) {
    await columns.nth(i).getByTestId('sync').click();
    await expect(columns.nth(i + 1).getByTestId('pointer-current')).toContainText('#');
  }
  await expect(columns.nth(2).getByTestId('sync')).toBeDisabled();
  await columns.nth(2).getByTestId('request-approval').click();
  await expect(columns.nth(2).getByTestId('approval-count')).toContainText('0 of 1 approved');

  // The business owner approves it.
  const owner = await accept(browser, ownerUrl);
  await owner.getByRole('link', { name: 'Access path' }).click();
  const ownerColumns = owner.getByTestId('env-column');
  await ownerColumns
    .nth(2)
    .getByRole('textbox', { name: 'Approval comment' })
    .fill('Business rules verified');
  await ownerColumns.nth(2).getByTestId('approve').click();
  await expect(ownerColumns.nth(2).getByTestId('approval-count')).toContainText(
    '1 of 1 approved: Olga Owner',
  );

  // Now the Sync goes through.
  await page.reload();
  await hydrated(page);
  await columns.nth(2).getByTestId('sync').click();
  await expect(columns.nth(3).getByTestId('pointer-current')).toContainText('sync by Ada Admin');

  // A share link to UAT, opened with no account at all.
  await columns.nth(2).getByRole('link', { name: 'View UAT' }).click();
  await page.getByRole('link', { name: 'Share links' }).click();
  await page.getByLabel('For whom?').fill('Sales review');
  await page.getByRole('button', { name: 'Create link' }).click();
  const link = (await page.getByTestId('new-share-link').textContent())!.trim();
  const stranger = await (await browser.newContext()).newPage();
  await stranger.goto(link);
  await hydrated(stranger);
  await expect(stranger.getByTestId('env-indicator')).toContainText('UAT');
  await expect(stranger.getByTestId('env-indicator')).toContainText('Read-only');
  await expect(stranger.getByTestId('content-view')).toContainText('Support agent');
  await expect(
    stranger.locator('[contenteditable="true"], input:not([type="hidden"])'),
  ).toHaveCount(0);
  await expect(stranger.getByRole('button', { name: 'Sign out' })).toHaveCount(0);

  // Revoked: a clear page, not an error dump.
  await page.getByRole('button', { name: 'Revoke…' }).click();
  await page
    .getByTestId('share-revoke-dialog')
    .getByRole('button', { name: 'Revoke link' })
    .click();
  await expect(page.getByTestId('share-panel')).toContainText('revoked');
  await stranger.reload();
  await expect(stranger.getByTestId('share-problem')).toContainText('This link was turned off');
});

test('[R4] a viewer made editor gets an editable draft without reloading, and loses it again the same way', async ({
  page,
  browser,
  baseURL,
}) => {
  const stamp = Date.now();
  await signIn(page);
  const url = await openNewProjectDraft(page, `Rights ${stamp}`);
  const projectId = url.match(/projects\/([^/]+)/)![1]!;
  const headers = { origin: baseURL! };
  const user = await (
    await page.request.post('/api/users', {
      data: {
        email: `vic${stamp}@example.com`,
        name: 'Vic Viewer',
        password: 'correct horse battery',
      },
      headers,
    })
  ).json();
  const setRoles = async (roles: string[]) =>
    expect(
      (
        await page.request.put(`/api/projects/${projectId}/members/${user.id}`, {
          data: { roles: { '*': roles } },
          headers,
        })
      ).status(),
    ).toBe(200);
  await setRoles(['viewer']);

  const vic = await (await browser.newContext()).newPage();
  await vic.goto('/signin');
  await hydrated(vic);
  await vic.getByLabel('Email').fill(`vic${stamp}@example.com`);
  await vic.getByLabel('Password').fill('correct horse battery');
  await vic.getByRole('button', { name: 'Sign in' }).click();
  await expect(vic.getByRole('heading', { name: 'Projects' })).toBeVisible();
  await vic.goto(url);
  await expect(vic.getByTestId('read-only-note')).toBeVisible();
  await expect(vic.getByRole('button', { name: '+ New agent' })).toHaveCount(0);

  await setRoles(['editor']);
  await expect(vic.getByRole('button', { name: '+ New agent' })).toBeVisible();
  await expect(vic.getByTestId('read-only-note')).toHaveCount(0);
  await vic.getByRole('button', { name: '+ New agent' }).click();
  await textbox(vic, 'Instructions').click();
  await vic.keyboard.type('Written by Vic.');
  await expect(vic.getByTestId('connection-status')).toHaveAttribute(
    'data-sync-status',
    'connected',
  );
  await page.getByTestId('item').first().click();
  await expect(textbox(page, 'Instructions')).toContainText('Written by Vic.');

  await setRoles(['viewer']);
  await expect(vic.getByTestId('read-only-note')).toBeVisible();
});
