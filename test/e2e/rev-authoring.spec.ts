import { expect, test, type Page } from '@playwright/test';
import {
  editorText,
  ensureAdmin,
  hydrated,
  openItem,
  openNewProjectDraft,
  signIn,
  textbox,
  shot,
} from './helpers.ts';

/** Puts the cursor at the end of a CodeMirror field. */
async function toEnd(page: Page, label: string) {
  await textbox(page, label).click();
  await page.keyboard.press('Control+End');
}

test('[REV-40] [REV-41] [REV-42] [REV-43] authoring aids: {{ completion, broken reference quick fix, Markdown preview, lists', async ({
  page,
}) => {
  await ensureAdmin(page.request);
  await signIn(page);
  await page.setViewportSize({ width: 1366, height: 900 });
  await openNewProjectDraft(page, `Authoring ${Date.now()}`, { sample: true });

  // REV-40: `{{` opens the list of variables; typing filters; Enter inserts `name}}`.
  await openItem(page, 'agents', 'Support agent');
  const fallback = textbox(page, 'Fallback message');
  await expect(fallback).toHaveAttribute('role', 'combobox');
  await toEnd(page, 'Fallback message');
  await page.keyboard.type(' Ask {{');
  const list = page.getByRole('listbox', { name: 'Variables' });
  await expect(list).toBeVisible();
  await expect(fallback).toHaveAttribute('aria-expanded', 'true');
  await expect(list.getByRole('option', { name: 'company' })).toBeVisible();
  await page.keyboard.type('sup');
  await expect(list.getByRole('option')).toHaveText(['support_email']);
  await shot(page, 'completion-1366', { fullPage: true });
  await page.keyboard.press('Enter');
  await expect(list).toHaveCount(0);
  await page.keyboard.type('.');
  await expect
    .poll(() => editorText(page, 'Fallback message'))
    .toMatch(/Ask \{\{support_email\}\}\.$/);
  // Escape closes the list; the mouse chooses too.
  await page.keyboard.type(' {{');
  await expect(list).toBeVisible();
  await page.keyboard.press('Escape');
  await expect(list).toHaveCount(0);
  await page.keyboard.type('c');
  await expect(list).toBeVisible();
  await list.getByRole('option', { name: 'company' }).click();
  await expect.poll(() => editorText(page, 'Fallback message')).toMatch(/\{\{company\}\}$/);
  // Undo takes the completion back (it went through the shared text).
  await page.keyboard.press('Control+z');
  await expect.poll(() => editorText(page, 'Fallback message')).not.toMatch(/\{\{company\}\}$/);

  // Header values are templates too (plain inputs): the same completion.
  await openItem(page, 'integrations', 'Order status API');
  const header = page.getByRole('combobox', { name: 'Headers 2 value' });
  await header.click();
  await page.keyboard.press('End');
  await page.keyboard.type(' for {{ord');
  const headerList = page.getByRole('listbox', { name: 'Variables' });
  await expect(headerList.getByRole('option')).toHaveText([
    'order_id',
    'order_status',
    'orders_api',
  ]);
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('Enter');
  await expect(header).toHaveValue('{{company}} support bot for {{order_status}}');
  await openItem(page, 'agents', 'Support agent');

  // REV-41: a broken reference is underlined where it is, with a quick fix that creates it.
  await toEnd(page, 'Fallback message');
  await page.keyboard.type(' Call {{hotline_number');
  await page.keyboard.press('Escape');
  await page.keyboard.type('}}');
  const field = page.locator('[data-field="fallbackMessage"]');
  await expect(field.locator('.cm-broken-ref')).toHaveText('{{hotline_number}}');
  await shot(page, 'broken-ref-1366');
  await field.getByRole('button', { name: 'Create variable hotline_number' }).click();
  await expect(field.locator('.cm-broken-ref')).toHaveCount(0);
  await expect(field.getByTestId('broken-references')).toHaveCount(0);
  await page.getByTestId('section-variables').click();
  await expect(page.getByTestId('item').filter({ hasText: 'hotline_number' })).toBeVisible();
  await page.getByTestId('item').filter({ hasText: 'hotline_number' }).click();
  await expect(page.getByLabel('Type', { exact: true })).toHaveValue('number');

  // REV-43: a Markdown field has a preview, rendered safely.
  await openItem(page, 'knowledge', 'Returns and refunds');
  // REV-42: a list continues on Enter; typing "- " oneself does not double the bullet; Enter on an empty item ends it.
  await toEnd(page, 'Body');
  await page.keyboard.press('Enter');
  await page.keyboard.press('Enter');
  await page.keyboard.type('- first');
  await page.keyboard.press('Enter');
  await page.keyboard.type('- second');
  await page.keyboard.press('Enter');
  await page.keyboard.type('third');
  await page.keyboard.press('Enter');
  await page.keyboard.press('Enter');
  await page.keyboard.type('After the list.');
  await expect
    .poll(() => editorText(page, 'Body'))
    .toMatch(/\n\n- first\n- second\n- third\n\nAfter the list\.$/);
  expect(await editorText(page, 'Body')).not.toContain('- -');

  await page.getByRole('button', { name: 'Preview' }).click();
  const preview = page.getByTestId('markdown-preview');
  await expect(preview.locator('h1')).toHaveText('Returns');
  await expect(preview.locator('strong')).toHaveText('30 days');
  await expect(preview.locator('li')).toHaveText(['first', 'second', 'third']);
  await expect(preview.locator('p').last()).toHaveText('After the list.');
  await shot(page, 'preview-1366');
  await page.getByRole('button', { name: 'Write' }).click();
  await expect(textbox(page, 'Body')).toBeVisible();

  // The editor at 390 px: no horizontal scroll, every field reachable, completion inside the screen.
  await page.setViewportSize({ width: 390, height: 844 });
  await openItem(page, 'agents', 'Support agent');
  const overflow = await page.evaluate(
    () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
  );
  expect(overflow).toBeLessThanOrEqual(0);
  for (const label of ['Instructions', 'Behavior rules', 'Fallback message']) {
    await textbox(page, label).scrollIntoViewIfNeeded();
    await expect(textbox(page, label)).toBeInViewport();
  }
  await toEnd(page, 'Behavior rules');
  await page.keyboard.type(' {{');
  await expect(list).toBeVisible();
  const box = (await list.boundingBox())!;
  expect(box.x).toBeGreaterThanOrEqual(0);
  expect(box.x + box.width).toBeLessThanOrEqual(390);
  await shot(page, 'editor-390', { fullPage: true });
  await page.keyboard.press('Escape');
});

