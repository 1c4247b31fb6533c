import { createHash } from 'node:crypto';
import type Database from 'better-sqlite3';

const DAY = 86_400_000;
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

/**
 * Writes `snapshots` freezes of `items` items each into a fresh database (successive freezes of one
 * draft: every tree shares all items but one); every other one is held only by an approval request
 * voided 40 days before `now`, which the retention sweep deletes. For the SEC-8 retention test and bench.
 */
export function seedAbandonedSnapshots(
  sqlite: Database.Database,
  snapshots: number,
  items: number,
  now = Date.now(),
): void {
  sqlite
    .prepare(
      "INSERT INTO users (id, email, name, password_hash, created_at) VALUES ('usr_old', 'old@example.com', 'Old', 'x', 0)",
    )
    .run();
  sqlite
    .prepare(
      "INSERT INTO projects (id, name, preset, created_by, created_at) VALUES ('prj_old', 'Old', 'five-stage', 'usr_old', 0)",
    )
    .run();
  const snapshot = sqlite.prepare(
    "INSERT INTO snapshots (project_id, id, tree, kind, created_by, created_at) VALUES ('prj_old', ?, ?, 'freeze', 'usr_old', 0)",
  );
  const blob = sqlite.prepare('INSERT OR IGNORE INTO blobs (id, json) VALUES (?, ?)');
  const request = sqlite.prepare(
    "INSERT INTO promotion_requests (id, project_id, kind, source_environment_id, target_environment_id, snapshot_id, requested_by, created_at, state, closed_at) VALUES (?, 'prj_old', 'sync', 'env_a', 'env_b', ?, 'usr_old', 0, 'voided', ?)",
  );
  sqlite.transaction(() => {
    for (let s = 0; s < snapshots; s++) {
      const knowledge: Record<string, string> = {};
      for (let i = 0; i < items; i++) {
        const id = sha(`item ${i} v${i === 0 ? s : 0}`);
        knowledge[`kb_${i}`] = id;
        blob.run(id, '{}');
      }
      const tree = JSON.stringify({
        agents: {},
        workflows: {},
        knowledge,
        integrations: {},
        channels: {},
        variables: {},
      });
      snapshot.run(sha(tree), tree);
      if (s % 2 === 0) request.run(`req_${s}`, sha(tree), now - 40 * DAY);
    }
  })();
}
