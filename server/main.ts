import { ConfigError, loadConfig } from './config.ts';
import { start } from './start.ts';

let config;
try {
  config = loadConfig(process.env, process.cwd());
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(1);
  }
  throw err;
}

const running = await start(config);
console.log(
  `Stagecoach is running at http://localhost:${running.port} (data in ${config.dataDir})`,
);

let stopping = false;
const stop = (signal: string) => {
  if (stopping) return;
  stopping = true;
  console.log(`${signal}: flushing drafts and closing the database…`);
  running.close().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error('shutdown failed', err);
      process.exit(1);
    },
  );
};
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));
