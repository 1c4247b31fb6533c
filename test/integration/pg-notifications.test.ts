import { describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { createProjectEvents } from '#server/domain/events.ts';
import { createNotifications } from '#server/domain/notifications.ts';
import { withAfterCommit } from '#server/store/after-commit.ts';
import { createPgAccountStore } from '#server/store/pg/accounts.ts';
import { createPgEventStore } from '#server/store/pg/events.ts';
import { createPgGateStore } from '#server/store/pg/gates.ts';
import { createPgInvitationStore } from '#server/store/pg/invitations.ts';
import { createPgMemberStore } from '#server/store/pg/members.ts';
import { createPgNotificationStore } from '#server/store/pg/notifications.ts';
import { createPgProjectStore } from '#server/store/pg/projects.ts';
import { createPgShareStore } from '#server/store/pg/shares.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { T0, pgStores, seedProject } from '../helpers/dialects.ts';
import { postgresPerFile } from '../helpers/pg-per-file.ts';

/** The notification reactor on PostgreSQL, as start.ts builds it over one pool. */
const cleanup = cleanupAfterEach();
const pg = postgresPerFile(cleanup);

describe('PG-178: a retryable failure while notifying runs the whole change again', () => {
  it('PG-178 a deadlock reported by the inbox insert is not swallowed: the change runs again and commits with its notice; any other failure is logged and the change stands without one', async () => {
    const accounts = createPgAccountStore(pg.pgx);
    for (const id of ['u1', 'u2'])
      await accounts.insertUser({
        id,
        email: `${id}@example.com`,
        name: id,
        passwordHash: 'x',
        isInstanceAdmin: false,
        createdAt: T0,
      });
    await seedProject(pgStores(pg.pgx), 'p1');
    // u2 edits DEV: told of a replication conflict there.
    await createPgMemberStore(pg.pgx).putMember({
      projectId: 'p1',
      userId: 'u2',
      roles: { 'p1-dev': ['editor'] },
      updatedBy: 'u1',
      updatedAt: T0,
    });
    const { atomically } = withAfterCommit(pg.pgx);
    const events = createProjectEvents(createPgEventStore(pg.pgx));
    const store = createPgNotificationStore(pg.pgx);
    const logged: string[] = [];
    createNotifications({
      atomically,
      events,
      store,
      projects: createPgProjectStore(pg.pgx),
      members: createPgMemberStore(pg.pgx),
      accounts,
      requests: createPgGateStore(pg.pgx),
      invitations: createPgInvitationStore(pg.pgx),
      feedback: createPgShareStore(pg.pgx),
      log: (msg) => logged.push(msg),
    });
    // The next insert fails as drizzle reports PostgreSQL's error (the driver's, as cause).
    let fail: string | null = null;
    const insert = store.insert;
    store.insert = async (row) => {
      const code = fail;
      fail = null;
      if (code)
        throw new Error('Failed query', { cause: Object.assign(new Error(code), { code }) });
      return await insert(row);
    };
    const conflict = (section: string) =>
      events.emit({
        projectId: 'p1',
        environmentId: 'p1-dev',
        kind: 'conflict',
        actorId: 'u1',
        subject: { action: 'detected', section },
      });
    const count = async (table: string) =>
      (
        await pg.pgx
          .db()
          .execute<{ n: number }>(sql`select count(*)::int as n from ${sql.identifier(table)}`)
      ).rows[0]!.n;

    // A deadlock (40P01): the change runs again, and commits with its notice.
    fail = '40P01';
    let runs = 0;
    await atomically(async () => {
      runs++;
      await conflict('agents');
    });
    expect(runs).toBe(2);
    expect(await count('notifications')).toBe(1);
    expect(logged).toEqual([]);

    // Anything else (a check violation, 23514): undone alone and logged; the change stands.
    await store.markRead('u2', 'all', T0 + 1);
    fail = '23514';
    runs = 0;
    await atomically(async () => {
      runs++;
      await conflict('knowledge');
    });
    expect(runs).toBe(1);
    expect(await count('notifications')).toBe(1);
    expect(logged).toEqual([
      'notifying of a conflict event failed; the change stands, nobody was told',
    ]);
    // Both changes' events committed (the second without its notice).
    expect(
      (
        await pg.pgx.db().execute<{
          n: number;
        }>(sql`select count(*)::int as n from project_events where kind = 'conflict'`)
      ).rows[0]!.n,
    ).toBe(2);
  });
});
