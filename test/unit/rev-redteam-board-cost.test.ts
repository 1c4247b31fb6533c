import type Database from 'better-sqlite3';
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
/**
 * How SQLite ran the statements `read` sent that name `table`: EXPLAIN QUERY PLAN of the very SQL,
 * with the very values (a partial index is chosen by them). The plan, not a clock, tells an index
 * lookup from a walk of every row.
 */
function plansOf(sqlite: Database.Database, table: string, read: () => void): string[] {
  const ran: { source: string; params: unknown[] }[] = [];
  const prepare = sqlite.prepare.bind(sqlite);
  sqlite.prepare = ((source: string) => {
    const statement = prepare(source);
    const watched: Database.Statement = new Proxy(statement, {
      get(target, key) {
        const value = Reflect.get(target, key, target) as unknown;
        if (typeof value !== 'function') return value;
        const method = value as (...a: unknown[]) => unknown;
        return (...args: unknown[]) => {
          if (key === 'get' || key === 'all' || key === 'run' || key === 'iterate')
            ran.push({ source, params: args });
          const result = method.apply(target, args);
          // raw(), pluck() and the like answer the statement itself: keep watching it.
          return result === target ? watched : result;
        };
      },
    });
    return watched;
  }) as typeof sqlite.prepare;
  try {
    read();
  } finally {
    sqlite.prepare = prepare;
  }
  const plans = ran
    .filter(({ source }) => new RegExp(`\\b${table}\\b`).test(source))
    .map(({ source, params }) =>
      (prepare(`EXPLAIN QUERY PLAN ${source}`).all(...params) as { detail: string }[])
        .map((r) => r.detail)
        .join('; '),
    );
  expect(plans.length).toBeGreaterThan(0);
  return plans;
}

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
      const store = createReleaseStore(database.db);
      const plans = plansOf(sqlite, 'releases', () => {
        expect(store.lastReplicated('env', 'agents')).toBeNull();
        expect(store.lastReplicated('env', 'variables')).toBe(1);
        expect(store.lastReplicated('env', 'knowledge')).toBe(299_999);
      });
      for (const plan of plans) expect(plan).toContain('releases_replicated');
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
      const store = createShareStore(database.db);
      const plans = plansOf(sqlite, 'feedback', () => {
        expect(store.openFeedbackCounts(['env'])).toEqual({ env: 10_000 });
        expect(store.feedbackCounts('env')).toEqual({ open: 10_000, resolved: 90_000 });
      });
      // The open ones from the index of open feedback (only they are read), the rest counted in a
      // covering index (no comment text read): never a walk of every comment's row.
      for (const plan of plans) expect(plan).toMatch(/INDEX feedback_open|COVERING INDEX/);
    } finally {
      await database.close();
    }
  });
});
