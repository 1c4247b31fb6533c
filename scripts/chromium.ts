// Where the browser tests find Chromium: one answer for playwright.config.ts and scripts/ensure-browser.ts.
import fs from 'node:fs';
import { chromium } from '@playwright/test';

/** Browsers a machine may already have, most specific first. */
const SYSTEM_CHROMIUMS = [
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome-stable',
  '/usr/bin/google-chrome',
];

/**
 * The executable the browser tests launch: CHROMIUM_PATH when set, else a system Chromium, else
 * Playwright's own download when it is installed; undefined when the machine has none.
 */
export function findChromium(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.CHROMIUM_PATH) return env.CHROMIUM_PATH;
  const system = SYSTEM_CHROMIUMS.find((p) => fs.existsSync(p));
  if (system) return system;
  const own = chromium.executablePath();
  return fs.existsSync(own) ? own : undefined;
}
