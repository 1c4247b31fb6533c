// `npm test` step: makes sure the browser tests have a Chromium before anything slow runs.
// Finds one (CHROMIUM_PATH, a system Chromium, Playwright's own); else downloads Playwright's where
// its CDN answers; else installs Debian's `chromium` when run as root; else stops at once with the
// one command to run — never a stack trace from deep inside Playwright.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { findChromium } from './chromium.ts';

const found = () => {
  const path = findChromium();
  if (path) console.log(`chromium: ${path}`);
  return path !== undefined;
};

/** Whether Playwright's browser CDN answers within a few seconds (machines without internet fail fast). */
async function cdnReachable(): Promise<boolean> {
  try {
    await fetch('https://cdn.playwright.dev/', {
      method: 'HEAD',
      signal: AbortSignal.timeout(5_000),
    });
    return true;
  } catch {
    return false;
  }
}

const run = (command: string, args: string[]) =>
  spawnSync(command, args, { stdio: 'inherit', timeout: 600_000 }).status === 0;

if (process.env.CHROMIUM_PATH && !fs.existsSync(process.env.CHROMIUM_PATH)) {
  console.error(
    `CHROMIUM_PATH is set to ${process.env.CHROMIUM_PATH}, which does not exist. Unset it or point it at a Chromium.`,
  );
  process.exit(1);
}
if (found()) process.exit(0);

if (await cdnReachable()) {
  console.log(
    'No Chromium on this machine: downloading Playwright’s (npx playwright install chromium).',
  );
  if (run('npx', ['playwright', 'install', 'chromium']) && found()) process.exit(0);
}
const root = process.getuid?.() === 0;
if (root && fs.existsSync('/usr/bin/apt-get')) {
  console.log('No Chromium on this machine: installing Debian’s (apt-get install chromium).');
  const apt = (args: string[]) => run('apt-get', args);
  const install = ['install', '-y', '--no-install-recommends', 'chromium'];
  if ((apt(install) || (apt(['update']) && apt(install))) && found()) process.exit(0);
}
console.error(
  'The browser tests need Chromium and none was found or could be installed.\n' +
    (root
      ? '  Run: apt-get install chromium\n'
      : '  Run: sudo apt-get install chromium   (or: npx playwright install chromium)\n') +
    '  or set CHROMIUM_PATH to a Chromium executable, then run npm test again.',
);
process.exit(1);
