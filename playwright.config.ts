import os from 'node:os';
import path from 'node:path';
import { defineConfig } from '@playwright/test';
import { findChromium } from './scripts/chromium.ts';

const port = Number(process.env.E2E_PORT ?? 4317);
// The browser tests run what `npm start` runs: the bundled server (dist/server.js) on a fresh data folder.
// (Workers load this file too, so the folder is cleared by the server command, not here.)
const dataDir = path.join(os.tmpdir(), `stagecoach-e2e-${port}`);
// CHROMIUM_PATH, a system Chromium, or Playwright's own (`npm test` makes sure one exists: scripts/ensure-browser.ts).
const chromium = findChromium();

export default defineConfig({
  testDir: 'test/e2e',
  testMatch: '**/*.spec.ts',
  fullyParallel: false,
  workers: 1,
  retries: 0,
  timeout: 60_000,
  expect: { timeout: 10_000 },
  reporter: [['list']],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    // A failed test keeps its actions, console and network (how the WH-24 race was found) and a
    // last screenshot; the trace's screencast and DOM snapshots of every action made the browser
    // tests a quarter slower on CI's 2 cores and are left out.
    trace: { mode: 'retain-on-failure', screenshots: false, snapshots: false, sources: false },
    screenshot: 'only-on-failure',
    launchOptions: {
      executablePath: chromium,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--disable-quic',
      ],
    },
  },
  // The first-run test needs an instance nobody has set up yet: it runs first, the rest after it.
  projects: [
    { name: 'first-run', testMatch: 'coediting.spec.ts' },
    { name: 'app', testIgnore: 'coediting.spec.ts', dependencies: ['first-run'] },
  ],
  webServer: {
    command: `rm -rf '${dataDir}' && node dist/server.js`,
    url: `http://127.0.0.1:${port}/api/health`,
    // WH-20 … WH-24: the webhooks test's receiver listens on 127.0.0.1.
    env: { PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir, WEBHOOK_ALLOW_PRIVATE: '1' },
    reuseExistingServer: false,
    timeout: 30_000,
  },
});
