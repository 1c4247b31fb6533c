import { expect, test } from '@playwright/test';
import { ensureAdmin, hydrated, signIn, shot } from './helpers.ts';

test.beforeEach(async ({ request }) => {
  await ensureAdmin(request);
});

test('REL-12 the board names the secrets production lacks, refuses the Sync until told to go ahead, then moves it', async ({
  page,
  baseURL,
}) => {
  await signIn(page);
  const headers = { origin: baseURL! };
  const project = (await (
    await page.request.post('/api/projects', {
      data: { name: `Secrets ${Date.now()}`, sample: true },
      headers,
    })
  ).json()) as { id: string; environments: { id: string }[] };
  const prod = project.environments[4]!.id;
  for (const e of project.environments.slice(0, 3))
    expect(
      (await page.request.post(`/api/environments/${e.id}/sync`, { data: {}, headers })).status(),
    ).toBe(200);
  expect(
    (
      await page.request.put(`/api/environments/${prod}/secrets/ORDERS_API_TOKEN`, {
        data: { value: 'not shown' },
        headers,
      })
    ).status(),
  ).toBe(200);
  await page.goto(`/projects/${project.id}`);
  await hydrated(page);
  const columns = page.getByTestId('env-column');
  // STAGING holds the content and has neither secret; PRODUCTION holds nothing yet, so nothing is missing there.
  const staging = project.environments[3]!.id;
  await expect(columns.nth(3).getByTestId('missing-secrets')).toHaveText(
    /2 secrets missing: HELPDESK_API_KEY, ORDERS_API_TOKEN\.\s+Add them/,
  );
  await expect(
    columns.nth(3).getByTestId('missing-secrets').getByRole('link', { name: 'Add them' }),
  ).toHaveAttribute('href', `/projects/${project.id}/environments/${staging}?tab=secrets`);
  await expect(columns.nth(4).getByTestId('missing-secrets')).toHaveCount(0);

  await columns.nth(3).getByTestId('sync').click();
  const refusal = columns.nth(3).getByTestId('action-error');
  await expect(refusal).toContainText(
    'PRODUCTION lacks a secret this content’s integrations use: HELPDESK_API_KEY. Nothing moved.',
  );
  await expect(refusal).not.toContainText('secrets_missing');
  await expect(columns.nth(4).getByTestId('pointer-synced')).toContainText(
    'Nothing synced here yet.',
  );
  await shot(page, 'rel-12-secrets-1366', { fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await refusal.scrollIntoViewIfNeeded();
  await shot(page, 'rel-12-secrets-390');

  await refusal.getByTestId('go-ahead-without-secrets').click();
  await expect(columns.nth(4).getByTestId('pointer-synced')).toContainText('#');
  await expect(refusal).toHaveCount(0);
  await expect(columns.nth(4).getByTestId('missing-secrets')).toHaveText(
    /1 secret missing: HELPDESK_API_KEY\.\s+Add it/,
  );
  await shot(page, 'rel-12-after-390', { fullPage: true });
});
