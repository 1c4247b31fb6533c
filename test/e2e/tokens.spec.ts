import { expect, test } from '@playwright/test';
import { ensureAdmin, hydrated, openNewProjectDraft, signIn, shot } from './helpers.ts';

test('SEC-16 API tokens: created with an expiry and shown once, listed, revoked after a confirmation; the revoked token answers 401', async ({
  page,
  request,
}) => {
  await ensureAdmin(request);
  await page.setViewportSize({ width: 1366, height: 900 });
  await signIn(page);
  await page.getByRole('link', { name: 'API tokens' }).click();
  await expect(page.getByRole('heading', { name: 'API tokens' })).toBeVisible();
  await hydrated(page);

  const name = `CI deploy ${Date.now()}`;
  await page.getByLabel('Name').fill(name);
  await page.getByLabel('Expires after').selectOption({ label: '90 days' });
  await page.getByRole('button', { name: 'Create token' }).click();
  const shown = page.getByTestId('new-token');
  await expect(shown).toContainText('sct_');
  const token = (await shown.textContent())!.trim();

  const row = page.getByTestId('token-row').filter({ hasText: name });
  await expect(row).toContainText('expires');
  await expect(row).toContainText('never used');
  const bearer = { authorization: `Bearer ${token}` };
  expect((await request.get('/api/session', { headers: bearer })).status()).toBe(200);
  await shot(page, 'tokens-1366', { fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await shot(page, 'tokens-390', { fullPage: true });
  await page.setViewportSize({ width: 1366, height: 900 });

  // Revoking asks first: cancelling keeps the token.
  const dialog = page.getByRole('dialog');
  await row.getByRole('button', { name: 'Revoke' }).click();
  await expect(dialog).toContainText('cannot be undone');
  await shot(page, 'tokens-confirm-1366', { fullPage: true });
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  expect((await request.get('/api/session', { headers: bearer })).status()).toBe(200);

  await row.getByRole('button', { name: 'Revoke' }).click();
  await dialog.getByRole('button', { name: 'Revoke token' }).click();
  await expect(row).toHaveCount(0);
  expect((await request.get('/api/session', { headers: bearer })).status()).toBe(401);
  // Gone after a reload too.
  await page.reload();
  await hydrated(page);
  await expect(page.getByTestId('token-list')).toBeVisible();
  await expect(page.getByTestId('token-row').filter({ hasText: name })).toHaveCount(0);
});

test('SEC-17 signing out in one tab ends the live editor in another: it says so and stops reconnecting', async ({
  page,
  context,
  request,
}) => {
  await ensureAdmin(request);
  await signIn(page);
  await openNewProjectDraft(page, `Signed out elsewhere ${Date.now()}`);
  const other = await context.newPage();
  await other.goto('/');
  await hydrated(other);
  await other.getByRole('button', { name: 'Sign out' }).click();
  await expect(other).toHaveURL(/\/signin/);
  await expect(page.getByRole('alert')).toContainText('Your sign-in ended');
  await expect(page.getByTestId('connection-status')).not.toHaveAttribute(
    'data-sync-status',
    'connected',
  );
});
