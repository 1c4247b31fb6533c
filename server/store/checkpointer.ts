import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { CheckpointWorkerData, CheckpointWorkerMessage } from './checkpoint-worker.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
// From source the worker is checkpoint-worker.ts beside this file; in the bundle it is
// dist/checkpoint-worker.js beside dist/server.js (scripts/build-server.ts).
const workerFile = ['checkpoint-worker.js', 'checkpoint-worker.ts']
  .map((f) => path.join(here, f))
  .find((p) => fs.existsSync(p))!;

export interface Checkpointer {
  /** Stops the worker; the last connection to close checkpoints whatever is left. */
  stop(): Promise<void>;
}

/**
 * Runs SQLite's WAL checkpoints on a worker thread with its own connection. With SQLite's
 * automatic checkpoint, every ~1,000 pages one unlucky commit on the event loop copied the WAL
 * into the database and fsynced it (measured: S3's p99 4.0 ms → 2.8 ms without it). PASSIVE
 * checkpoints never block our writers; the worker does them every `everyMs`.
 */
export function startCheckpointer(
  file: string,
  everyMs: number,
  log: (msg: string) => void,
): Checkpointer {
  const worker = new Worker(workerFile, {
    workerData: { file, everyMs } satisfies CheckpointWorkerData,
  });
  worker.unref();
  worker.on('message', (m: CheckpointWorkerMessage) => {
    log(`WAL checkpoint failed (retried): ${m.error}`);
  });
  worker.on('error', (err) => log(`WAL checkpoint worker stopped: ${err.message}`));
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  return {
    stop() {
      // Held while it stops: an unreferenced worker would let a process with nothing else to do
      // exit before the worker closed its connection, and before the caller's own close ran.
      worker.ref();
      worker.postMessage('stop');
      return exited;
    },
  };
}
