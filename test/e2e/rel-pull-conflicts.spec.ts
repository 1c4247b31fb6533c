import { expect, test, type Locator, type Page } from '@playwright/test';
import { ensureAdmin, signIn, shot } from './helpers.ts';

test.beforeEach(async ({ request }) => {
  await ensureAdmin(request);
});

const article = (title: string, body: string) => ({ title, body, tags: [], audiences: [] });

/** A three-stage project without the sample, created on the board; its stages' ids. */
async function threeStage(page: Page, name: string) {
  await signIn(page);
  await page.getByLabel('Name', { exact: true }).fill(`${name} ${Date.now()}`);
  await page.getByRole('radio', { name: /Three stages/ }).check();
  await page.getByRole('checkbox', { name: /sample content/ }).uncheck();
  await page.getByRole('button', { name: 'Create project' }).click();
  await expect(page.getByTestId('env-column')).toHaveCount(3);
  const boardUrl = page.url();
  const project = await (
    await page.request.get(`/api/projects/${boardUrl.split('/').pop()}`)
  ).json();
  const [, uat, production] = project.environments as { id: string }[];
  const origin = new URL(boardUrl).origin;
  const put = async (envId: string, knowledge: Record<string, ReturnType<typeof article>>) =>
    expect(
      (
        await page.request.put(`/api/environments/${envId}/content`, {
          data: { knowledge },
          headers: { origin },
        })
      ).status(),
    ).toBe(200);
  const bodyIn = async (envId: string, id: string) =>
    (
      (await (await page.request.get(`/api/environments/${envId}/content`)).json()) as {
        knowledge: Record<string, { body: string }>;
      }
    ).knowledge[id]?.body;
  return { boardUrl, uat: uat!.id, production: production!.id, put, bodyIn };
}

/** The box's (first) changed word lies inside the box as it is scrolled: readable without searching. */
async function markInView(box: Locator) {
  const outer = (await box.boundingBox())!;
  const mark = (await box.locator('mark').first().boundingBox())!;
  expect(mark.y).toBeGreaterThanOrEqual(outer.y);
  expect(mark.y + mark.height).toBeLessThanOrEqual(outer.y + outer.height);
}

