import { expect, test } from '@playwright/test';
import { ensureAdmin, hydrated, signIn, shot } from './helpers.ts';

/**
 * SEC-19: an instance admin issues a password-reset link from the members page; the person sets a
 * new password with it.
 */
test('SEC-19 an instance admin issues a reset link on the members page; the link sets a new password and signs the person in', async ({
  page,
  browser,
  baseURL,
}) => {
  await ensureAdmin(page.request);
  await signIn(page);
  const headers = { origin: baseURL! };
  const project = (await (
    await page.request.post('/api/projects', { data: { name: 'Reset desk' }, headers })
  ).json()) as { id: string };
  const created = await page.request.post('/api/users', {
    data: {
      email: 'rita@example.com',
      name: 'Rita Reset',
      password: 'copper meadow violin harbor',
    },
    headers,
  });
  expect(created.status()).toBe(201);
  const rita = (await created.json()) as { id: string };
  expect(
    (
      await page.request.put(`/api/projects/${project.id}/members/${rita.id}`, {
        data: { roles: { '*': ['viewer'] } },
        headers,
      })
    ).status(),
  ).toBe(200);

  await page.setViewportSize({ width: 1366, height: 900 });
  await page.goto(`/projects/${project.id}/members`);
  await hydrated(page);
  const row = page.getByTestId('member-row').filter({ hasText: 'Rita Reset' });
  // Not locked out: nothing to unlock (REV-52 unlocks a locked account).
  await expect(row.getByRole('button', { name: /Unlock/ })).toHaveCount(0);
  await row.getByRole('button', { name: 'Reset password of Rita Reset' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Create a reset link' }).click();
  const url = (await page.getByTestId('reset-url').textContent())!;
  expect(url).toMatch(/\/reset\/scr_/);
  await shot(page, 'password-reset-admin-1366', { fullPage: true });

  // Rita, in her own browser, on a phone.
  const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const phone = await context.newPage();
  await phone.goto(new URL(url).pathname);
  await hydrated(phone);
  await expect(phone.getByText('For rita@example.com')).toBeVisible();
  await phone.getByLabel('New password').fill('password1');
  await phone.getByRole('button', { name: 'Set password and sign in' }).click();
  await expect(phone.getByRole('alert')).toContainText('too easy to guess');
  await shot(phone, 'password-reset-390', { fullPage: true });
  await phone.getByLabel('New password').fill('lantern quartz pepper meadow');
  await phone.getByRole('button', { name: 'Set password and sign in' }).click();
  await expect(phone.getByRole('heading', { name: 'Projects' })).toBeVisible();

  // The link is used up.
  await phone.goto(new URL(url).pathname);
  await expect(phone.getByRole('alert')).toContainText('expired or was already used');
  await context.close();
});
