import { expect, test, type Page } from '@playwright/test';
import { ensureAdmin, hydrated, signIn, shot } from './helpers.ts';

test.beforeEach(async ({ request }) => {
  await ensureAdmin(request);
});

/** Screenshots to look at (E2E_SCREENSHOTS=1), at a desktop and a phone width. */
async function shoot(page: Page, name: string) {
  for (const width of [1366, 390]) {
    await page.setViewportSize({ width, height: 900 });
    await shot(page, `${name}-${width}`, { fullPage: true });
  }
  await page.setViewportSize({ width: 1280, height: 720 });
}

/** What a person sees: no stored id may show (agt_, var_, int_, wf_, kb_, ch_, st_). */
const IDS = /\b(agt|var|int|wf|kb|ch|st)_[a-z0-9_]+/;

type Content = Record<string, Record<string, Record<string, unknown>>>;

test('REV-10 a diff shows names and labels, not ids', async ({ page }) => {
  await signIn(page);
  await page.getByLabel('Name', { exact: true }).fill(`Readable diff ${Date.now()}`);
  await page.getByRole('checkbox', { name: /sample content/ }).check();
  await page.getByRole('button', { name: 'Create project' }).click();
  await expect(page.getByTestId('env-column')).toHaveCount(5);
  const boardUrl = page.url();
  const origin = new URL(boardUrl).origin;
  const project = (await (
    await page.request.get(`/api/projects/${boardUrl.split('/').pop()}`)
  ).json()) as { environments: { id: string; name: string }[] };
  const [dev, testEnv] = [project.environments[0]!, project.environments[1]!];

  // TEST gets the sample; then DEV changes a reference, enums, headers, a timeout and an article.
  expect(
    (
      await page.request.post(`/api/environments/${dev.id}/sync`, {
        data: {},
        headers: { origin },
      })
    ).status(),
  ).toBe(200);
  const content = (await (
    await page.request.get(`/api/environments/${dev.id}/content`)
  ).json()) as Content;
  const wf = content.workflows!.wf_order_status!;
  wf.steps = (wf.steps as Record<string, unknown>[]).map((s) =>
    s.type === 'handoff' ? { ...s, agent: 'agt_support' } : s,
  );
  content.agents!.agt_support!.tone = 'concise';
  content.agents!.agt_support!.workflows = ['wf_order_status'];
  const api = content.integrations!.int_order_status!;
  api.authType = 'basic';
  api.timeoutMs = 30_000;
  api.headers = [
    { name: 'Accept', value: 'application/xml' },
    { name: 'X-Requested-By', value: '{{company}} support bot' },
    { name: 'X-Trace', value: 'on' },
  ];
  const kb = content.knowledge!.kb_returns!;
  kb.body = String(kb.body).replace('**30 days**', '**45 days**');
  expect(
    (
      await page.request.put(`/api/environments/${dev.id}/content`, {
        data: content,
        headers: { origin },
      })
    ).status(),
  ).toBe(200);

  // The board's link opens the diff, titled in the direction of the move.
  await page.goto(boardUrl);
  await hydrated(page);
  await page
    .getByTestId('env-column')
    .first()
    .getByRole('link', { name: 'View the changes' })
    .click();
  await expect(page.getByRole('heading', { name: 'What DEV would bring to TEST' })).toBeVisible();
  await expect(page.getByTestId('diff-summary')).toHaveText(
    '1 agent changed, 1 workflow changed, 1 article changed, 1 integration changed — 7 fields',
  );
  const main = page.locator('main');
  const item = (name: string) =>
    page
      .getByTestId('diff-item')
      .filter({ has: page.locator('summary strong', { hasText: new RegExp(`^${name}$`) }) });
  // References by name, enum codes by label, headers as a table, the timeout with its unit.
  const workflow = item('Order status');
  await expect(workflow.locator('del', { hasText: 'Escalation' })).toBeVisible();
  await expect(workflow.locator('ins', { hasText: 'Support' })).toBeVisible();
  const agent = item('Support agent');
  await expect(agent).toContainText('Friendly');
  await expect(agent).toContainText('Concise');
  await expect(agent.locator('li.del')).toContainText('Open a ticket');
  const integration = item('Order status API');
  await expect(integration).toContainText('Bearer token');
  await expect(integration).toContainText('Basic auth');
  await expect(integration).toContainText('4 s');
  await expect(integration).toContainText('30 s');
  await expect(integration.getByRole('cell', { name: 'X-Trace' })).toBeVisible();
  await expect(integration.locator('del', { hasText: 'application/json' })).toBeVisible();
  // Markdown rendered; its source a toggle away, as a word diff.
  const article = item('Returns and refunds');
  await expect(article.locator('strong', { hasText: '45 days' })).toBeVisible();
  await shoot(page, 'rev-diff');
  await article.getByRole('button', { name: 'Source' }).click();
  await expect(article.getByTestId('diff-inline').locator('ins')).toHaveText('45');
  // Nothing on screen is a stored id.
  expect(await main.innerText()).not.toMatch(IDS);

  // Side by side, and folded items past a few: "Collapse all" leaves one line per item.
  await page.getByRole('button', { name: 'Side by side' }).click();
  await expect(workflow.getByTestId('diff-sides')).toBeVisible();
  await shoot(page, 'rev-diff-sides');
  await page.getByRole('button', { name: 'Collapse all' }).click();
  await expect(workflow.getByTestId('diff-field')).toBeHidden();
  await page
    .getByRole('navigation', { name: 'What differs' })
    .getByRole('link', { name: 'Order status', exact: true })
    .click();
  await expect(workflow.getByTestId('diff-field')).toBeVisible();

  // The first release into a later stage reads too: TEST's read-only content shows names.
  await page.goto(`${boardUrl}/environments/${testEnv.id}`);
  await hydrated(page);
  const view = page.getByTestId('content-view');
  await view.locator('summary', { hasText: /^Order status$/ }).click();
  await expect(view).toContainText('Hand off to an agent');
  await expect(view).toContainText('Escalation agent');
  await view.locator('summary', { hasText: /^Order status API$/ }).click();
  await expect(view.getByRole('cell', { name: 'X-Requested-By' })).toBeVisible();
  await expect(view).toContainText('Bearer token');
  await expect(view).toContainText('4 s');
  await view.locator('summary', { hasText: /^Returns and refunds$/ }).click();
  await expect(view.locator('strong', { hasText: '30 days' })).toBeVisible();
  expect(await view.innerText()).not.toMatch(IDS);
  await shoot(page, 'rev-content');
});

