import { and, asc, desc, eq, gt, lt } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { auditEvents, releases } from '#schema/db/tables.ts';
import { openDatabase } from '#server/store/db.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { tempDataDir } from '../helpers/server.ts';

const cleanup = cleanupAfterEach();

describe('SEC pipeline red team: the cost of a chain or history page', () => {
  it('[SEC-37] held: a chain page (`after=0&limit=500`) and an environment history page are index seeks, never a scan of the project’s or the instance’s records', async () => {
    const database = openDatabase(tempDataDir(), 'normal');
    cleanup.push(() => database.close());
    const { db, sqlite } = database;
    // The queries of server/store/releases.ts `chain` and `historyPage` and server/store/audit.ts `auditFor`, as built there.
    const chain = db
      .select()
      .from(releases)
      .where(and(eq(releases.projectId, 'prj_1'), gt(releases.seq, 0)))
      .orderBy(asc(releases.seq))
      .limit(500)
      .toSQL();
    const history = db
      .select()
      .from(releases)
      .where(and(eq(releases.environmentId, 'env_1'), lt(releases.seq, 1_000_000)))
      .orderBy(desc(releases.seq))
      .limit(501)
      .toSQL();
    const events = db
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.environmentId, 'env_1'), lt(auditEvents.seq, 1_000_000)))
      .orderBy(desc(auditEvents.seq))
      .limit(501)
      .toSQL();
    const plan = (q: { sql: string; params: unknown[] }) =>
      (sqlite.prepare(`EXPLAIN QUERY PLAN ${q.sql}`).all(...q.params) as { detail: string }[])
        .map((r) => r.detail)
        .join(' | ');
    expect(plan(chain)).toMatch(
      /SEARCH releases USING (COVERING )?INDEX releases_project \(project_id=\? AND seq>\?\)/,
    );
    expect(plan(chain)).not.toMatch(/SCAN|TEMP B-TREE/);
    expect(plan(history)).toMatch(
      /SEARCH releases USING (COVERING )?INDEX releases_env \(environment_id=\? AND seq<\?\)/,
    );
    expect(plan(history)).not.toMatch(/SCAN|TEMP B-TREE/);
    expect(plan(events)).toMatch(
      /SEARCH audit_events USING (COVERING )?INDEX audit_env \(environment_id=\? AND seq<\?\)/,
    );
    expect(plan(events)).not.toMatch(/SCAN|TEMP B-TREE/);
  });
});
