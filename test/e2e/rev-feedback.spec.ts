import { expect, test } from '@playwright/test';
import { ensureAdmin, hydrated, signIn, shot } from './helpers.ts';

/**
 * REV-20, REV-21, REV-24: a share link for a later stage takes feedback; the stakeholder comments
 * on one item; a team member answers in the environment's Feedback tab; the stakeholder reloads
 * and reads the answer under that item.
 */
test('[REV-20] a stakeholder comments on one item and sees the team’s reply', async ({
  page,
  browser,
  baseURL,
}) => {
  await ensureAdmin(page.request);
  await signIn(page);
  const headers = { origin: baseURL! };
  const project = (await (
    await page.request.post('/api/projects', {
      data: { name: 'Feedback round', sample: true },
      headers,
    })
  ).json()) as { id: string; environments: { id: string; name: string }[] };
  const [dev, test1] = project.environments as [{ id: string }, { id: string; name: string }];
  expect(
    (await page.request.post(`/api/environments/${dev.id}/sync`, { data: {}, headers })).ok(),
  ).toBe(true);
  const link = (await (
    await page.request.post(`/api/environments/${test1.id}/share-links`, {
      data: { label: 'Board of directors', allowFeedback: true },
      headers,
    })
  ).json()) as { path: string };

  // The stakeholder, without an account: a Comment button on each item, a form for that item only.
  const stakeholder = await (await browser.newContext()).newPage();
  await stakeholder.setViewportSize({ width: 1366, height: 900 });
  await stakeholder.goto(link.path);
  await hydrated(stakeholder);
  const comment = (name: string) => stakeholder.getByRole('button', { name: `Comment on ${name}` });
  await expect(comment('agent “Support agent”')).toBeVisible();
  await expect(comment('workflow “Open a ticket”')).toBeVisible();
  await comment('agent “Support agent”').click();
  await stakeholder.getByLabel('Your name').fill('Olga Owner');
  await stakeholder
    .getByLabel('Your comment on agent “Support agent”')
    .fill('The greeting should be warmer.');
  await stakeholder.getByRole('button', { name: 'Send comment' }).click();
  const support = stakeholder.locator('[data-testid="item-feedback"][data-item="agt_support"]');
  await expect(support.getByRole('status')).toContainText('Thank you');
  await expect(support).toContainText('The greeting should be warmer.');
  await expect(
    stakeholder.locator('[data-testid="item-feedback"][data-item="wf_ticket"]'),
  ).not.toContainText('warmer');
  await shot(stakeholder, 'share-commented-1366', { fullPage: true });

  // The board counts it on the stage and links to the Feedback tab.
  await page.goto(`/projects/${project.id}`);
  await hydrated(page);
  await expect(page.getByTestId('open-feedback')).toHaveText('1 open comment from stakeholders');
  await shot(page, 'board-1366');
  await page.getByTestId('open-feedback').click();

  // The team: the comment under the item's name (a link to it), a reply, then Resolve.
  const panel = page.getByTestId('feedback-panel');
  const group = panel.getByTestId('feedback-group').filter({ hasText: 'Support agent' });
  await expect(group.getByRole('link', { name: 'Support agent' })).toBeVisible();
  await expect(group).toContainText('The greeting should be warmer.');
  await expect(panel).not.toContainText('agt_support');
  await group.getByLabel('Reply to Olga Owner').fill('Agreed: warmer from the next release.');
  await group.getByRole('button', { name: 'Reply' }).click();
  await expect(group.locator('.reply')).toContainText('Agreed: warmer from the next release.');
  await shot(page, 'feedback-tab-1366', { fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await shot(page, 'feedback-tab-390', { fullPage: true });
  await page.setViewportSize({ width: 1366, height: 900 });
  await group.getByRole('button', { name: 'Resolve' }).click();
  await expect(panel.getByText('No open feedback')).toBeVisible();
  await panel.getByRole('button', { name: /Resolved/ }).click();
  await expect(panel.getByTestId('feedback-item')).toContainText('Resolved by Ada Admin');
  // The item's link opens it on the content tab.
  await panel.getByRole('link', { name: 'Support agent' }).click();
  await expect(page.locator('details#item-agents-agt_support')).toHaveAttribute('open', '');

  // The stakeholder reloads: the reply under that item, resolved; the name is remembered.
  await stakeholder.reload();
  await hydrated(stakeholder);
  await expect(support.getByTestId('reply')).toContainText('Agreed: warmer from the next release.');
  await expect(support.getByTestId('reply')).toContainText('Ada Admin');
  await expect(support.getByTestId('resolved')).toBeVisible();
  await comment('workflow “Open a ticket”').click();
  await expect(stakeholder.getByLabel('Your name')).toHaveValue('Olga Owner');
  await shot(stakeholder, 'share-reply-1366', { fullPage: true });
  await stakeholder.setViewportSize({ width: 390, height: 844 });
  await support.scrollIntoViewIfNeeded();
  await shot(stakeholder, 'share-reply-390');
  await shot(stakeholder, 'share-reply-390-full', { fullPage: true });
  await stakeholder.context().close();
});
