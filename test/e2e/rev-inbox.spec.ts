import { expect, test, type Browser, type Page } from '@playwright/test';
import { ensureAdmin, hydrated, signIn, shot } from './helpers.ts';

/**
 * Ada (signed in, inbox read) with a sample project whose TEST needs one approval, and a second
 * person who may edit and Sync DEV; `request()` has them ask for the Sync DEV → TEST from their
 * own browser session.
 */
async function gatedDesk(
  page: Page,
  browser: Browser,
  baseURL: string,
  name: string,
  person: string,
) {
  const origin = { origin: baseURL };
  await ensureAdmin(page.request);
  await signIn(page);
  // Earlier tests may have left Ada notifications: start from an empty badge.
  await page.request.post('/api/notifications/read', { data: { all: true }, headers: origin });
  const project = (await (
    await page.request.post('/api/projects', { data: { name, sample: true }, headers: origin })
  ).json()) as { id: string; environments: { id: string }[] };
  const [dev, test1] = project.environments.map((e) => e.id) as [string, string];
  expect(
    (
      await page.request.put(`/api/environments/${test1}/gate`, {
        data: { requiredApprovals: 1, allowSelfApproval: false },
        headers: origin,
      })
    ).status(),
  ).toBe(200);
  const email = `${person.split(' ')[0]!.toLowerCase()}-${Date.now()}@example.com`;
  const user = (await (
    await page.request.post('/api/users', {
      data: { email, name: person, password: 'correct horse battery' },
      headers: origin,
    })
  ).json()) as { id: string };
  await page.request.put(`/api/projects/${project.id}/members/${user.id}`, {
    data: { roles: { [dev]: ['viewer', 'editor', 'promoter'] } },
    headers: origin,
  });
  const request = async () => {
    const other = await browser.newContext({ baseURL });
    expect(
      (
        await other.request.post('/api/session', {
          data: { email, password: 'correct horse battery' },
          headers: origin,
        })
      ).status(),
    ).toBe(200);
    const requested = await other.request.post(`/api/environments/${dev}/requests`, {
      data: { message: 'Ready for TEST' },
      headers: origin,
    });
    expect(requested.status()).toBe(201);
    await other.close();
  };
  return { project, request };
}

/**
 * REV-78: the header's inbox. An approver is told of a request in the inbox (a badge with the
 * unread count), approves it from there, and its link lands on the board's approval box.
 */
test('[REV-78] an approver sees the request in the inbox and approves from there', async ({
  page,
  browser,
  baseURL,
}) => {
  const { request } = await gatedDesk(page, browser, baseURL!, 'Inbox desk', 'Dana Dev');

  await page.setViewportSize({ width: 1366, height: 900 });
  await page.goto('/');
  await hydrated(page);
  await expect(page.getByTestId('inbox-button')).toBeVisible();
  await expect(page.getByTestId('inbox-badge')).toHaveCount(0);

  // Dana asks for the Sync DEV → TEST, from her own browser session.
  await request();

  // Ada's inbox refreshes when she comes back to the window (and on her event stream).
  await page.evaluate(() => window.dispatchEvent(new Event('focus')));
  await expect(page.getByTestId('inbox-badge')).toHaveText('1');
  await page.getByTestId('inbox-button').click();
  const item = page.getByTestId('notification').first();
  await expect(item).toContainText('Dana Dev asks for your approval: a Sync DEV → TEST');
  await expect(item).toContainText('just now');
  await shot(page, 'inbox-1366');

  await item.getByTestId('inbox-approve').click();
  await expect(item.getByRole('status')).toHaveText('Approved: it may move now.');
  await expect(page.getByTestId('inbox-badge')).toHaveCount(0);

  // Its link lands on the board's approval box, focused, which shows the approval.
  await item.getByRole('link', { name: /asks for your approval/ }).click();
  const box = page.locator('[id^="request-"]');
  await expect(box).toBeFocused();
  await expect(box.getByTestId('approval-count')).toContainText('1 of 1 approved: Ada Admin');

  // On a phone the panel spans the screen.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.getByTestId('inbox-button').click();
  await expect(page.getByRole('region', { name: 'Notifications' })).toBeVisible();
  await shot(page, 'inbox-390');
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  expect(width).toBeLessThanOrEqual(390);
  await expect(page.getByRole('button', { name: 'Mark all read' })).toHaveCount(0);
});

test('[REV-78] [REV-60] on a project page the badge follows the event stream: a request shows without a reload or a focus', async ({
  page,
  browser,
  baseURL,
}) => {
  const { project, request } = await gatedDesk(
    page,
    browser,
    baseURL!,
    'Live inbox desk',
    'Erin Editor',
  );

  await page.goto(`/projects/${project.id}`);
  await hydrated(page);
  await expect(page.getByTestId('live-indicator')).toHaveText('Live');
  await expect(page.getByTestId('inbox-badge')).toHaveCount(0);

  await request();

  // No focus event, no reload: the project's stream carries Ada's notification.
  await expect(page.getByTestId('inbox-badge')).toHaveText('1');
});
