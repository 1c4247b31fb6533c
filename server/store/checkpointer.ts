import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * Runs SQLite's WAL checkpoints on a worker thread with its own connection. With SQLite's
 * automatic checkpoint, every ~1,000 pages one unlucky commit on the event loop copied the WAL
 * into the database and fsynced it (measured: S3's p99 4.0 ms → 2.8 ms without it). PASSIVE
 * checkpoints never block our writers; the worker does them every `everyMs`.
 */
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file);
db.pragma('busy_timeout = 1000');
const checkpoint = () => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (err) {
    parentPort.postMessage({ error: String(err && err.message) });
  }
};
const timer = setInterval(checkpoint, workerData.everyMs);
parentPort.on('message', () => {
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

export interface Checkpointer {
  /** Stops the worker; the last connection to close checkpoints whatever is left. */
  stop(): Promise<void>;
}

export function startCheckpointer(file: string, everyMs: number, log: (msg: string) => void): Checkpointer {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER, { eval: true, workerData: { file, driver, everyMs } });
  worker.unref();
  worker.on('message', (m: { error?: string }) => {
    if (m.error) log(`WAL checkpoint failed (retried): ${m.error}`);
  });
  worker.on('error', (err) => log(`WAL checkpoint worker stopped: ${err.message}`));
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  return {
    stop() {
      worker.postMessage('stop');
      return exited;
    },
  };
}
