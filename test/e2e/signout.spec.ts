import { expect, test, type Page } from '@playwright/test';
import { collabSwitch, ensureAdmin, openNewProjectDraft, signIn, textbox } from './helpers.ts';

const localCopies = (page: Page) =>
  page.evaluate(async () =>
    (await indexedDB.databases())
      .map((d) => d.name ?? '')
      .filter((n) => n.startsWith('stagecoach:')),
  );

test('signing out deletes this browser’s copies of drafts, and asks first when changes may not have reached the server', async ({
  page,
  request,
}) => {
  await ensureAdmin(request);
  const network = await collabSwitch(page);
  await signIn(page);
  await openNewProjectDraft(page, 'Shared laptop');
  await page.getByRole('button', { name: '+ New agent' }).click();
  await textbox(page, 'Instructions').click();
  await page.keyboard.type('Kept in this browser for offline work.');
  await expect.poll(() => localCopies(page)).toHaveLength(1);

  // Offline: the sign-out asks first; saying no keeps everything.
  await network.drop();
  await expect(page.getByTestId('connection-status')).toHaveAttribute(
    'data-sync-status',
    'offline',
  );
  const asked = new Promise<string>((resolve) =>
    page.once('dialog', (d) => void d.dismiss().then(() => resolve(d.message()))),
  );
  await page.getByRole('button', { name: 'Sign out' }).click();
  expect(await asked).toContain('may not have reached it');
  await expect(page.getByRole('button', { name: 'Sign out' })).toBeVisible();
  expect(await localCopies(page)).toHaveLength(1);

  // Back online and synced: signing out deletes the copy.
  network.restore();
  await page.reload();
  await expect(page.getByTestId('connection-status')).toHaveAttribute(
    'data-sync-status',
    'connected',
  );
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/signin/);
  await expect.poll(() => localCopies(page)).toEqual([]);
});
