import { ConfigError, loadConfig } from './config.ts';
import { start } from './start.ts';
import { enableWritePathTiming } from './collab/write-path-timing.ts';

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

// A diagnostic for benchmarks (server/collab/write-path-timing.ts), off unless asked for.
if (process.env.WRITE_PATH_TIMING === '1') enableWritePathTiming(config.dataDir);
let running;
try {
  running = await start(config);
} catch (err) {
  // What only shows at start (PG-59: a NODE_ID another running process has) stops it as a bad key does.
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(1);
  }
  throw err;
}
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
