import { expect, test } from '@playwright/test';
import { ensureAdmin, hydrated, signIn, shot } from './helpers.ts';

/**
 * REV-1: the members page lists pending invitations; "Copy a new link" replaces the link (the old
 * one refuses), "Revoke…" asks first and then the invitation leaves the list.
 */
test('[REV-1] a project admin sees pending invitations, copies a new link and revokes one', async ({
  page,
  browser,
  baseURL,
}) => {
  await ensureAdmin(page.request);
  await signIn(page);
  const project = (await (
    await page.request.post('/api/projects', {
      data: { name: 'Invitation desk' },
      headers: { origin: baseURL! },
    })
  ).json()) as { id: string };

  await page.setViewportSize({ width: 1366, height: 900 });
  await page.goto(`/projects/${project.id}/members`);
  await hydrated(page);
  const list = page.getByTestId('pending-invitations');
  await expect(list.getByTestId('no-pending-invitations')).toBeVisible();

  const invite = async (name: string, email: string) => {
    await page.getByLabel('Name', { exact: true }).fill(name);
    await page.getByLabel('Email').fill(email);
    await page.getByRole('button', { name: 'Create invitation link' }).click();
    await expect(list.getByTestId('pending-invitation').filter({ hasText: name })).toBeVisible();
    return (await page.getByTestId('invite-url').textContent())!.trim();
  };
  const first = await invite('Quinn Tester', 'quinn@example.com');
  await invite('Bo Owner', 'bo@example.com');
  await expect(list.getByTestId('pending-invitation')).toHaveCount(2);
  await expect(list.getByTestId('pending-invitation').first()).toContainText('Invited by');

  // A new link for Quinn: shown on Quinn's row; the first link no longer works.
  const quinn = list.getByTestId('pending-invitation').filter({ hasText: 'Quinn Tester' });
  await quinn.getByRole('button', { name: 'Copy a new link for Quinn Tester' }).click();
  await expect(quinn.getByRole('status')).toContainText('earlier link');
  const fresh = (await quinn.getByTestId('new-invite-url').textContent())!.trim();
  expect(fresh).not.toBe(first);
  await shot(page, 'invitations-1366', { fullPage: true });

  const other = await (await browser.newContext()).newPage();
  await other.goto(new URL(first).pathname);
  await hydrated(other);
  await expect(other.getByRole('alert')).toContainText('was revoked or was already used');
  await other.goto(new URL(fresh).pathname);
  await hydrated(other);
  await expect(other.getByRole('heading', { name: 'Join Stagecoach' })).toBeVisible();

  // Revoke Bo, on a phone: a confirmation first, then the row is gone.
  await page.setViewportSize({ width: 390, height: 844 });
  const bo = list.getByTestId('pending-invitation').filter({ hasText: 'Bo Owner' });
  await bo.getByRole('button', { name: 'Revoke the invitation for Bo Owner' }).click();
  const dialog = page.getByRole('dialog');
  await expect(dialog).toContainText('bo@example.com');
  await shot(page, 'invitations-revoke-390');
  await dialog.getByRole('button', { name: 'Revoke invitation' }).click();
  await expect(list.getByRole('status')).toContainText('Invitation for Bo Owner revoked');
  await expect(list.getByTestId('pending-invitation')).toHaveCount(1);
  await shot(page, 'invitations-390', { fullPage: true });
  await other.context().close();
});
