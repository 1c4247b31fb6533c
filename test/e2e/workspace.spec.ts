import fs from 'node:fs';
import { expect, test, type Browser } from '@playwright/test';
import { canonicalContent } from '#schema/content/canonical.ts';
import type { WorkspaceContent } from '#schema/content/ydoc.ts';
import {
  editorText,
  ensureAdmin,
  openItem,
  openNewProjectDraft,
  signIn,
  textbox,
} from './helpers.ts';

test.beforeEach(async ({ request }) => {
  await ensureAdmin(request);
});

/** Two signed-in people, each in their own browser context, on the same new sample draft. */
async function twoPeople(browser: Browser, project: string) {
  const annContext = await browser.newContext();
  const bobContext = await browser.newContext();
  const ann = await annContext.newPage();
  const bob = await bobContext.newPage();
  await signIn(ann);
  await signIn(bob);
  const url = await openNewProjectDraft(ann, project, { sample: true });
  await bob.goto(url);
  await expect(bob.getByTestId('connection-status')).toHaveAttribute(
    'data-sync-status',
    'connected',
  );
  return {
    ann,
    bob,
    annContext,
    bobContext,
    close: () => Promise.all([annContext.close(), bobContext.close()]),
  };
}

test('[R6] two people edit different fields of one workflow and the same instructions at once, and converge', async ({
  browser,
}) => {
  const { ann, bob, close } = await twoPeople(browser, 'Concurrent edits');
  await openItem(ann, 'workflows', 'Order status');
  await openItem(bob, 'workflows', 'Order status');
  await Promise.all([
    ann
      .getByRole('textbox', { name: 'Description', exact: true })
      .fill('Finds an order by its number.'),
    bob.getByRole('textbox', { name: 'Trigger value', exact: true }).fill('track my parcel'),
  ]);
  for (const page of [ann, bob]) {
    await expect(page.getByRole('textbox', { name: 'Description', exact: true })).toHaveValue(
      'Finds an order by its number.',
    );
    await expect(page.getByRole('textbox', { name: 'Trigger value', exact: true })).toHaveValue(
      'track my parcel',
    );
  }

  // Both type into the same instructions at the same time, at opposite ends.
  await openItem(ann, 'agents', 'Support agent');
  await openItem(bob, 'agents', 'Support agent');
  await textbox(ann, 'Instructions').click();
  await ann.keyboard.press('Control+Home');
  await textbox(bob, 'Instructions').click();
  await bob.keyboard.press('Control+End');
  await Promise.all([ann.keyboard.type('ANN WAS HERE. '), bob.keyboard.type(' BOB WAS HERE.')]);
  await expect.poll(() => editorText(ann, 'Instructions')).toContain('BOB WAS HERE.');
  await expect.poll(() => editorText(bob, 'Instructions')).toContain('ANN WAS HERE.');
  await expect
    .poll(
      async () =>
        (await editorText(ann, 'Instructions')) === (await editorText(bob, 'Instructions')),
    )
    .toBe(true);
  expect(await editorText(ann, 'Instructions')).toMatch(/^ANN WAS HERE\. You are/);
  expect(await editorText(ann, 'Instructions')).toMatch(/ BOB WAS HERE\.$/);

  // Presence: each sees the other on the same agent.
  await expect(ann.getByTestId('person')).toHaveCount(2);
  await expect(
    ann.getByTestId('item').filter({ hasText: 'Support agent' }).locator('.pip'),
  ).toHaveCount(1);
  await close();
});

