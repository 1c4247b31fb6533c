import { expect, test, type Locator, type Page } from '@playwright/test';
import { admin, ensureAdmin, hydrated, signIn, shot } from './helpers.ts';

/**
 * REV-50: a project's team in three parts (People, Stages, Rules), each form saved by its own
 * button with the outcome next to it; others read the same parts without a save button.
 * REV-52: an instance admin unlocks a locked account and hands over a password-reset link.
 */

async function newProject(page: Page, baseURL: string, name: string) {
  return (await (
    await page.request.post('/api/projects', { data: { name }, headers: { origin: baseURL } })
  ).json()) as { id: string; environments: { id: string; name: string }[] };
}

async function newMember(
  page: Page,
  baseURL: string,
  projectId: string,
  who: { name: string; email: string; password: string },
  roles: Record<string, string[]>,
) {
  const headers = { origin: baseURL };
  const created = await page.request.post('/api/users', { data: who, headers });
  expect(created.status()).toBe(201);
  const user = (await created.json()) as { id: string };
  const put = await page.request.put(`/api/projects/${projectId}/members/${user.id}`, {
    data: { roles },
    headers,
  });
  expect(put.status()).toBe(200);
  return user;
}

/** The outcome sits beside the button that caused it: same line or just under it, not far away. */
async function besideButton(row: Locator, text: string) {
  const said = row.locator('[role="status"], [role="alert"]');
  await expect(said).toContainText(text);
  const button = (await row.getByRole('button').first().boundingBox())!;
  const box = (await said.boundingBox())!;
  expect(Math.abs(box.y + box.height / 2 - (button.y + button.height / 2))).toBeLessThan(60);
}

async function noSidewaysScroll(page: Page) {
  const wide = await page.evaluate(() => document.documentElement.scrollWidth);
  expect(wide).toBeLessThanOrEqual(390);
}

