import { expect, test, type BrowserContext, type Page } from '@playwright/test';
import { ensureAdmin, hydrated, signIn, shot } from './helpers.ts';

/** REV-30, REV-32: every board column shows its stage's health, in words, at 1366 and 390 px. */
test.beforeEach(async ({ request }) => {
  await ensureAdmin(request);
});

async function shoot(page: Page, name: string) {
  await page.setViewportSize({ width: 1366, height: 900 });
  await shot(page, `${name}-1366`, { fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await shot(page, `${name}-390`, { fullPage: true });
  // Nothing runs wider than the phone.
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
  await page.setViewportSize({ width: 1366, height: 900 });
}

interface Project {
  id: string;
  environments: { id: string; name: string }[];
}

/** The signed-in page's API, writes carrying the page's origin. */
function apiOf(page: Page) {
  const origin = new URL(page.url()).origin;
  const headers = { origin };
  const ok = async <T>(method: 'GET' | 'POST' | 'PUT', path: string, data?: unknown) => {
    const res = await page.request.fetch(path, { method, data, headers });
    expect(res.status(), `${method} ${path}: ${await res.text()}`).toBeLessThan(300);
    return (await res.json().catch(() => null)) as T;
  };
  return { ok, origin };
}

/** A second person with these roles in the project, signed in on their own request context. */
async function member(
  page: Page,
  project: Project,
  name: string,
  roles: Record<string, string[]>,
): Promise<BrowserContext> {
  const { ok, origin } = apiOf(page);
  const email = `${name.toLowerCase().replace(/\W+/g, '.')}.${Date.now()}@example.com`;
  const password = 'correct horse battery staple';
  const user = await ok<{ id: string }>('POST', '/api/users', { email, name, password });
  await ok('PUT', `/api/projects/${project.id}/members/${user.id}`, { roles });
  const context = await page.context().browser()!.newContext({ baseURL: origin });
  const res = await context.request.post('/api/session', {
    data: { email, password },
    headers: { origin },
  });
  expect(res.status()).toBe(200);
  return context;
}

test('REV-30 REV-32 five stages, sample: production names its missing secrets, a gated UAT says how many approvals it needs and how far a request got, an open hotfix says who and since when, a clean stage says Ready', async ({
  page,
}) => {
  await signIn(page);
  const { ok, origin } = apiOf(page);
  const project = await ok<Project>('POST', '/api/projects', {
    name: `Health five ${Date.now()}`,
    preset: 'five-stage',
    sample: true,
  });
  const [dev, testEnv, uat, staging, prod] = project.environments as [
    Project['environments'][0],
    ...Project['environments'],
  ];
  for (const e of [dev, testEnv, uat, staging])
    await ok('POST', `/api/environments/${e!.id}/sync`, { confirmMissingSecrets: true });
  await ok('POST', `/api/environments/${prod!.id}/publish`, { confirmMissingSecrets: true });
  await ok('PUT', `/api/environments/${uat!.id}/gate`, { requiredApprovals: 2 });
  // A gate nobody can meet: five approvals into STAGING, where only the admin may approve.
  await ok('PUT', `/api/environments/${staging!.id}/gate`, { requiredApprovals: 5 });

  // DEV changes, TEST takes it, and a request to move it into UAT gets one of two approvals.
  const content = await ok<{ knowledge: Record<string, { body: string }> }>(
    'GET',
    `/api/environments/${dev.id}/content`,
  );
  const [first] = Object.keys(content.knowledge);
  content.knowledge[first!]!.body = `Updated. ${content.knowledge[first!]!.body}`;
  await ok('PUT', `/api/environments/${dev.id}/content`, content);
  await ok('POST', `/api/environments/${dev.id}/sync`, {});
  const request = await ok<{ id: string }>('POST', `/api/environments/${testEnv!.id}/requests`, {});
  const olga = await member(page, project, 'Olga Owner', { [uat!.id]: ['viewer', 'approver'] });
  expect(
    (
      await olga.request.post(`/api/requests/${request.id}/approve`, {
        data: {},
        headers: { origin },
      })
    ).status(),
  ).toBe(200);
  await ok('POST', `/api/environments/${prod!.id}/hotfix`);
  // DEV gets the secrets the sample's integrations use: nothing left to fix there.
  for (const name of ['HELPDESK_API_KEY', 'ORDERS_API_TOKEN'])
    await ok('PUT', `/api/environments/${dev.id}/secrets/${name}`, { value: 'not shown' });

  await page.goto(`/projects/${project.id}`);
  await hydrated(page);
  const columns = page.getByTestId('env-column');
  const health = (i: number) => columns.nth(i).getByTestId('stage-health');

  // Production: its missing secrets by name, with the fix a click away, and the open hotfix.
  await expect(health(4).getByTestId('missing-secrets')).toHaveText(
    /2 secrets missing: HELPDESK_API_KEY, ORDERS_API_TOKEN\.\s+Add them/,
  );
  await expect(
    health(4).getByTestId('missing-secrets').getByRole('link', { name: 'Add them' }),
  ).toHaveAttribute('href', `/projects/${project.id}/environments/${prod!.id}?tab=secrets`);
  await expect(health(4).getByTestId('health-hotfix')).toHaveText(
    'Hotfix open: started by Ada Admin, just now. Open it',
  );
  await expect(health(4).getByTestId('health-ready')).toHaveCount(0);

  // UAT: the gate, who may approve, and how far the open request got.
  await expect(health(2).getByTestId('health-gate')).toHaveText(
    'Needs 2 approvals to enter UAT; Ada Admin and Olga Owner may approve.',
  );
  await expect(health(2).getByTestId('health-request')).toContainText(
    '1 of 2 approvals for the Sync from TEST',
  );
  await expect(health(2).getByTestId('health-request')).toContainText('requested by Ada Admin');
  await expect(health(3).getByTestId('health-gate')).toHaveText(
    'Needs 5 approvals to enter STAGING, but only 1 person may approve here: a project admin can give the approver role.',
  );
  // DEV, clean: Ready, and nothing else to say.
  await expect(health(0).getByTestId('health-ready')).toHaveText('Ready');
  await expect(health(0).locator('li')).toHaveCount(1);
  await shoot(page, 'rev-health-five');

  // Someone with a role in DEV only sees DEV's health and nothing of the others'.
  const dana = await member(page, project, 'Dana Dev', { [dev.id]: ['viewer'] });
  const board = await (await dana.request.get(`/api/projects/${project.id}/board`)).json();
  expect(board.stages[4]).toMatchObject({ readable: false, missingSecrets: [], hotfix: null });
  expect(board.stages[2].mayApprove).toBeUndefined();
  const theirs = await dana.newPage();
  await theirs.goto(`/projects/${project.id}`);
  await hydrated(theirs);
  const their = theirs.getByTestId('env-column');
  await expect(their.nth(0).getByTestId('stage-health')).toBeVisible();
  for (const i of [1, 2, 3, 4]) {
    await expect(their.nth(i).getByTestId('stage-hidden')).toBeVisible();
    await expect(their.nth(i).getByTestId('stage-health')).toHaveCount(0);
  }
});

test('REV-30 three stages, sample: a replication conflict shows on UAT with a link to resolve it, Staging says where Knowledge flows from, gated production names its missing secrets', async ({
  page,
}) => {
  await signIn(page);
  const { ok } = apiOf(page);
  const project = await ok<Project>('POST', '/api/projects', {
    name: `Health three ${Date.now()}`,
    preset: 'three-stage',
    sample: true,
  });
  const [staging, uat, production] = project.environments as [
    Project['environments'][0],
    ...Project['environments'],
  ];
  for (const e of [staging, uat])
    await ok('POST', `/api/environments/${e!.id}/sync`, { confirmMissingSecrets: true });
  // Production is gated once its content is in.
  await ok('PUT', `/api/environments/${production!.id}/gate`, { requiredApprovals: 1 });

  // UAT and Production both change the same article: a conflict in UAT once replication runs.
  type Knowledge = { knowledge: Record<string, { title: string; body: string }> };
  const edit = async (envId: string, prefix: string) => {
    const { knowledge } = await ok<Knowledge>('GET', `/api/environments/${envId}/content`);
    const [id] = Object.keys(knowledge);
    knowledge[id!]!.body = `${prefix} ${knowledge[id!]!.body}`;
    await ok('PUT', `/api/environments/${envId}/content`, { knowledge });
  };
  await edit(uat!.id, 'UAT wording.');
  await edit(production!.id, 'Production wording.');

  await page.goto(`/projects/${project.id}`);
  await hydrated(page);
  const columns = page.getByTestId('env-column');
  const health = (i: number) => columns.nth(i).getByTestId('stage-health');
  // Replication runs a moment after a change: the board shows it once reloaded.
  await expect(async () => {
    await page.reload();
    await expect(health(1).getByTestId('health-conflicts')).toBeVisible({ timeout: 1000 });
  }).toPass({ timeout: 20_000 });
  const conflict = health(1).getByTestId('health-conflicts');
  await expect(conflict).toHaveText(
    '1 conflict in Knowledge: changed both here and in Production; UAT’s version is kept. Resolve',
  );
  await expect(conflict.getByRole('link', { name: 'Resolve' })).toHaveAttribute(
    'href',
    `/projects/${project.id}/environments/${uat!.id}?tab=editor`,
  );
  // UAT kept its version (nothing arrived); Staging took UAT's edit.
  await expect(health(1).getByTestId('health-replication')).toHaveText(
    'Knowledge flows from Production: nothing has arrived yet',
  );
  await expect(health(0).getByTestId('health-replication')).toHaveText(
    /^Knowledge flows from UAT: last replicated (just now|1 min ago)$/,
  );
  await expect(health(2).getByTestId('health-replication')).toHaveCount(0);
  // Production: its gate, and the secrets its integrations lack.
  await expect(health(2).getByTestId('health-gate')).toContainText(
    'Needs 1 approval to enter Production and to go live; Ada Admin may approve.',
  );
  await expect(health(2).getByTestId('missing-secrets')).toContainText('2 secrets missing');
  await shoot(page, 'rev-health-three');

  await conflict.getByRole('link', { name: 'Resolve' }).click();
  await expect(page.getByTestId('conflicts')).toBeVisible();
});
