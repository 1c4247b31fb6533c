/**
 * A separate process that claims jobs and dies holding them (PG-82): run as
 * `node test/helpers/job-claimer.ts <postgres url | sqlite:DATA_DIR> <node id> <claim ms> [kind]`.
 * Its handler of kind `kind` (default `slow`) prints `{"started": id, "token": claimToken}` and never finishes, so the
 * test can SIGKILL it mid-run.
 */
import { openDatabase } from '../../server/store/db.ts';
import { sqliteJobQueue } from '../../server/store/jobs.ts';
import { openPostgres } from '../../server/store/pg/db.ts';
import { createPgJobStore } from '../../server/store/pg/jobs.ts';
import { startJobRunner, type JobQueue } from '../../server/cluster/jobs.ts';

const [where, nodeId, claimMs, kind = 'slow'] = process.argv.slice(2) as [
  string,
  string,
  string,
  string?,
];

async function queueAt(where: string): Promise<JobQueue> {
  if (!where.startsWith('sqlite:'))
    return createPgJobStore(await openPostgres(where, { max: 2, log: () => {} }));
  return sqliteJobQueue(openDatabase(where.slice('sqlite:'.length), 'normal', () => {}).db);
}

const queue = await queueAt(where);
// The runner's timers are unref'd: this keeps the process alive until it is killed.
setInterval(() => {}, 1 << 30);
startJobRunner({
  queue,
  nodeId,
  claimMs: Number(claimMs),
  pollMs: 20,
  handlers: {
    [kind]: {
      run: (job) => {
        process.stdout.write(JSON.stringify({ started: job.id, token: job.claimToken }) + '\n');
        return new Promise<void>(() => {});
      },
    },
  },
  log: (msg) => process.stderr.write(msg + '\n'),
});
