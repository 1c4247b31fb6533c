import {
  expect,
  test,
  type APIRequestContext,
  type Page,
  type WebSocketRoute,
} from '@playwright/test';

export const admin = {
  name: 'Ada Admin',
  email: 'ada@example.com',
  password: 'correct horse battery',
};

export async function hydrated(page: Page): Promise<void> {
  await expect(page.locator('body[data-hydrated="true"]')).toBeAttached();
}

/** Creates the admin through the API unless an earlier test did (409). */
export async function ensureAdmin(request: APIRequestContext): Promise<void> {
  const res = await request.post('/api/setup', { data: admin });
  expect([201, 409]).toContain(res.status());
}

export async function signIn(page: Page): Promise<void> {
  await page.goto('/signin');
  await hydrated(page);
  await page.getByLabel('Email').fill(admin.email);
  await page.getByLabel('Password').fill(admin.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { name: 'Projects' })).toBeVisible();
}

/**
 * Creates a project through the UI (with or without the sample content) and opens its authoring
 * environment's editor.
 */
export async function openNewProjectDraft(
  page: Page,
  name: string,
  opts: { sample?: boolean } = {},
): Promise<string> {
  await page.goto('/');
  await hydrated(page);
  await page.getByLabel('Name').fill(name);
  await page.getByRole('checkbox', { name: /sample content/ }).setChecked(opts.sample ?? false);
  await page.getByRole('button', { name: 'Create project' }).click();
  await page.getByTestId('env-column').first().getByRole('link', { name: 'Open editor' }).click();
  await expect(page.getByTestId('connection-status')).toHaveAttribute(
    'data-sync-status',
    'connected',
  );
  return page.url();
}

/** Opens an item of a section in the editor by its name. */
export async function openItem(page: Page, section: string, name: string): Promise<void> {
  await page.getByTestId(`section-${section}`).click();
  await page.getByTestId('item').filter({ hasText: name }).first().click();
  await expect(page.getByTestId('item-form').getByRole('heading', { name })).toBeVisible();
}

/** The CodeMirror editor of a long-text field, by its label (a template field is a combobox: `{{` completes). */
export const textbox = (page: Page, label: string) =>
  page
    .getByRole('textbox', { name: label, exact: true })
    .or(page.getByRole('combobox', { name: label, exact: true }));

/** A CodeMirror field's text, without other people's cursor labels (which live in the editor's DOM). */
export function editorText(page: Page, label: string): Promise<string> {
  return textbox(page, label).evaluate((el) =>
    Array.from(el.querySelectorAll('.cm-line'))
      .map((line) => {
        const copy = line.cloneNode(true) as HTMLElement;
        copy
          .querySelectorAll('.cm-ySelectionCaret, .cm-ySelectionInfo, .cm-widgetBuffer')
          .forEach((n) => n.remove());
        return (copy.textContent ?? '').replace(/[\u200b\u2060]/g, '');
      })
      .join('\n'),
  );
}

/** Collects Content-Security-Policy violations the page reports, to assert there are none. */
export function watchCsp(page: Page): string[] {
  const violations: string[] = [];
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
  });
  return violations;
}

/** Routes a page's sync connections through a switch: `drop()` closes them and refuses new ones until `restore()`. */
export async function collabSwitch(
  page: Page,
): Promise<{ drop(): Promise<void>; restore(): void }> {
  let offline = false;
  const live: WebSocketRoute[] = [];
  await page.routeWebSocket(/\/collab\//, (ws) => {
    if (offline) return void ws.close({ code: 1006 });
    ws.connectToServer();
    live.push(ws);
  });
  return {
    async drop() {
      offline = true;
      for (const ws of live.splice(0)) await ws.close({ code: 1006 });
    },
    restore() {
      offline = false;
    },
  };
}

/**
 * A screenshot for a person to look at, `<name>.png` in this test's folder under test-results/:
 * taken with E2E_SCREENSHOTS=1 (`npm run test:e2e:shots`), skipped otherwise (they assert nothing
 * and cost CI's two cores; the tests' own checks, e.g. nothing wider than a phone, always run).
 */
export async function shot(page: Page, name: string, options: { fullPage?: boolean } = {}) {
  if (process.env.E2E_SCREENSHOTS !== '1') return;
  await page.screenshot({ path: test.info().outputPath(`${name}.png`), ...options });
}
