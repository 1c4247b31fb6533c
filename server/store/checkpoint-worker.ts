// The WAL checkpoint worker (started by checkpointer.ts): its own SQLite connection, a PASSIVE
// checkpoint every `everyMs`, stopped by any message from the parent.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

export interface CheckpointWorkerData {
  file: string;
  everyMs: number;
}

/** What the worker tells its parent: a checkpoint that failed (the next one retries). */
export interface CheckpointWorkerMessage {
  error: string;
}

const port = parentPort!;
const { file, everyMs } = workerData as CheckpointWorkerData;
const db = new Database(file);
db.pragma('busy_timeout = 1000');

const timer = setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (err) {
    port.postMessage({
      error: err instanceof Error ? err.message : String(err),
    } satisfies CheckpointWorkerMessage);
  }
}, everyMs);

port.on('message', () => {
  clearInterval(timer);
  db.close();
  port.close();
});