async function shoot(page: Page, name: string) {
  await shot(page, `${name}-desktop`, { fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await shot(page, `${name}-phone`, { fullPage: true });
  await page.setViewportSize({ width: 1280, height: 720 });
}

test('REL-7 the pull preview shows the diff and marks what Production changed after UAT; overwriting it needs a confirmation, then the pull lands', async ({
  page,
}) => {
  const { boardUrl, uat, production, put, bodyIn } = await threeStage(page, 'Pull newer');
  await put(production, { kb_refunds: article('Refunds', 'Refunds within 30 days.') });
  await expect
    .poll(() => bodyIn(uat, 'kb_refunds'), { timeout: 15_000 })
    .toBe('Refunds within 30 days.');
  // UAT edits the article (and writes a new one); later Production edits the article too.
  await put(uat, {
    kb_refunds: article('Refunds', 'Refunds within 30 days, UAT wording.'),
    kb_gifts: article('Gift cards', 'Gift cards never expire.'),
  });
  await put(production, {
    kb_refunds: article('Refunds', 'Refunds within 45 days, the newer Production wording.'),
  });

  await page.goto(`${boardUrl}/environments/${production}?tab=editor`);
  const panel = page.getByTestId('pull-panel');
  await panel.locator('summary').click();
  const refunds = panel.getByTestId('pull-item').filter({ hasText: 'Refunds' });
  await expect(refunds.getByTestId('newer-here')).toHaveText(
    'Production changed this after UAT did',
  );
  await expect(refunds.getByTestId('diff-before')).toHaveText(
    'Refunds within 45 days, the newer Production wording.',
  );
  await expect(refunds.getByTestId('diff-after')).toHaveText(
    'Refunds within 30 days, UAT wording.',
  );
  await expect(refunds.getByTestId('diff-before').locator('mark')).not.toHaveCount(0);
  const gifts = panel.getByTestId('pull-item').filter({ hasText: 'Gift cards' });
  await expect(gifts.getByTestId('newer-here')).toHaveCount(0);

  // Pulling the newer-here article asks first; nothing has moved while it asks.
  await refunds.getByRole('checkbox').check();
  await panel.getByRole('button', { name: 'Pull 1 article' }).click();
  const ask = panel.getByTestId('pull-overwrite');
  await expect(ask).toContainText('Production changed this after UAT did');
  await expect(ask).toContainText('“Refunds”');
  expect(await bodyIn(production, 'kb_refunds')).toBe(
    'Refunds within 45 days, the newer Production wording.',
  );
  await shoot(page, 'rel-7-pull-confirm');
  await ask.getByRole('button', { name: 'Overwrite and pull' }).click();
  await expect(panel.getByRole('status')).toHaveText('Pulled 1 article from UAT.');
  await expect
    .poll(() => bodyIn(production, 'kb_refunds'))
    .toBe('Refunds within 30 days, UAT wording.');

  // An article not newer here pulls at once.
  await gifts.getByRole('checkbox').check();
  await panel.getByRole('button', { name: 'Pull 1 article' }).click();
  await expect(panel.getByTestId('pull-overwrite')).toHaveCount(0);
  await expect.poll(() => bodyIn(production, 'kb_gifts')).toBe('Gift cards never expire.');
});

test('REL-8 a long article changed around character 300 on both sides: the conflict panel shows the difference side by side', async ({
  page,
}) => {
  const { boardUrl, uat, production, put, bodyIn } = await threeStage(page, 'Readable conflict');
  const intro = 'Customers may return any item in its original packaging. '.repeat(5);
  const long = (days: string) =>
    `${intro}Refunds are paid within ${days} days of receiving the parcel. ${'Store credit is offered as an alternative on request. '.repeat(6)}The end.`;
  expect(long('thirty').indexOf('thirty')).toBeGreaterThan(280);
  // And a far longer one, changed deep down: its boxes open scrolled to the difference.
  const terms = (court: string) =>
    `${'Every order is subject to these terms and conditions of sale.\n'.repeat(60)}Disputes go to the courts of ${court}.\n${'Nothing here limits your statutory rights.\n'.repeat(20)}`;
  await put(production, {
    kb_refunds: article('Refunds', long('thirty')),
    kb_terms: article('Terms', terms('Paris')),
  });
  await expect.poll(() => bodyIn(uat, 'kb_refunds'), { timeout: 15_000 }).toBe(long('thirty'));
  await put(uat, {
    kb_refunds: article('Refunds', long('forty')),
    kb_terms: article('Terms', terms('Lyon')),
  });
  await put(production, {
    kb_refunds: article('Refunds', long('sixty')),
    kb_terms: article('Terms', terms('Nice')),
  });

  await page.goto(`${boardUrl}/environments/${uat}?tab=editor`);
  await expect(page.getByTestId('conflict')).toHaveCount(2, { timeout: 15_000 });
  const deep = page.getByTestId('conflict').filter({ hasText: 'Terms' });
  await expect(deep.getByTestId('diff-before').locator('mark')).toHaveText('Nice');
  await markInView(deep.getByTestId('diff-before'));
  await markInView(deep.getByTestId('diff-after'));
  const conflict = page.getByTestId('conflict').filter({ hasText: 'Refunds' });
  // Both versions whole, the changed words marked on each side.
  await expect(conflict.getByTestId('diff-before')).toHaveText(long('sixty'));
  await expect(conflict.getByTestId('diff-after')).toHaveText(long('forty'));
  await expect(conflict.getByTestId('diff-before').locator('mark')).toHaveText('sixty');
  await expect(conflict.getByTestId('diff-after').locator('mark')).toHaveText('forty');
  await markInView(conflict.getByTestId('diff-before'));
  await markInView(conflict.getByTestId('diff-after'));
  await expect(conflict.getByText('Production', { exact: true })).toBeVisible();
  await expect(conflict.getByText('Here', { exact: true })).toBeVisible();
  await shoot(page, 'rel-8-conflict');

  // On a phone the two versions stack: the local one below the upstream one.
  await page.setViewportSize({ width: 390, height: 844 });
  const upper = await conflict.getByTestId('diff-before').boundingBox();
  const lower = await conflict.getByTestId('diff-after').boundingBox();
  expect(lower!.y).toBeGreaterThan(upper!.y + upper!.height - 1);
  await markInView(conflict.getByTestId('diff-before'));
  await markInView(conflict.getByTestId('diff-after'));
  await page.setViewportSize({ width: 1280, height: 720 });
  await conflict.getByRole('button', { name: /Take Production/ }).click();
  await expect(page.getByTestId('conflict')).toHaveCount(1);
  await expect.poll(() => bodyIn(uat, 'kb_refunds')).toBe(long('sixty'));
});
