import { expect, test } from '@playwright/test';
import { ensureAdmin, hydrated, signIn, shot } from './helpers.ts';

/**
 * REV-60: a reviewer's board follows the project's event stream: when another person syncs, the
 * board shows it without a reload, and says it is live.
 */
test('[REV-60] a reviewer’s board updates when another person syncs (no reload)', async ({
  page,
  browser,
  baseURL,
}) => {
  await ensureAdmin(page.request);
  await signIn(page);
  const headers = { origin: baseURL! };
  const project = (await (
    await page.request.post('/api/projects', {
      data: { name: `Live board ${Date.now()}`, sample: true },
      headers,
    })
  ).json()) as { id: string; environments: { id: string }[] };
  const [dev, test1] = project.environments.map((e) => e.id) as [string, string];

  // Rita reviews every stage.
  const email = `rita${Date.now()}@example.com`;
  const password = 'violet tractor umbrella 42';
  const rita = (await (
    await page.request.post('/api/users', {
      data: { email, name: 'Rita Reviewer', password },
      headers,
    })
  ).json()) as { id: string };
  expect(
    (
      await page.request.put(`/api/projects/${project.id}/members/${rita.id}`, {
        data: {
          roles: Object.fromEntries(project.environments.map((e) => [e.id, ['viewer']])),
        },
        headers,
      })
    ).status(),
  ).toBe(200);

  const context = await browser.newContext({ viewport: { width: 1366, height: 900 } });
  const reviewer = await context.newPage();
  const errors: string[] = [];
  reviewer.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  await reviewer.goto('/signin');
  await hydrated(reviewer);
  await reviewer.getByLabel('Email').fill(email);
  await reviewer.getByLabel('Password').fill(password);
  await reviewer.getByRole('button', { name: 'Sign in' }).click();
  await expect(reviewer.getByRole('heading', { name: 'Projects' })).toBeVisible();
  await reviewer.goto(`/projects/${project.id}`);
  await hydrated(reviewer);
  await expect(reviewer.getByTestId('live-indicator')).toHaveText('Live');
  const columns = reviewer.getByTestId('env-column');
  await expect(columns.nth(1).getByTestId('pointer-current')).toContainText(
    'Nothing synced here yet.',
  );
  // A mark that a reload would wipe, and a count of the events the page dispatches on window.
  await reviewer.evaluate(() => {
    const w = window as unknown as { notReloaded: boolean; projectEvents: string[] };
    w.notReloaded = true;
    w.projectEvents = [];
    window.addEventListener('stagecoach:project-event', (e) =>
      w.projectEvents.push((e as CustomEvent<{ kind: string }>).detail.kind),
    );
  });

  // Ada (another person) syncs DEV into TEST through the API.
  expect(
    (await page.request.post(`/api/environments/${dev}/sync`, { data: {}, headers })).status(),
  ).toBe(200);
  await expect(columns.nth(1).getByTestId('pointer-current').locator('.snap')).toContainText('#');
  expect(
    await reviewer.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded),
  ).toBe(true);
  expect(
    await reviewer.evaluate(() => (window as unknown as { projectEvents: string[] }).projectEvents),
  ).toContain('sync');
  await shot(reviewer, 'rev-live-board-1366', { fullPage: true });

  // On a phone: the next Sync (TEST into UAT) shows too.
  await reviewer.setViewportSize({ width: 390, height: 844 });
  expect(
    (await page.request.post(`/api/environments/${test1}/sync`, { data: {}, headers })).status(),
  ).toBe(200);
  await expect(columns.nth(2).getByTestId('pointer-current').locator('.snap')).toContainText('#');
  await expect(reviewer.getByTestId('live-indicator')).toHaveText('Live');
  await shot(reviewer, 'rev-live-board-390', { fullPage: true });

  // An environment page's history follows too.
  await reviewer.setViewportSize({ width: 1366, height: 900 });
  await reviewer.goto(`/projects/${project.id}/environments/${test1}?tab=history`);
  await hydrated(reviewer);
  await expect(reviewer.getByTestId('live-indicator')).toHaveText('Live');
  const rows = reviewer.locator('main li');
  const before = await rows.count();
  const content = (await (await page.request.get(`/api/environments/${dev}/content`)).json()) as {
    knowledge: Record<string, { title: string }>;
  };
  content.knowledge.kb_sizes!.title = 'Sizes, live';
  expect(
    (
      await page.request.put(`/api/environments/${dev}/content`, { data: content, headers })
    ).status(),
  ).toBe(200);
  expect(
    (await page.request.post(`/api/environments/${dev}/sync`, { data: {}, headers })).status(),
  ).toBe(200);
  await expect.poll(() => rows.count()).toBeGreaterThan(before);
  await shot(reviewer, 'rev-live-history-1366', { fullPage: true });
  expect(errors).toEqual([]);
  await context.close();
});
