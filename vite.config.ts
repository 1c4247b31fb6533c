import { sveltekit } from '@sveltejs/kit/vite';
import adapter from '@sveltejs/adapter-node';
import { defineConfig } from 'vitest/config';
import { coreOnPostgres, onPostgres } from './test/postgres-project.ts';

/** `PG_SUITE=core`: the PostgreSQL project runs its core domain files only (PG-160). */
const postgresFiles = process.env.PG_SUITE === 'core' ? coreOnPostgres : onPostgres;

/** Files that run on their own after the others (the `alone` project below). */
const alone = ['test/integration/{dos-*,fuzz-frames,large-document}.test.ts'];

// The Hono server (server/main.ts) serves /api and /collab; in `npm run dev` Vite proxies them.
const apiTarget = `http://127.0.0.1:${process.env.API_PORT ?? '3001'}`;

export default defineConfig({
  plugins: [
    sveltekit({
      adapter: adapter({ out: 'build' }),
      files: { src: 'web', assets: 'web/static' },
      // The app's CSP: scripts only from here (SvelteKit hashes its inline boot script);
      // styles inline too (Svelte style directives, CodeMirror); connections only to here (API, websocket).
      csp: {
        mode: 'hash',
        directives: {
          'default-src': ['self'],
          'script-src': ['self'],
          'style-src': ['self', 'unsafe-inline'],
          'img-src': ['self', 'data:'],
          'font-src': ['self'],
          'connect-src': ['self'],
          'object-src': ['none'],
          'base-uri': ['self'],
          'form-action': ['self'],
          'frame-ancestors': ['none'],
        },
      },
    }),
  ],
  server: {
    proxy: {
      '/api': apiTarget,
      '/collab': { target: apiTarget, ws: true },
    },
  },
  test: {
    testTimeout: 20_000,
    // expect.poll waits on a state; its default 1 s failed FLOW-8 once on a loaded 2-core machine
    // (a replication job that commits later there, not never). A wrong state still fails, later.
    expect: { poll: { timeout: 10_000 } },
    // Three files at a time on CI's 2 cores (Vitest's default there is one): most of a file's
    // time is spent waiting on servers, child processes, sockets and timers; one worker used ~1
    // core for 20 minutes, two kept the whole CI run at 132 % of a core.
    maxWorkers: 3,
    // Files share a worker's module cache: each file importing the whole server again took 23 % of
    // the run (368 s → 292 s without). Every test starts its own servers, data folders and
    // databases, so nothing a file relies on is a module's state left by another.
    isolate: false,
    // The processes tests start run bundles made once per run (test/helpers/bundle-global-setup.ts).
    globalSetup: ['test/helpers/bundle-global-setup.ts'],
    setupFiles: ['test/helpers/each-file.ts'],
    hookTimeout: 20_000,
    // One project per dialect (PG-160): everything on SQLite, and the files that start a server
    // again on PostgreSQL and Redis (the list and the reasons: test/postgres-project.ts).
    projects: [
      {
        extends: true,
        test: {
          name: 'sqlite',
          include: ['test/{unit,integration}/**/*.test.ts'],
          exclude: [...alone],
        },
      },
      // The denial-of-service files bound the server's answer time under attack; next to three
      // other files on two cores a 1.5 s answer took 4.2 s (CI, SEC-7). They run after the rest,
      // one file at a time, so their bounds measure the server, not the machine.
      {
        extends: true,
        test: { name: 'alone', include: [...alone], maxWorkers: 1, sequence: { groupOrder: 1 } },
      },
      {
        extends: true,
        test: {
          name: 'postgres',
          include: [...postgresFiles],
          env: { TEST_DIALECT: 'postgres' },
          globalSetup: ['test/helpers/pg-global-setup.ts'],
        },
      },
    ],
  },
});
