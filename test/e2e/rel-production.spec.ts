import { expect, test, type Page } from '@playwright/test';
import { ensureAdmin, hydrated, openItem, signIn, shot } from './helpers.ts';

test.beforeEach(async ({ request }) => {
  await ensureAdmin(request);
});

type Project = { id: string; environments: { id: string }[] };

/** A sample project made through the API, with its first release synced into production. */
async function syncedProject(page: Page, baseURL: string, name: string) {
  const headers = { origin: baseURL };
  const project = (await (
    await page.request.post('/api/projects', {
      data: { name: `${name} ${Date.now()}`, sample: true },
      headers,
    })
  ).json()) as Project;
  const envs = project.environments.map((e) => e.id);
  // Production has the two secrets the sample's integrations name, so no move stops on them here
  // (REL-12 has its own test).
  for (const name of ['ORDERS_API_TOKEN', 'HELPDESK_API_KEY'])
    expect(
      (
        await page.request.put(`/api/environments/${envs[4]}/secrets/${name}`, {
          data: { value: 'test-only' },
          headers,
        })
      ).status(),
    ).toBe(200);
  const post = async (path: string, data: object = {}) =>
    expect((await page.request.post(`/api/${path}`, { data, headers })).status()).toBeLessThan(300);
  const syncAll = async () => {
    for (const env of envs.slice(0, 4)) await post(`environments/${env}/sync`);
  };
  /** Someone else changes the size guide's title in DEV and takes it to production (not live). */
  const nextRelease = async (title: string) => {
    const content = (await (
      await page.request.get(`/api/environments/${envs[0]}/content`)
    ).json()) as { knowledge: Record<string, { title: string }> };
    content.knowledge.kb_sizes!.title = title;
    expect(
      (
        await page.request.put(`/api/environments/${envs[0]}/content`, { data: content, headers })
      ).status(),
    ).toBe(200);
    await syncAll();
  };
  await syncAll();
  return { projectId: project.id, prod: envs[4]!, post, nextRelease };
}

