import { expect, test, type Page } from '@playwright/test';
import type { ProjectView } from '#schema/api.ts';
import { ensureAdmin, hydrated, signIn, shot } from './helpers.ts';

/** Console errors and uncaught exceptions of a page, to assert there are none. */
function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`${page.url()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`${page.url()}: ${e.message}`));
  return errors;
}

/** Opens a page and waits until it has settled (hydrated, no request in flight). */
async function visit(page: Page, path: string): Promise<void> {
  await page.goto(path);
  await hydrated(page);
  await page.waitForLoadState('networkidle');
}

test('[REV-3] no console errors signed out (sign-in page) or signed in (projects, board, environment, members, tokens)', async ({
  page,
  request,
}) => {
  await ensureAdmin(request);
  const errors = watchErrors(page);

  // Signed out: the sign-in page, and a signed-in page that sends the visitor there.
  await visit(page, '/signin');
  await expect(page.getByRole('button', { name: 'Sign in' })).toBeVisible();
  await visit(page, '/tokens');
  await expect(page).toHaveURL(/\/signin\?next=/);
  expect(errors).toEqual([]);

  await signIn(page);
  const origin = new URL(page.url()).origin;
  const project = (await (
    await page.request.post('/api/projects', {
      data: { name: 'Console check', preset: 'five-stage', sample: true },
      headers: { origin },
    })
  ).json()) as ProjectView;
  const uat = project.environments[2]!;

  for (const [name, path] of [
    ['projects', '/'],
    ['board', `/projects/${project.id}`],
    ['environment', `/projects/${project.id}/environments/${uat.id}`],
    ['members', `/projects/${project.id}/members`],
    ['tokens', '/tokens'],
  ] as const) {
    await visit(page, path);
    await shot(page, `rev-2-${name}`, { fullPage: true });
  }
  await expect(page.getByRole('heading', { name: /tokens/i }).first()).toBeVisible();
  expect(errors).toEqual([]);
});

test('[REV-3] "Skip to content" is the first focusable element, shows on focus and moves focus to the content', async ({
  page,
  request,
}) => {
  await ensureAdmin(request);
  await signIn(page);
  for (const width of [1366, 390]) {
    await page.setViewportSize({ width, height: width > 500 ? 800 : 844 });
    await visit(page, '/');
    await page.keyboard.press('Tab');
    const skip = page.getByRole('link', { name: 'Skip to content' });
    await expect(skip).toBeFocused();
    await expect(skip).toBeInViewport();
    await shot(page, `rev-skip-link-${width}`);
    await page.keyboard.press('Enter');
    await expect(page.locator('#content')).toBeFocused();
    // The next Tab lands inside the content, past the top bar's links.
    await page.keyboard.press('Tab');
    expect(
      await page.evaluate(() =>
        document.getElementById('content')!.contains(document.activeElement),
      ),
    ).toBe(true);
  }
});
