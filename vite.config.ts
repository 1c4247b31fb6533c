import { sveltekit } from '@sveltejs/kit/vite';
import adapter from '@sveltejs/adapter-node';
import { defineConfig } from 'vitest/config';

// The Hono server (server/main.ts) serves /api and /collab; in `npm run dev` Vite proxies them.
const apiTarget = `http://127.0.0.1:${process.env.API_PORT ?? '3001'}`;

export default defineConfig({
  plugins: [
    sveltekit({
      adapter: adapter({ out: 'build' }),
      files: { src: 'web', assets: 'web/static' },
    }),
  ],
  server: {
    proxy: {
      '/api': apiTarget,
      '/collab': { target: apiTarget, ws: true },
    },
  },
  test: {
    include: ['test/{unit,integration}/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
  },
});
