// The real server (built UI, API, sync) on a fresh data folder, for the browser tests.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '#server/config.ts';
import { start } from '#server/start.ts';

const dataDir = path.join(os.tmpdir(), `stagecoach-e2e-${process.env.E2E_PORT ?? '4317'}`);
fs.rmSync(dataDir, { recursive: true, force: true });
const running = await start(loadConfig({ PORT: process.env.E2E_PORT ?? '4317', HOST: '127.0.0.1', DATA_DIR: dataDir }, process.cwd()));
console.log(`e2e server at ${running.url}`);
const stop = () => void running.close().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
