// Takes screenshots of the main pages against a running server: `npm run screenshots -- http://127.0.0.1:3000`.
// Creates an account and a project if the instance is fresh. Output: test-results/screenshots/*.png.
import fs from 'node:fs';
import { chromium } from '@playwright/test';

const base = process.argv[2] ?? 'http://127.0.0.1:3000';
const out = 'test-results/screenshots';
fs.mkdirSync(out, { recursive: true });
const who = { name: 'Ada Admin', email: 'ada@example.com', password: 'correct horse battery' };

const browser = await chromium.launch({
  executablePath:
    process.env.CHROMIUM_PATH ??
    (fs.existsSync('/usr/bin/chromium') ? '/usr/bin/chromium' : undefined),
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    '--disable-quic',
  ],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
const shot = (name: string) => page.screenshot({ path: `${out}/${name}.png`, fullPage: true });

await page.goto(`${base}/`);
await page.locator('body[data-hydrated="true"]').waitFor({ state: 'attached' });
if (page.url().endsWith('/setup')) {
  await shot('01-setup');
  await page.getByLabel('Your name').fill(who.name);
  await page.getByLabel('Email').fill(who.email);
  await page.getByLabel('Password').fill(who.password);
  await page.getByRole('button', { name: 'Create admin account' }).click();
} else if (page.url().includes('/signin')) {
  await shot('02-signin');
  await page.getByLabel('Email').fill(who.email);
  await page.getByLabel('Password').fill(who.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}
await page
  .getByRole('heading', { name: 'Projects' })
  .waitFor()
  .catch(async (err: unknown) => {
    await shot('99-failure');
    throw err;
  });
await shot('03-projects');
await page.getByLabel('Name').fill('Customer support');
await page.getByRole('button', { name: 'Create project' }).click();
await page.getByTestId('env-column').first().waitFor();
await shot('04-board');
await page.getByTestId('env-column').first().getByRole('link', { name: 'Open editor' }).click();
await page
  .getByTestId('connection-status')
  .and(page.locator('[data-sync-status="connected"]'))
  .waitFor();
await page.getByTestId('section-agents').click();
await page.getByTestId('item').filter({ hasText: 'Support agent' }).first().click();
await page.getByRole('textbox', { name: 'Instructions' }).click();
await page.keyboard.type('Mention {{coupon}} when asked. ');
await page.getByTestId('problem').first().waitFor();
await shot('05-editor-agent');
await page.getByTestId('section-workflows').click();
await page.getByTestId('item').filter({ hasText: 'Order status' }).click();
await page.getByTestId('step').first().waitFor();
await shot('06-editor-workflow');
await page.getByTestId('section-channels').click();
await page.getByTestId('item').filter({ hasText: 'Website widget' }).click();
await page.getByTestId('item-form').getByRole('heading', { name: 'Website widget' }).waitFor();
await shot('07-editor-channel');
// Fix the problem typed above, then walk the release path.
await page.getByTestId('section-agents').click();
await page.getByTestId('item').filter({ hasText: 'Support agent' }).first().click();
await page.getByRole('textbox', { name: 'Instructions' }).click();
for (let i = 0; i < 'Mention {{coupon}} when asked. '.length; i++)
  await page.keyboard.press('Control+z');
await page.getByTestId('problem-count').and(page.locator(':text("0")')).waitFor();
const board = page.url().replace(/\/environments\/.*/, '');
await page.goto(board);
const columns = page.getByTestId('env-column');
await columns.nth(0).getByTestId('pending-summary').waitFor();
await shot('08-board-pending');
await columns.nth(0).getByRole('link', { name: 'View the changes' }).click();
await page.getByTestId('diff-item').first().waitFor();
await shot('09-diff-first-release');
await page.goBack();
await columns.nth(0).getByRole('textbox', { name: 'DEV sync note' }).fill('First release');
await columns.nth(0).getByTestId('sync').click();
await columns.nth(1).getByTestId('pointer-current').getByText('First release').waitFor();
for (const i of [1, 2, 3]) {
  await columns.nth(i).getByTestId('sync').click();
  await columns
    .nth(i + 1)
    .getByTestId(i === 3 ? 'pointer-synced' : 'pointer-current')
    .locator('.snap')
    .waitFor();
}
await columns.nth(4).getByTestId('publish').click();
await columns.nth(4).getByTestId('pointer-live').getByText('publish by').waitFor();
await shot('10-board-live');
await columns.nth(1).getByRole('link', { name: 'View TEST' }).click();
await page.getByTestId('content-view').waitFor();
await page
  .locator('details')
  .first()
  .evaluate((d) => ((d as HTMLDetailsElement).open = true));
await shot('11-test-readonly');
await page.getByRole('link', { name: 'Variable values' }).click();
await page.getByTestId('variables-panel').locator('table').waitFor();
await shot('12-test-variables');
await page.getByRole('link', { name: 'Secrets' }).click();
await page.getByTestId('secrets-panel').getByText('Missing here').waitFor();
await shot('13-test-secrets');
await page.goto(board);
await columns.nth(4).getByRole('button', { name: 'Start a hotfix' }).click();
await page.getByTestId('draft-editor').waitFor();
await page.getByTestId('section-channels').click();
await page.getByTestId('item').filter({ hasText: 'Website widget' }).click();
await page.getByRole('textbox', { name: 'Greeting' }).click();
await page.keyboard.press('Control+Home');
await page.keyboard.type('We are closed today. ');
await shot('14-hotfix-editor');
await page.getByRole('button', { name: 'Publish hotfix' }).click();
await page.getByTestId('content-view').waitFor();
await page.goto(board);
await page.getByTestId('divergence').waitFor();
await shot('15-board-divergence');
await page.goto(`${board}/members/rules`);
await page.getByRole('spinbutton', { name: 'TEST required approvals' }).fill('1');
await page.getByRole('button', { name: 'Save gates' }).click();
await page.getByTestId('gates-save').getByRole('status').waitFor();
await page.goto(`${board}/members`);
await page.getByTestId('member-row').first().waitFor();
await page.getByLabel('Name', { exact: true }).fill('Quinn QA');
await page.getByLabel('Email').fill(`qa.${Date.now()}@example.com`);
await page.getByLabel('Role template').selectOption('qa');
await page.getByRole('button', { name: 'Create invitation link' }).click();
await page.getByTestId('invite-url').waitFor();
await page.getByRole('button', { name: 'Edit roles' }).first().click();
await shot('16-members');
await page.goto(board);
await page.getByTestId('divergence').getByRole('button', { name: 'Apply to DEV' }).click();
await page.getByTestId('divergence').waitFor({ state: 'detached' });
await page.goto(board);
// Something new in DEV, and a request for it to enter TEST (gated above).
await page.goto(board.replace(/$/, '') + '');
await columns.nth(0).getByTestId('request-approval').click();
await columns.nth(0).getByTestId('approval-count').waitFor();
await shot('17-board-approval');
await columns.nth(2).getByRole('link', { name: 'View UAT' }).click();
await page.getByRole('link', { name: 'Share links' }).click();
await page.getByLabel('For whom?').fill('Sales review');
await page.getByRole('checkbox', { name: 'Let them leave comments' }).check();
await page.getByRole('button', { name: 'Create link' }).click();
const link = (await page.getByTestId('new-share-link').textContent())!.trim();
await shot('18-share-links');
const stranger = await (
  await browser.newContext({ viewport: { width: 1280, height: 800 } })
).newPage();
await stranger.goto(link);
await stranger.getByTestId('content-view').waitFor();
await stranger.screenshot({ path: `${out}/19-share-page.png`, fullPage: false });

// Audiences of UAT; then a production credential reused in UAT, as the board shows it.
await page.getByRole('link', { name: 'Audiences' }).click();
await page.getByRole('button', { name: 'New audience' }).click();
await page.getByLabel('Name', { exact: true }).fill('Employees');
await page.getByLabel('Description').fill('Staff trying the bot before customers do');
await page.getByRole('button', { name: 'Add a rule' }).click();
await page.getByLabel('Values (comma separated)').fill('Sales, Support');
await page.getByRole('button', { name: 'Save audience' }).click();
await page.getByTestId('audience').filter({ hasText: 'Employees' }).waitFor();
await shot('20-audiences');
const origin = { origin: new URL(base).origin };
const envs = (
  (await (await page.request.get(`${base}/api/projects/${board.split('/').pop()}`)).json()) as {
    environments: { id: string }[];
  }
).environments;
for (const e of [envs[2]!, envs[4]!]) {
  const res = await page.request.put(`${base}/api/environments/${e.id}/secrets/ORDERS_API_TOKEN`, {
    data: { value: 'sk_live_same_everywhere' },
    headers: origin,
  });
  if (!res.ok()) throw new Error(`secret: ${res.status()} ${await res.text()}`);
}
await page.goto(board);
await page.getByTestId('shared-credentials').waitFor();
await shot('21-board-shared-credentials');
// The new-project form with a custom pipeline.
await page.goto(`${base}/`);
await page.getByRole('radio', { name: /Custom/ }).check();
await page.getByRole('button', { name: 'Add a stage before the last' }).click();
await page.getByTestId('flow-rules').locator('summary').click();
await page.getByLabel('How knowledge moves').selectOption('down');
await page.getByLabel('Where knowledge is set up').selectOption({ label: 'Production' });
await page.getByTestId('flow-rules').getByLabel('UAT').check();
await page.getByLabel('How channels moves').selectOption('local');
await shot('22-custom-pipeline');
// Three stages: knowledge flows down from Production; UAT tries an article; Production pulls it.
await page.getByRole('radio', { name: /Three stages/ }).check();
await page.getByLabel('Name', { exact: true }).fill('Knowledge cluster');
await page.getByRole('button', { name: 'Create project' }).click();
await page.getByTestId('env-column').nth(2).waitFor();
const km = (
  (await (
    await page.request.get(`${base}/api/projects/${page.url().split('/').pop()}`)
  ).json()) as { environments: { id: string }[] }
).environments;
const uatContent = (await (
  await page.request.get(`${base}/api/environments/${km[1]!.id}/content`)
).json()) as { knowledge: Record<string, unknown> };
uatContent.knowledge.kb_new_returns = {
  title: 'Returns for gift orders',
  body: 'Gift orders can be returned by the giver or the receiver within 60 days.',
  tags: ['returns'],
  audiences: ['customers'],
};
await page.request.put(`${base}/api/environments/${km[1]!.id}/content`, {
  data: { knowledge: uatContent.knowledge },
  headers: origin,
});
await page.getByTestId('env-column').nth(2).getByTestId('edit-own-sections').click();
await page.getByTestId('pull-panel').locator('summary').click();
await page.getByTestId('pull-panel').getByText('Returns for gift orders').waitFor();
await shot('23-production-knowledge-pull');
await page.goto(page.url().replace(/environments\/.*/, ''));
await page.getByTestId('env-column').nth(0).getByRole('link', { name: 'Open editor' }).click();
await page.getByTestId('section-knowledge').click();
await page.getByTestId('item').first().click();
await page.getByTestId('section-flows-down').waitFor();
await shot('24-staging-knowledge-read-only');
// Staging's history: each replication opens as a diff of what flowed.
await page.goto(page.url().replace(/environments\/.*/, `environments/${km[0]!.id}?tab=history`));
await page.getByTestId('history-changes').first().waitFor();
await shot('25-staging-history-replications');
await page.getByTestId('history-changes').first().click();
await page.getByRole('heading', { name: /^Replicated/ }).waitFor();
await shot('26-what-flowed');
await browser.close();
console.log(`screenshots in ${out}/`);
