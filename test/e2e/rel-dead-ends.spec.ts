import { expect, test, type Browser, type Page } from '@playwright/test';
import { admin, ensureAdmin, hydrated, signIn, shot } from './helpers.ts';

test.beforeEach(async ({ request }) => {
  await ensureAdmin(request);
});

/** A permission id as the server names it ("content.read"), in brackets: never shown to a person. */
const PERMISSION_ID = /\([a-z]+\.[a-z]+\)/;

/** A person invited through the API with one persona template, signed in in a browser of their own. */
async function persona(
  browser: Browser,
  adminPage: Page,
  origin: string,
  projectId: string,
  template: string,
  name: string,
): Promise<Page> {
  const email = `${template}.${Date.now()}@example.com`;
  const res = await adminPage.request.post('/api/invitations', {
    data: { email, name, projectId, template },
    headers: { origin },
  });
  expect(res.status()).toBe(201);
  const token = ((await res.json()) as { path: string }).path.split('/').pop()!;
  const context = await browser.newContext();
  const accepted = await context.request.post(`/api/invitations/${token}/accept`, {
    data: { password: admin.password },
    headers: { origin },
  });
  expect(accepted.status()).toBe(201);
  return context.newPage();
}

/** The page has settled with no error, no endless "Connecting…", and no permission id anywhere. */
async function noDeadEnd(page: Page, where: string): Promise<void> {
  await hydrated(page);
  await expect(page.locator('[aria-busy="true"]'), `${where}: still loading`).toHaveCount(0);
  const status = page.getByTestId('connection-status');
  if ((await status.count()) > 0)
    await expect(status, `${where}: the editor never connects`).toHaveAttribute(
      'data-sync-status',
      'connected',
    );
  await expect(page.locator('.error'), `${where}: shows an error`).toHaveCount(0);
  expect(await page.locator('body').innerText(), `${where}: shows a permission id`).not.toMatch(
    PERMISSION_ID,
  );
}

async function shoot(page: Page, name: string): Promise<void> {
  await page.setViewportSize({ width: 1280, height: 900 });
  await shot(page, `${name}-desktop`, { fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await shot(page, `${name}-phone`, { fullPage: true });
  await page.setViewportSize({ width: 1280, height: 900 });
}

test('REL-10 a business owner and a developer find no dead end: every offered link works, out-of-reach stages say who can grant access, no permission id shows', async ({
  page,
  browser,
  baseURL,
}) => {
  test.setTimeout(180_000);
  const origin = baseURL!;
  await signIn(page);
  const project = (await (
    await page.request.post('/api/projects', {
      data: { name: `Dead ends ${Date.now()}`, sample: true },
      headers: { origin },
    })
  ).json()) as { id: string; environments: { id: string; name: string }[] };
  // The release has reached UAT, so the business owner has something to review.
  for (const e of project.environments.slice(0, 2))
    expect(
      (
        await page.request.post(`/api/environments/${e.id}/sync`, { data: {}, headers: { origin } })
      ).status(),
    ).toBe(200);

  const people = [
    { template: 'business_owner', name: 'Olga Owner', reads: ['UAT', 'STAGING'] },
    { template: 'developer', name: 'Dev Developer', reads: ['DEV', 'TEST'] },
  ];
  for (const who of people) {
    const p = await persona(browser, page, origin, project.id, who.template, who.name);
    const board = `/projects/${project.id}`;
    await p.goto(board);
    await noDeadEnd(p, `${who.name}'s board`);
    const columns = p.getByTestId('env-column');
    await expect(columns).toHaveCount(5);

    for (const [i, env] of project.environments.entries()) {
      const column = columns.nth(i);
      if (who.reads.includes(env.name)) {
        await expect(column.getByTestId('stage-hidden')).toHaveCount(0);
      } else {
        // Out of reach: says so, names who can grant it, and offers no way in.
        await expect(column.getByTestId('stage-hidden')).toContainText(
          `Ask a project admin (${admin.name}) for access to ${env.name}`,
        );
        await expect(column.locator(`a[href*="/environments/${env.id}"]`)).toHaveCount(0);
      }
    }
    await shoot(p, `rel-10-board-${who.template}`);

    // Every link the board offers leads somewhere that works, and so does every tab there.
    const links = [
      ...new Set(
        await p
          .locator('main a[href^="/projects/"]')
          .evaluateAll((as) => as.map((a) => a.getAttribute('href')!)),
      ),
    ];
    expect(links.length).toBeGreaterThan(0);
    for (const href of links) {
      await p.goto(href);
      await noDeadEnd(p, `${who.name} → ${href}`);
      if (!href.includes('/environments/')) continue;
      const tabs = await p
        .getByRole('navigation', { name: /views/ })
        .getByRole('link')
        .evaluateAll((as) => as.map((a) => a.getAttribute('href')!));
      for (const tab of tabs) {
        await p.goto(`${href.split('?')[0]}${tab}`);
        await noDeadEnd(p, `${who.name} → ${href} ${tab}`);
      }
    }

    // A stage out of reach, opened by its address (a bookmark, a link from a colleague): a
    // sentence, not an error or an empty editor.
    for (const env of project.environments.filter((e) => !who.reads.includes(e.name))) {
      await p.goto(`${board}/environments/${env.id}`);
      await noDeadEnd(p, `${who.name} → ${env.name} by address`);
      await expect(p.getByTestId('out-of-reach')).toContainText(
        `Ask a project admin (${admin.name}) for access to ${env.name}`,
      );
      await expect(p.getByTestId('connection-status')).toHaveCount(0);
    }
    await p.goto(
      `${board}/environments/${project.environments[who.template === 'developer' ? 2 : 0]!.id}`,
    );
    await expect(p.getByTestId('out-of-reach')).toBeVisible();
    await shoot(p, `rel-10-out-of-reach-${who.template}`);

    // The members page: the member list, read-only, and who changes it; no error banner.
    await p.goto(`${board}/members`);
    await noDeadEnd(p, `${who.name}'s members page`);
    await expect(p.getByTestId('member-row').filter({ hasText: who.name })).toBeVisible();
    await expect(p.getByRole('button', { name: 'Edit roles' })).toHaveCount(0);
    await expect(p.getByTestId('members-read-only')).toContainText(admin.name);
    await shoot(p, `rel-10-members-${who.template}`);
    await p.context().close();
  }
});