test('[R6] a person goes offline, keeps editing, and on reconnect both see every edit', async ({
  browser,
}) => {
  const { ann, bob, annContext, close } = await twoPeople(browser, 'Offline edits');
  await openItem(ann, 'knowledge', 'Shipping times');
  await openItem(bob, 'knowledge', 'Shipping times');

  await annContext.setOffline(true);
  await expect(ann.getByTestId('connection-status')).toHaveAttribute('data-sync-status', 'offline');
  await expect(ann.getByTestId('connection-status')).toHaveText(
    'Offline — changes saved on this device',
  );
  await textbox(ann, 'Body').click();
  await ann.keyboard.press('Control+End');
  await ann.keyboard.type('\nWritten offline by Ann.');
  await ann.getByRole('textbox', { name: 'Title', exact: true }).fill('Shipping times (updated)');
  await textbox(bob, 'Body').click();
  await bob.keyboard.press('Control+Home');
  await bob.keyboard.type('Bob, online. ');

  await annContext.setOffline(false);
  await expect(ann.getByTestId('connection-status')).toHaveAttribute(
    'data-sync-status',
    'connected',
  );
  for (const page of [ann, bob]) {
    await expect.poll(() => editorText(page, 'Body')).toContain('Written offline by Ann.');
    await expect.poll(() => editorText(page, 'Body')).toMatch(/^Bob, online\. # Shipping times/);
    await expect(page.getByRole('textbox', { name: 'Title', exact: true })).toHaveValue(
      'Shipping times (updated)',
    );
  }
  await close();
});

test('undo takes back only your own typing, not the other person’s', async ({ browser }) => {
  const { ann, bob, close } = await twoPeople(browser, 'Undo');
  await openItem(ann, 'agents', 'Escalation agent');
  await openItem(bob, 'agents', 'Escalation agent');
  await textbox(ann, 'Instructions').click();
  await ann.keyboard.press('Control+Home');
  await ann.keyboard.type('AAA ');
  await expect(textbox(bob, 'Instructions')).toContainText('AAA ');
  await textbox(bob, 'Instructions').click();
  await bob.keyboard.press('Control+End');
  await bob.keyboard.type(' BBB');
  await expect(textbox(ann, 'Instructions')).toContainText(' BBB');

  await textbox(ann, 'Instructions').click();
  await ann.keyboard.press('Control+z');
  for (const page of [ann, bob]) {
    await expect(textbox(page, 'Instructions')).not.toContainText('AAA');
    await expect(textbox(page, 'Instructions')).toContainText(' BBB');
  }
  // Redo brings it back; the toolbar buttons do the same as the keys.
  await ann.getByRole('button', { name: '↷ Redo' }).click();
  await expect(textbox(bob, 'Instructions')).toContainText('AAA ');
  await close();
});

test('the problems list shows a broken {{variable}} live, opens the field, and clears when fixed', async ({
  browser,
}) => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await signIn(page);
  await openNewProjectDraft(page, 'Problems', { sample: true });
  await expect(page.getByTestId('problem-count')).toHaveText('0');

  await openItem(page, 'channels', 'Website widget');
  await textbox(page, 'Greeting').click();
  await page.keyboard.press('Control+End');
  await page.keyboard.type(' Use code {{coupon_code}}.');
  await expect(page.getByTestId('problem-count')).toHaveText('1');
  const problem = page.getByTestId('problem');
  await expect(problem).toContainText('{{coupon_code}}');

  // Clicking the problem from elsewhere opens the item and focuses the field.
  await page.getByTestId('section-variables').click();
  await problem.click();
  await expect(
    page.getByTestId('item-form').getByRole('heading', { name: 'Website widget' }),
  ).toBeVisible();
  await expect(textbox(page, 'Greeting')).toBeFocused();

  // Fix it by creating the variable.
  await page.getByTestId('section-variables').click();
  await page.getByRole('navigation').getByRole('button', { name: '+ New variable' }).click();
  await page.getByRole('textbox', { name: 'Name', exact: true }).fill('coupon_code');
  await expect(page.getByTestId('problem-count')).toHaveText('0');
  await context.close();
});

test('a sample project is complete and valid, and export then import round-trips', async ({
  browser,
}) => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await signIn(page);
  const sampleUrl = await openNewProjectDraft(page, 'Sample source', { sample: true });
  const counts = {
    agents: 2,
    workflows: 2,
    knowledge: 3,
    integrations: 2,
    channels: 2,
    variables: 6,
  };
  for (const [section, n] of Object.entries(counts))
    await expect(page.getByTestId(`section-${section}`).locator('.count')).toHaveText(String(n));
  await expect(page.getByTestId('problem-count')).toHaveText('0');

  const download = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Export' }).click();
  const file = await (await download).path();
  const exported = JSON.parse(fs.readFileSync(file, 'utf8')) as {
    format: string;
    content: WorkspaceContent;
  };
  expect(exported.format).toBe('stagecoach.workspace');

  // A broken file is refused with the reason, and nothing changes.
  const emptyUrl = await openNewProjectDraft(page, 'Import target');
  await page.getByTestId('import-file').setInputFiles({
    name: 'broken.json',
    mimeType: 'application/json',
    buffer: Buffer.from('{"agents": {"a": {"name": 7}}}'),
  });
  await expect(page.getByTestId('import-dialog')).toContainText('cannot be imported');
  await page.getByRole('button', { name: 'Close' }).click();
  await expect(page.getByTestId('section-agents').locator('.count')).toHaveText('0');

  await page.getByTestId('import-file').setInputFiles(file);
  await expect(page.getByTestId('import-dialog')).toContainText('2 agents');
  await page.getByRole('button', { name: 'Replace draft content' }).click();
  await expect(page.getByTestId('section-knowledge').locator('.count')).toHaveText('3');

  const envOf = (url: string) => /environments\/([^/?]+)/.exec(url)![1]!;
  const read = async (url: string) =>
    (await (
      await page.request.get(`/api/environments/${envOf(url)}/content`)
    ).json()) as WorkspaceContent;
  await expect
    .poll(async () => JSON.stringify(canonicalContent(await read(emptyUrl))))
    .toBe(JSON.stringify(canonicalContent(await read(sampleUrl))));
  await context.close();
});

test('workflow steps can be added, reordered and removed, and others see the order', async ({
  browser,
}) => {
  const { ann, bob, close } = await twoPeople(browser, 'Steps');
  await openItem(ann, 'workflows', 'Open a ticket');
  await openItem(bob, 'workflows', 'Open a ticket');
  const types = (page: typeof ann) =>
    page.getByTestId('step').locator('select[aria-label$="type"]');
  await expect(types(ann)).toHaveCount(2);

  await ann.getByRole('combobox', { name: 'New step type' }).selectOption('set_variable');
  await ann.getByRole('button', { name: '+ Add step' }).click();
  await expect(types(bob)).toHaveCount(3);
  await ann.getByRole('button', { name: 'Move step 3 up' }).click();
  await expect(types(bob).nth(1)).toHaveValue('set_variable');
  await expect(types(bob).nth(2)).toHaveValue('message');
  await ann.getByRole('button', { name: 'Move step 1 down' }).click();
  await expect(types(bob).nth(0)).toHaveValue('set_variable');
  await bob.getByRole('button', { name: 'Remove step 1' }).click();
  await expect(types(ann)).toHaveCount(2);
  await expect(types(ann).nth(0)).toHaveValue('call_integration');
  await close();
});