async function shoot(page: Page, name: string) {
  await shot(page, `${name}-desktop`, { fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await shot(page, `${name}-390`, { fullPage: true });
  await page.setViewportSize({ width: 1366, height: 900 });
}

test('REL-3 a hotfix publish after someone else went live says what went live and offers rebase or discard; rebased, it publishes and live keeps both', async ({
  page,
  baseURL,
}) => {
  await page.setViewportSize({ width: 1366, height: 900 });
  await signIn(page);
  const p = await syncedProject(page, baseURL!, 'Hotfix race');
  await p.post(`environments/${p.prod}/publish`, { message: 'First release' });
  await p.post(`environments/${p.prod}/hotfix`);

  // The release manager types the hotfix in the browser.
  await page.goto(`/projects/${p.projectId}/environments/${p.prod}?tab=hotfix`);
  await hydrated(page);
  await openItem(page, 'variables', 'max_refund_eur');
  await page.getByRole('textbox', { name: 'Default value', exact: true }).fill('20');
  await expect(page.getByTestId('connection-status')).toHaveAttribute(
    'data-sync-status',
    'connected',
  );

  // Meanwhile someone publishes release-2 through the API.
  await p.nextRelease('Size chart');
  await p.post(`environments/${p.prod}/publish`, { message: 'Release 2' });

  // Publishing the hotfix is refused in words: what went live, and the two ways on.
  await page.getByTestId('hotfix-publish').click();
  const confirm = page.getByTestId('hotfix-publish-dialog');
  await expect(confirm).toContainText('PRODUCTION');
  await confirm.getByTestId('confirm-reason').fill('Refund limit lowered today');
  await confirm.getByTestId('confirm-ok').click();
  const moved = page.getByTestId('live-moved');
  // Or an error, so that a failure here says which one was shown instead.
  await expect(moved.or(page.locator('p.error[role=alert]'))).toContainText(
    'PRODUCTION went live with something else while this hotfix was open',
  );
  await expect(moved).toContainText('Size chart');
  await expect(moved).not.toContainText('live_moved');
  await expect(moved.getByRole('button', { name: 'Rebase onto what is live now' })).toBeVisible();
  await expect(moved.getByRole('button', { name: 'Discard the hotfix' })).toBeVisible();
  await shoot(page, 'rel-3-live-moved');

  // Rebase, then publish: the dialog now shows only the hotfix's own change.
  await moved.getByTestId('hotfix-rebase').click();
  await expect(page.getByTestId('hotfix-rebased')).toContainText('publish again');
  await expect(moved).toHaveCount(0);
  await page.getByTestId('hotfix-publish').click();
  await expect(confirm.getByTestId('confirm-diff')).toContainText('max_refund_eur');
  await expect(confirm.getByTestId('confirm-diff')).not.toContainText('Size');
  await confirm.getByTestId('confirm-reason').fill('Refund limit lowered today');
  await confirm.getByTestId('confirm-ok').click();
  await expect(page.getByTestId('content-view')).toBeVisible();

  const env = (await (await page.request.get(`/api/projects/${p.projectId}`)).json()) as {
    environments: { liveSnapshotId: string }[];
  };
  const live = (await (
    await page.request.get(
      `/api/snapshots/${env.environments[4]!.liveSnapshotId}?project=${p.projectId}`,
    )
  ).json()) as {
    content: {
      knowledge: Record<string, { title: string }>;
      variables: Record<string, { defaultValue: string }>;
    };
  };
  expect(live.content.knowledge.kb_sizes!.title).toBe('Size chart');
  expect(live.content.variables.var_max_refund!.defaultValue).toBe('20');

  // Discarding a hotfix confirms too, with a reason kept in the history.
  await p.post(`environments/${p.prod}/hotfix`);
  await page.goto(`/projects/${p.projectId}/environments/${p.prod}?tab=hotfix`);
  await hydrated(page);
  await page.getByTestId('hotfix-discard').click();
  const discard = page.getByRole('dialog', { name: 'Discard the hotfix in PRODUCTION?' });
  await expect(discard.getByTestId('confirm-ok')).toBeDisabled();
  await discard.getByTestId('confirm-reason').fill('Opened by mistake');
  await discard.getByTestId('confirm-ok').click();
  await expect(page.getByTestId('content-view')).toBeVisible();
  await page.getByRole('link', { name: 'History' }).click();
  await expect(page.getByTestId('events')).toContainText('hotfix discarded “Opened by mistake”');
});

test('REL-11 Publish and rollback confirm naming the environment, with the diff and a reason kept in the history; revoking a share link asks first', async ({
  page,
  baseURL,
}) => {
  await page.setViewportSize({ width: 1366, height: 900 });
  await signIn(page);
  const p = await syncedProject(page, baseURL!, 'Confirmations');
  await page.goto(`/projects/${p.projectId}`);
  await hydrated(page);
  const prodColumn = page.getByTestId('env-column').nth(4);

  // Publish opens the confirmation: the environment, what goes live, a reason before it can go.
  await prodColumn.getByTestId('publish').click();
  const dialog = page.getByTestId('publish-dialog');
  await expect(dialog).toBeVisible();
  // Named by its heading (aria-labelledby), modal.
  await expect(
    page.getByRole('dialog', { name: /^Go live in PRODUCTION: publish #/ }),
  ).toHaveAttribute('aria-modal', 'true');
  await expect(dialog.getByTestId('confirm-diff')).toContainText('Support agent');
  await expect(dialog.getByTestId('confirm-ok')).toBeDisabled();
  await expect(dialog.getByTestId('confirm-reason')).toBeFocused();
  // Escape closes it and nothing goes live.
  await page.keyboard.press('Escape');
  await expect(dialog).toHaveCount(0);
  await expect(prodColumn.getByTestId('pointer-live')).toContainText('Nothing live yet');

  await prodColumn.getByTestId('publish').click();
  await dialog.getByTestId('confirm-reason').fill('Launch of the support agent');
  await expect(dialog.getByTestId('confirm-ok')).toBeEnabled();
  await shoot(page, 'rel-11-publish');
  await dialog.getByTestId('confirm-ok').click();
  await expect(prodColumn.getByTestId('pointer-live')).toContainText('Launch of the support agent');

  // A second release goes live; rolling back to the first confirms the same way.
  await p.nextRelease('Size chart');
  await p.post(`environments/${p.prod}/publish`, { message: 'Size chart release' });
  await page.goto(`/projects/${p.projectId}/environments/${p.prod}?tab=history`);
  await hydrated(page);
  const history = page.getByTestId('history');
  await expect(history).toContainText('Launch of the support agent');
  await history
    .locator('li')
    .filter({ hasText: 'Launch of the support agent' })
    .getByRole('button', { name: 'Roll back to this' })
    .click();
  const rollback = page.getByTestId('rollback-dialog');
  await expect(
    page.getByRole('dialog', { name: /^Roll back what is live in PRODUCTION to #/ }),
  ).toBeVisible();
  await expect(rollback.getByTestId('confirm-diff')).toContainText('Size guide');
  await expect(rollback.getByTestId('confirm-ok')).toBeDisabled();
  await rollback.getByTestId('confirm-reason').fill('The new title confused customers');
  await shoot(page, 'rel-11-rollback');
  await rollback.getByTestId('confirm-ok').click();
  await expect(rollback).toHaveCount(0);
  await expect(history.locator('li').first()).toContainText('The new title confused customers');
  await expect(history.locator('li').first()).toContainText('rollback');

  // Revoking a share link asks first; cancelling keeps it.
  await page.getByRole('link', { name: 'Share links' }).click();
  await page.getByLabel('For whom?').fill('Sales review');
  await page.getByRole('button', { name: 'Create link' }).click();
  await expect(page.getByTestId('new-share-link')).toBeVisible();
  const panel = page.getByTestId('share-panel');
  await panel.getByRole('button', { name: 'Revoke…' }).click();
  const revoke = page.getByTestId('share-revoke-dialog');
  await expect(revoke).toContainText('Sales review');
  await shoot(page, 'rel-11-share-revoke');
  await revoke.getByRole('button', { name: 'Cancel' }).click();
  await expect(revoke).toHaveCount(0);
  await expect(panel).toContainText('active');
  await panel.getByRole('button', { name: 'Revoke…' }).click();
  await revoke.getByRole('button', { name: 'Revoke link' }).click();
  await expect(panel).toContainText('revoked');
});
