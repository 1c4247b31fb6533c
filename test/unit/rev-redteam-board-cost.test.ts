import { describe, expect, it } from 'vitest';
import { openDatabase } from '#server/store/db.ts';
import { createReleaseStore } from '#server/store/releases.ts';
import { createShareStore } from '#server/store/shares.ts';
import { tempDataDir } from '../helpers/server.ts';

/**
 * REV-83: the board asks, for each stage and each section flowing down into it, when it was last
 * replicated. Replication writes a `replicate` release row every few seconds while someone edits
 * upstream, so an environment gathers hundreds of thousands of them; the answer for a section
 * replicated rarely (or never) must not walk all of them on every board read.
 */
describe('REV-83 board read cost', () => {
  it('[REV-83] the last replication of a section is found without walking the others', async () => {
    const database = openDatabase(tempDataDir(), 'normal');
    try {
      const { sqlite } = database;
      sqlite.pragma('foreign_keys = OFF');
      const insert = sqlite.prepare(
        `INSERT INTO releases (project_id, environment_id, kind, pointer, to_snapshot_id, actor_id, detail, created_at, prev_hash, hash)
         VALUES ('prj', 'env', 'replicate', 'current', 's', 'system', ?, ?, '', '')`,
      );
      sqlite.transaction(() => {
        insert.run(JSON.stringify({ section: 'variables' }), 1);
        for (let i = 2; i < 300_000; i++) insert.run(JSON.stringify({ section: 'knowledge' }), i);
      })();
      const plan = sqlite
        .prepare(
          `EXPLAIN QUERY PLAN SELECT created_at FROM releases WHERE environment_id = 'env' AND kind = 'replicate'
           AND json_extract(detail, '$.section') = 'agents' ORDER BY seq DESC LIMIT 1`,
        )
        .all() as { detail: string }[];
      expect(plan.map((p) => p.detail).join('; ')).toContain('releases_replicated');
      const store = createReleaseStore(database.db);
      const started = performance.now();
      expect(store.lastReplicated('env', 'agents')).toBeNull();
      expect(store.lastReplicated('env', 'variables')).toBe(1);
      expect(store.lastReplicated('env', 'knowledge')).toBe(299_999);
      expect(performance.now() - started).toBeLessThan(20);
    } finally {
      await database.close();
    }
  });

  it('[REV-84] open feedback per stage is counted from an index, however many comments it keeps', async () => {
    const database = openDatabase(tempDataDir(), 'normal');
    try {
      const { sqlite } = database;
      sqlite.pragma('foreign_keys = OFF');
      const insert = sqlite.prepare(
        `INSERT INTO feedback (id, environment_id, share_link_id, section, item_id, author, text, created_at, item_name, resolved_at)
         VALUES (?, 'env', 'shr', 'agents', 'agt', 'Olga', ?, ?, '', ?)`,
      );
      const text = 'x'.repeat(2000);
      sqlite.transaction(() => {
        for (let i = 0; i < 100_000; i++) insert.run(`fbk_${i}`, text, i, i % 10 === 0 ? null : i);
      })();
      const plan = sqlite
        .prepare(
          `EXPLAIN QUERY PLAN SELECT count(*) FROM feedback WHERE environment_id IN ('env') AND resolved_at IS NULL`,
        )
        .all() as { detail: string }[];
      expect(plan.map((p) => p.detail).join('; ')).toContain('feedback_open');
      const store = createShareStore(database.db);
      const started = performance.now();
      expect(store.openFeedbackCounts(['env'])).toEqual({ env: 10_000 });
      expect(store.feedbackCounts('env')).toEqual({ open: 10_000, resolved: 90_000 });
      expect(performance.now() - started).toBeLessThan(30);
    } finally {
      await database.close();
    }
  });
});
