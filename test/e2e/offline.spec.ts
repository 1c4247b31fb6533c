import { expect, test } from '@playwright/test';
import { collabSwitch, ensureAdmin, openNewProjectDraft, signIn, textbox } from './helpers.ts';

test('[R6] the status shows offline when the connection drops, and text typed offline reaches the others on reconnect', async ({
  browser,
  request,
}) => {
  await ensureAdmin(request);
  const annContext = await browser.newContext();
  const ann = await annContext.newPage();

  // Ann's sync connection goes through a switch the test controls.
  const network = await collabSwitch(ann);

  await signIn(ann);
  const url = await openNewProjectDraft(ann, 'Offline project');
  await ann.getByRole('button', { name: '+ New agent' }).click();
  await textbox(ann, 'Instructions').click();
  await ann.keyboard.type('Online words.');

  const bobContext = await browser.newContext();
  const bob = await bobContext.newPage();
  await signIn(bob);
  await bob.goto(url);
  await bob.getByTestId('item').first().click();
  const bobText = textbox(bob, 'Instructions');
  await expect(bobText).toContainText('Online words.');

  await network.drop();
  await expect(ann.getByTestId('connection-status')).toHaveAttribute('data-sync-status', 'offline');
  await expect(ann.getByTestId('connection-status')).toContainText('Offline');

  await textbox(ann, 'Instructions').click();
  await ann.keyboard.press('Control+End');
  await ann.keyboard.type(' Typed while offline.');
  await expect(textbox(ann, 'Instructions')).toContainText('Online words. Typed while offline.');

  network.restore();
  await expect(ann.getByTestId('connection-status')).toHaveAttribute(
    'data-sync-status',
    'connected',
    { timeout: 15_000 },
  );
  await expect(bobText).toContainText('Online words. Typed while offline.');

  await annContext.close();
  await bobContext.close();
});
