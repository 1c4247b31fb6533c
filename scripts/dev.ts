// `npm run dev`: the Hono server (API + sync) on API_PORT and Vite's dev server (hot reload)
// on PORT, proxying /api and /collab to it (see vite.config.ts).
import { createServer } from 'vite';
import { loadConfig } from '#server/config.ts';
import { start } from '#server/start.ts';

const apiPort = process.env.API_PORT ?? '3001';
const api = await start(
  loadConfig({ ...process.env, PORT: apiPort, HOST: '127.0.0.1' }, process.cwd()),
  { web: false },
);
const vite = await createServer({
  server: { port: Number(process.env.PORT ?? 3000), strictPort: true },
});
await vite.listen();
vite.printUrls();
console.log(`API and sync on ${api.url}`);

const stop = async () => {
  await vite.close();
  await api.close();
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