test('[REV-44] a read-only stage shows no inputs: plain text, no × on tags, no add or remove buttons', async ({
  page,
  browser,
}) => {
  await ensureAdmin(page.request);
  await signIn(page);
  await page.setViewportSize({ width: 1366, height: 900 });
  const name = `Read-only look ${Date.now()}`;
  const draftUrl = await openNewProjectDraft(page, name, { sample: true });
  // A QA person may read DEV, not change it.
  await page.goto(`${/\/projects\/[^/]+/.exec(new URL(draftUrl).pathname)![0]}/members`);
  await hydrated(page);
  await page.getByLabel('Name', { exact: true }).fill('Quinn Reader');
  await page.getByLabel('Email').fill(`quinn.${Date.now()}@example.com`);
  await page.getByLabel('Role template').selectOption('qa');
  await page.getByRole('button', { name: 'Create invitation link' }).click();
  const link = (await page.getByTestId('invite-url').textContent())!.trim();
  const qa = await (await browser.newContext()).newPage();
  await qa.setViewportSize({ width: 1366, height: 900 });
  await qa.goto(link);
  await hydrated(qa);
  await qa.getByLabel('Password').fill('correct horse battery');
  await qa.getByRole('button', { name: 'Create my account' }).click();
  await expect(qa.getByRole('heading', { name: 'Projects' })).toBeVisible();
  await qa.getByRole('link', { name }).click();
  await qa.getByTestId('env-column').first().getByRole('link', { name: 'View the draft' }).click();
  await expect(qa.getByTestId('read-only-note')).toBeVisible();

  for (const [section, item] of [
    ['agents', 'Support agent'],
    ['knowledge', 'Returns and refunds'],
    ['workflows', 'Order status'],
    ['integrations', 'Order status API'],
  ] as const) {
    await openItem(qa, section, item);
    const form = qa.getByTestId('item-form');
    await expect(form.locator('input, select, textarea, [contenteditable]')).toHaveCount(0);
    await expect(form.getByRole('button')).toHaveCount(0);
    await expect(qa.getByRole('button', { name: /\+ New|Add|Remove|Delete/ })).toHaveCount(0);
  }
  // The article's body reads as the page it is; its tags are plain chips without ×.
  await openItem(qa, 'knowledge', 'Returns and refunds');
  const body = qa.locator('[data-field="body"]').getByTestId('read-only-text');
  await expect(body.locator('h1')).toHaveText('Returns');
  await openItem(qa, 'agents', 'Support agent');
  await expect(qa.locator('[data-field="tone"]')).toContainText(/friendly/i);
  await expect(qa.locator('[data-field="fallbackMessage"]')).toContainText('{{support_email}}');
  await shot(qa, 'read-only-1366', { fullPage: true });
  await qa.setViewportSize({ width: 390, height: 844 });
  await shot(qa, 'read-only-390', { fullPage: true });
});
