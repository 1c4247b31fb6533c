import { expect, test } from '@playwright/test';
import { ensureAdmin, hydrated, signIn, shot } from './helpers.ts';

/**
 * REV-51: "Your API tokens" from the header, on a phone: a token is created with a name and an
 * expiry, shown once with a copy button, listed with when it was last used and when it expires,
 * and revoked after a confirmation; the revoked token then gets 401 from the API.
 */
test('[REV-51] a token is created and revoked in the UI; the revoked token gets 401 from the API', async ({
  page,
  context,
  baseURL,
}) => {
  await ensureAdmin(page.request);
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: baseURL! });
  await page.setViewportSize({ width: 390, height: 844 });
  await signIn(page);
  await page.getByRole('banner').getByRole('link', { name: 'API tokens' }).click();
  await expect(page.getByRole('heading', { name: 'Your API tokens' })).toBeVisible();
  await hydrated(page);

  const name = `Nightly export ${Date.now()}`;
  await page.getByLabel('Name').fill(name);
  await page.getByLabel('Expires after').selectOption({ label: '30 days' });
  await page.getByRole('button', { name: 'Create token' }).click();
  const fresh = page.getByTestId('fresh-token');
  await expect(fresh).toContainText('will not be shown again');
  const token = (await page.getByTestId('new-token').textContent())!.trim();
  expect(token).toMatch(/^sct_/);
  await fresh.getByRole('button', { name: 'Copy' }).click();
  await expect(fresh.getByRole('button', { name: 'Copied' })).toBeVisible();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(token);
  await shot(page, 'tokens-created-390', { fullPage: true });

  // Listed with its expiry; once used, with when it was last used. The secret is not shown again.
  const row = page.getByTestId('token-row').filter({ hasText: name });
  await expect(row).toContainText('never used');
  const in30 = new Date(Date.now() + 30 * 86_400_000).toLocaleDateString('en-US', {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
  });
  await expect(row).toContainText(`expires ${in30}`);
  const bearer = { authorization: `Bearer ${token}` };
  expect((await page.request.get('/api/projects', { headers: bearer })).status()).toBe(200);
  await page.reload();
  await hydrated(page);
  await expect(row).toContainText('last used just now');
  await expect(page.getByTestId('fresh-token')).toHaveCount(0);
  await page.setViewportSize({ width: 1366, height: 900 });
  await shot(page, 'tokens-list-1366', { fullPage: true });

  // Revoking asks first; confirmed, the row goes and the API refuses the token.
  await row.getByRole('button', { name: `Revoke the token ${name}` }).click();
  const dialog = page.getByRole('dialog');
  await expect(dialog).toContainText('cannot be undone');
  await shot(page, 'tokens-confirm-1366');
  await dialog.getByRole('button', { name: 'Revoke token' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'is revoked' })).toBeVisible();
  await expect(row).toHaveCount(0);
  expect((await page.request.get('/api/projects', { headers: bearer })).status()).toBe(401);
});