test('REV-10 production links Synced → Live; a first release reads as a folded list, not a wall', async ({
  page,
  baseURL,
}) => {
  await signIn(page);
  const headers = { origin: baseURL! };
  const project = (await (
    await page.request.post('/api/projects', {
      data: { name: `First release ${Date.now()}`, sample: true },
      headers,
    })
  ).json()) as { id: string; environments: { id: string }[] };
  const envs = project.environments.map((e) => e.id);
  for (const name of ['ORDERS_API_TOKEN', 'HELPDESK_API_KEY'])
    expect(
      (
        await page.request.put(`/api/environments/${envs[4]}/secrets/${name}`, {
          data: { value: 'test-only' },
          headers,
        })
      ).status(),
    ).toBe(200);
  for (const env of envs.slice(0, 4))
    expect(
      (await page.request.post(`/api/environments/${env}/sync`, { data: {}, headers })).status(),
    ).toBeLessThan(300);

  await page.goto(`/projects/${project.id}`);
  await hydrated(page);
  const production = page.getByTestId('env-column').nth(4);
  await production.getByTestId('synced-live-diff').click();
  await expect(
    page.getByRole('heading', { name: 'What is live in PRODUCTION vs. what was synced' }),
  ).toBeVisible();
  await expect(page.getByTestId('diff-summary')).toHaveText(
    '2 agents added, 2 workflows added, 3 articles added, 2 integrations added, 2 channels added, 6 variables added',
  );
  // Every item one line until opened; opening one shows its values by name and label.
  await expect(page.getByTestId('diff-item')).toHaveCount(17);
  await expect(page.getByTestId('diff-field').first()).toBeHidden();
  const agent = page
    .getByTestId('diff-item')
    .filter({ has: page.locator('summary strong', { hasText: /^Support agent$/ }) });
  await agent.locator('summary').click();
  await expect(agent.getByRole('link', { name: 'Order status API' })).toBeVisible();
  await expect(agent.getByRole('link', { name: 'Order status', exact: true })).toBeVisible();
  await expect(agent.getByTestId('diff-field').first()).toContainText('Description');
  await expect(agent).toContainText('Friendly');
  expect(await page.locator('main').innerText()).not.toMatch(IDS);
  await shoot(page, 'rev-first-release');
});
