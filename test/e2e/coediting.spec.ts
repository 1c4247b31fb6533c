import { expect, test } from '@playwright/test';
import { admin, hydrated, signIn, textbox, watchCsp } from './helpers.ts';

// Runs first (the 'first-run' project in playwright.config.ts): it performs the instance's first-run set-up.
test('[R6] first-run setup, sign in, five-stage project, two people co-edit one agent, reload keeps it', async ({
  browser,
}) => {
  const first = await browser.newContext();
  const ann = await first.newPage();
  const csp = watchCsp(ann);

  // First run: the UI offers to create the admin account.
  await ann.goto('/');
  await hydrated(ann);
  await expect(ann).toHaveURL(/\/setup$/);
  await ann.getByLabel('Your name').fill(admin.name);
  await ann.getByLabel('Email').fill(admin.email);
  await ann.getByLabel('Password').fill(admin.password);
  await ann.getByRole('button', { name: 'Create admin account' }).click();
  await expect(ann.getByRole('heading', { name: 'Projects' })).toBeVisible();

  // Sign out and in again.
  await ann.getByRole('button', { name: 'Sign out' }).click();
  await expect(ann).toHaveURL(/\/signin/);
  await signIn(ann);

  // A five-stage project: the board shows one column per environment, authoring first.
  await ann.getByLabel('Name').fill('Customer support');
  await ann.getByRole('radio', { name: /Five stages/ }).check();
  await ann.getByRole('checkbox', { name: /sample content/ }).uncheck();
  await ann.getByRole('button', { name: 'Create project' }).click();
  await expect(ann.getByRole('heading', { name: 'Customer support' })).toBeVisible();
  const columns = ann.getByTestId('env-column');
  await expect(columns).toHaveCount(5);
  await expect(columns.nth(0)).toHaveAttribute('data-env-name', 'DEV');
  await expect(columns.nth(4)).toHaveAttribute('data-env-name', 'PRODUCTION');

  // A read-only stage shows its indicator too.
  await columns.nth(1).getByRole('link', { name: 'View' }).click();
  await expect(ann.getByTestId('env-indicator')).toContainText('TEST');
  await expect(ann.getByTestId('env-indicator')).toContainText('Read-only');
  await ann.goBack();

  // DEV: create an agent.
  await ann.getByTestId('env-column').first().getByRole('link', { name: 'Open editor' }).click();
  await expect(ann.getByTestId('env-indicator')).toContainText('DEV');
  await expect(ann.getByTestId('connection-status')).toHaveAttribute(
    'data-sync-status',
    'connected',
  );
  await ann.getByRole('button', { name: '+ New agent' }).click();
  await ann.getByRole('textbox', { name: 'Name', exact: true }).fill('Support agent');
  await expect(ann.getByTestId('item')).toHaveText(/Support agent/);
  const devUrl = ann.url();

  // A second person (another browser context) opens the same draft.
  const second = await browser.newContext();
  const bob = await second.newPage();
  await signIn(bob);
  await bob.goto(devUrl);
  await expect(bob.getByTestId('connection-status')).toHaveAttribute(
    'data-sync-status',
    'connected',
  );
  await expect(bob.getByTestId('item')).toHaveText(/Support agent/);
  await bob.getByTestId('item').click();
  await expect(ann.getByTestId('person')).toHaveCount(2);
  await expect(bob.getByTestId('person')).toHaveCount(2);

  // Both type into the same instructions and each sees the other's text.
  const annText = textbox(ann, 'Instructions');
  const bobText = textbox(bob, 'Instructions');
  await annText.click();
  await ann.keyboard.type('Greet the customer by name.');
  await expect(bobText).toContainText('Greet the customer by name.');
  await bobText.click();
  await bob.keyboard.press('Control+End');
  await bob.keyboard.type(' Never promise refunds.');
  await expect(annText).toContainText('Greet the customer by name. Never promise refunds.');

  // Reload: the text is still there (it came back from the server).
  await ann.reload();
  await hydrated(ann);
  await expect(textbox(ann, 'Instructions')).toContainText(
    'Greet the customer by name. Never promise refunds.',
  );

  // The app works entirely within its Content-Security-Policy.
  expect(csp).toEqual([]);
  await first.close();
  await second.close();
});
