import { expect, type APIRequestContext, type Page } from '@playwright/test';

export const admin = { name: 'Ada Admin', email: 'ada@example.com', password: 'correct horse battery' };

export async function hydrated(page: Page): Promise<void> {
  await expect(page.locator('body[data-hydrated="true"]')).toBeAttached();
}

/** Creates the admin through the API unless an earlier test did (409). */
export async function ensureAdmin(request: APIRequestContext): Promise<void> {
  const res = await request.post('/api/setup', { data: admin });
  expect([201, 409]).toContain(res.status());
}

export async function signIn(page: Page): Promise<void> {
  await page.goto('/signin');
  await hydrated(page);
  await page.getByLabel('Email').fill(admin.email);
  await page.getByLabel('Password').fill(admin.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { name: 'Projects' })).toBeVisible();
}

/** Creates a project through the UI and opens its authoring environment's editor. */
export async function openNewProjectDraft(page: Page, name: string): Promise<string> {
  await page.goto('/');
  await page.getByLabel('Name').fill(name);
  await page.getByRole('button', { name: 'Create project' }).click();
  await page.getByTestId('env-column').first().getByRole('link', { name: 'Open editor' }).click();
  await expect(page.getByTestId('connection-status')).toHaveAttribute('data-sync-status', 'connected');
  return page.url();
}