async function signInAs(page: Page, email: string, password: string) {
  await page.goto('/signin');
  await hydrated(page);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

test('[REV-50] People, Stages and Rules each save on their own, with the outcome next to the button; 390 px', async ({
  page,
  baseURL,
}) => {
  await ensureAdmin(page.request);
  await signIn(page);
  const stamp = Date.now();
  const project = await newProject(page, baseURL!, `Team desk ${stamp}`);
  const [dev, test_] = project.environments;
  await newMember(
    page,
    baseURL!,
    project.id,
    {
      name: 'Vera Viewer',
      email: `vera.${stamp}@example.com`,
      password: 'copper meadow violin harbor',
    },
    { [dev!.id]: ['viewer'] },
  );
  const base = `/projects/${project.id}/members`;
  await page.setViewportSize({ width: 1366, height: 900 });

  // People: one member's roles, saved under their row.
  await page.goto(base);
  await hydrated(page);
  const tabs = page.getByRole('navigation', { name: 'Team' });
  await expect(tabs.getByRole('link', { name: 'People' })).toHaveAttribute('aria-current', 'page');
  await page.getByRole('button', { name: 'Edit roles of Vera Viewer' }).click();
  await page.getByRole('checkbox', { name: `editor in ${dev!.name}` }).check();
  await page.getByRole('button', { name: 'Save roles' }).click();
  await besideButton(page.getByTestId('roles-save'), 'Roles saved');
  await expect(
    page
      .getByTestId('member-row')
      .filter({ hasText: 'Vera Viewer' })
      .locator('.chip', { hasText: 'edit' }),
  ).toBeVisible();
  // The invitation form says its outcome by its own button; the roles' outcome stays by theirs.
  await page.getByLabel('Name', { exact: true }).fill('Ivo Invited');
  await page.getByLabel('Email').fill(`ivo.${stamp}@example.com`);
  await page.getByRole('button', { name: 'Create invitation link' }).click();
  await besideButton(page.getByTestId('invite-save'), 'Invitation created.');
  await expect(page.getByTestId('invite-url')).toContainText('/invite/');
  await expect(
    page.getByTestId('pending-invitation').filter({ hasText: 'Ivo Invited' }),
  ).toBeVisible();
  await shot(page, 'people-1366', { fullPage: true });

  // Stages: a new name, kind and color for one stage, one save for all.
  await tabs.getByRole('link', { name: 'Stages' }).click();
  await expect(page.getByTestId('stages-card')).toBeVisible();
  await page.getByLabel(`Name of ${test_!.name}`).fill('QA');
  await page.getByLabel(`Kind of ${test_!.name}`).selectOption({ label: 'Staging' });
  await page.getByRole('button', { name: 'Save stages' }).click();
  await besideButton(page.getByTestId('stages-save'), 'Stage saved.');
  await expect(page.getByLabel('Name of QA')).toHaveValue('QA');
  await expect(page.getByLabel('Kind of QA')).toHaveValue('staging');
  await shot(page, 'stages-1366', { fullPage: true });
  // A name another stage has is refused, said by the same button.
  await page.getByLabel('Name of QA').fill(dev!.name);
  await page.getByRole('button', { name: 'Save stages' }).click();
  await expect(page.getByTestId('stages-save').getByRole('alert')).toBeVisible();

  // Rules: the gates and the flow rules are two forms, each with its own save and outcome.
  await tabs.getByRole('link', { name: 'Rules' }).click();
  await page.getByRole('spinbutton', { name: 'QA required approvals' }).fill('2');
  await page.getByRole('button', { name: 'Save gates' }).click();
  await besideButton(page.getByTestId('gates-save'), 'Gate saved.');
  await expect(page.getByTestId('flow-save').getByRole('status')).toHaveCount(0);
  const flow = page.getByTestId('flow-rules-card');
  await flow.getByLabel('How channels moves').selectOption('local');
  await flow.getByRole('button', { name: 'Save flow rules' }).click();
  await besideButton(page.getByTestId('flow-save'), 'Flow rules saved.');
  await shot(page, 'rules-1366', { fullPage: true });

  // Saved for real: a reload shows what was saved.
  await page.reload();
  await hydrated(page);
  await expect(page.getByRole('spinbutton', { name: 'QA required approvals' })).toHaveValue('2');
  await expect(flow.getByLabel('How channels moves')).toHaveValue('local');

  // A phone: every part fits its width.
  await page.setViewportSize({ width: 390, height: 844 });
  for (const [part, url] of [
    ['people', base],
    ['stages', `${base}/stages`],
    ['rules', `${base}/rules`],
  ] as const) {
    await page.goto(url);
    await hydrated(page);
    await expect(page.getByRole('heading', { name: /Team of/ })).toBeVisible();
    await expect(page.locator('[aria-busy="true"]')).toHaveCount(0);
    await noSidewaysScroll(page);
    await shot(page, `${part}-390`, { fullPage: true });
  }
});

test('[REV-50] someone who is not a project admin reads People, Stages and Rules with no save button', async ({
  page,
  browser,
  baseURL,
}) => {
  await ensureAdmin(page.request);
  await signIn(page);
  const stamp = Date.now();
  const project = await newProject(page, baseURL!, `Read-only team ${stamp}`);
  const nora = {
    name: 'Nora Reader',
    email: `nora.${stamp}@example.com`,
    password: 'amber falcon quiet river',
  };
  // Nora reads DEV and TEST only: of the gates (TEST onwards) she reads TEST's.
  const [dev, test_] = project.environments;
  await newMember(page, baseURL!, project.id, nora, {
    [dev!.id]: ['viewer'],
    [test_!.id]: ['viewer'],
  });

  const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const reader = await context.newPage();
  const consoleErrors: string[] = [];
  reader.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  await signInAs(reader, nora.email, nora.password);
  await expect(reader.getByRole('heading', { name: 'Projects' })).toBeVisible();
  const base = `/projects/${project.id}/members`;
  for (const [part, url] of [
    ['people', base],
    ['stages', `${base}/stages`],
    ['rules', `${base}/rules`],
  ] as const) {
    await reader.goto(url);
    await hydrated(reader);
    await expect(reader.getByTestId('members-read-only')).toContainText(admin.name);
    await expect(reader.locator('[aria-busy="true"]')).toHaveCount(0);
    const main = reader.locator('main');
    await expect(main.getByRole('button')).toHaveCount(0);
    await expect(main.locator('input, select, textarea')).toHaveCount(0);
    await noSidewaysScroll(reader);
    await shot(reader, `read-only-${part}-390`, { fullPage: true });
  }
  // What is read: the stages with their kinds, the gates and the flow rules in words.
  await reader.goto(`${base}/stages`);
  await expect(reader.getByTestId('stage-row')).toHaveCount(project.environments.length);
  await expect(reader.getByTestId('stage-row').first()).toContainText('Development');
  await reader.goto(`${base}/rules`);
  await expect(reader.getByTestId('gate-row')).toHaveCount(1);
  await expect(reader.getByTestId('gate-row')).toContainText(test_!.name);
  await expect(reader.getByTestId('gate-row')).toContainText('no approval needed');
  await expect(reader.getByTestId('flow-rules-card')).toContainText('moves up by Sync');
  // Nothing was asked that would be refused: no failed request in the console.
  expect(consoleErrors).toEqual([]);
  await context.close();
});

test('[REV-52] an instance admin unlocks a locked account and hands over a reset link; a project admin is offered neither', async ({
  page,
  browser,
  baseURL,
}) => {
  await ensureAdmin(page.request);
  await signIn(page);
  const stamp = Date.now();
  const project = await newProject(page, baseURL!, `Locked out ${stamp}`);
  const lou = {
    name: 'Lou Locked',
    email: `lou.${stamp}@example.com`,
    password: 'granite willow sunny lake',
  };
  await newMember(page, baseURL!, project.id, lou, { '*': ['viewer'] });
  const pia = {
    name: 'Pia Projectadmin',
    email: `pia.${stamp}@example.com`,
    password: 'velvet orchard copper sky',
  };
  await newMember(page, baseURL!, project.id, pia, { '*': ['project_admin'] });

  // Lou guesses wrong until the account is locked: then even the right password is refused.
  const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const phone = await context.newPage();
  for (let i = 0; i < 5; i++) {
    const r = await phone.request.post('/api/session', {
      data: { email: lou.email, password: `wrong guess ${i}` },
      headers: { origin: baseURL! },
    });
    expect(r.status()).toBe(401);
  }
  await signInAs(phone, lou.email, lou.password);
  await expect(phone.getByRole('alert')).toContainText('Too many failed sign-in attempts');

  // The instance admin unlocks Lou on the People part; the outcome is on Lou's row.
  await page.setViewportSize({ width: 1366, height: 900 });
  await page.goto(`/projects/${project.id}/members`);
  await hydrated(page);
  const louRow = page.getByTestId('member-row').filter({ hasText: 'Lou Locked' });
  await expect(louRow.getByTestId('locked')).toHaveText('sign-in locked');
  // Only a locked account is offered "Unlock".
  await expect(
    page
      .getByTestId('member-row')
      .filter({ hasText: 'Pia' })
      .getByRole('button', { name: /Unlock/ }),
  ).toHaveCount(0);
  await shot(page, 'locked-1366', { fullPage: true });
  await page.getByRole('button', { name: 'Unlock Lou Locked' }).click();
  await expect(page.getByTestId('member-feedback').getByRole('status')).toContainText(
    'Lou Locked can sign in again',
  );
  await expect(louRow.getByTestId('locked')).toHaveCount(0);
  await expect(louRow.getByRole('button', { name: /Unlock/ })).toHaveCount(0);
  await signInAs(phone, lou.email, lou.password);
  await expect(phone.getByRole('heading', { name: 'Projects' })).toBeVisible();

  // A reset link asks first; cancelling issues nothing.
  await page.getByRole('button', { name: 'Reset password of Lou Locked' }).click();
  const dialog = page.getByRole('dialog');
  await expect(dialog).toContainText('single-use link');
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await expect(page.getByTestId('reset-url')).toHaveCount(0);
  await page.getByRole('button', { name: 'Reset password of Lou Locked' }).click();
  await dialog.getByRole('button', { name: 'Create a reset link' }).click();
  const link = page.getByTestId('reset-url');
  await expect(link).toContainText('/reset/');
  await shot(page, 'reset-link-1366', { fullPage: true });
  const url = (await link.textContent())!.trim();
  // On a phone the link stays on Lou's row, within the width.
  await page.setViewportSize({ width: 390, height: 844 });
  await link.scrollIntoViewIfNeeded();
  const box = (await link.boundingBox())!;
  expect(box.x).toBeGreaterThanOrEqual(0);
  expect(box.x + box.width).toBeLessThanOrEqual(390);
  await noSidewaysScroll(page);
  await shot(page, 'reset-link-390', { fullPage: true });

  // The link sets a new password; the old one no longer signs in.
  const other = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const lous = await other.newPage();
  await lous.goto(new URL(url).pathname);
  await hydrated(lous);
  await lous.getByLabel('New password').fill('harbor lantern quiet meadow');
  await lous.getByRole('button', { name: 'Set password and sign in' }).click();
  await expect(lous.getByRole('heading', { name: 'Projects' })).toBeVisible();
  const old = await other.request.post('/api/session', {
    data: { email: lou.email, password: lou.password },
    headers: { origin: baseURL! },
  });
  expect(old.status()).toBe(401);
  await other.close();

  // A project admin who is not an instance admin manages roles, never accounts.
  const pias = await browser.newContext({ viewport: { width: 1366, height: 900 } });
  const piaPage = await pias.newPage();
  await signInAs(piaPage, pia.email, pia.password);
  await expect(piaPage.getByRole('heading', { name: 'Projects' })).toBeVisible();
  await piaPage.goto(`/projects/${project.id}/members`);
  await hydrated(piaPage);
  await expect(piaPage.getByRole('button', { name: 'Edit roles of Lou Locked' })).toBeVisible();
  await expect(piaPage.getByRole('button', { name: /Unlock|Reset password/ })).toHaveCount(0);
  await pias.close();
  await context.close();
});
