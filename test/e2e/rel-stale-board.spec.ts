import { expect, test } from '@playwright/test';
import { ensureAdmin, hydrated, signIn, shot } from './helpers.ts';

test.beforeEach(async ({ request }) => {
  await ensureAdmin(request);
});

test('REL-1 a stale board refuses to Sync what nobody reviewed, says which stage changed and offers a reload', async ({
  page,
  baseURL,
}) => {
  await signIn(page);
  const headers = { origin: baseURL! };
  const project = (await (
    await page.request.post('/api/projects', {
      data: { name: `Stale board ${Date.now()}`, sample: true },
      headers,
    })
  ).json()) as { id: string; environments: { id: string }[] };
  const dev = project.environments[0]!.id;
  // Change A is in TEST when QA loads the board.
  expect(
    (await page.request.post(`/api/environments/${dev}/sync`, { data: {}, headers })).status(),
  ).toBe(200);
  // The board's live stream is down (offline, reconnecting): it keeps showing what it loaded,
  // and a move from it must be refused (a live board refetches on its own: REV-60).
  await page.route('**/api/projects/*/events', (route) => route.abort());
  await page.goto(`/projects/${project.id}`);
  await hydrated(page);
  const columns = page.getByTestId('env-column');
  await expect(columns.nth(1).getByTestId('pointer-current')).toContainText('#');
  await expect(columns.nth(2).getByTestId('pointer-current')).toContainText(
    'Nothing synced here yet.',
  );

  // Meanwhile a developer syncs Change B into TEST.
  const content = (await (await page.request.get(`/api/environments/${dev}/content`)).json()) as {
    knowledge: Record<string, { title: string }>;
  };
  content.knowledge.kb_sizes!.title = 'Change B';
  expect(
    (
      await page.request.put(`/api/environments/${dev}/content`, { data: content, headers })
    ).status(),
  ).toBe(200);
  expect(
    (await page.request.post(`/api/environments/${dev}/sync`, { data: {}, headers })).status(),
  ).toBe(200);

  // QA clicks "Sync to UAT" on the board as loaded: refused in words, UAT unchanged.
  const seenSnap = await columns
    .nth(1)
    .getByTestId('pointer-current')
    .locator('.snap')
    .textContent();
  await columns.nth(1).getByTestId('sync').click();
  const refusal = columns.nth(1).getByTestId('action-error');
  await expect(refusal).toContainText('TEST changed since you loaded this board');
  await expect(refusal).not.toContainText('source_moved');
  await expect(columns.nth(2).getByTestId('pointer-current')).toContainText(
    'Nothing synced here yet.',
  );
  await shot(page, 'rel-1-stale-board', { fullPage: true });

  // Reload shows what TEST holds now; the Sync then moves exactly that.
  await refusal.getByTestId('reload-board').click();
  await expect(refusal).toHaveCount(0);
  await expect(columns.nth(1).getByTestId('pointer-current').locator('.snap')).not.toHaveText(
    seenSnap!,
  );
  const testSnap = await columns
    .nth(1)
    .getByTestId('pointer-current')
    .locator('.snap')
    .textContent();
  await columns.nth(1).getByTestId('sync').click();
  await expect(columns.nth(2).getByTestId('pointer-current').locator('.snap')).toHaveText(
    testSnap!,
  );
});
