import { describe, expect, it } from 'vitest';
import { and, count, eq, isNull, sql } from 'drizzle-orm';
import * as lite from '#schema/db/tables.ts';
import * as pgt from '#schema/db/pg-tables.ts';
import type { Postgres } from '#server/store/pg/db.ts';
import type { Async } from '#server/store/port.ts';
import { createAccountStore, type UserRow } from '#server/store/accounts.ts';
import { createMemberStore } from '#server/store/members.ts';
import { createInvitationStore, type InvitationRow } from '#server/store/invitations.ts';
import { createPasswordResetStore } from '#server/store/password-resets.ts';
import { createIdempotencyStore, type IdempotencyRow } from '#server/store/idempotency.ts';
import { createNotificationStore, type NotificationRow } from '#server/store/notifications.ts';
import { createShareStore, type FeedbackRow, type ShareLinkRow } from '#server/store/shares.ts';
import { createAudienceStore, type AudienceRow } from '#server/store/audiences.ts';
import { createPgAccountStore } from '#server/store/pg/accounts.ts';
import { createPgMemberStore } from '#server/store/pg/members.ts';
import { createPgInvitationStore } from '#server/store/pg/invitations.ts';
import { createPgPasswordResetStore } from '#server/store/pg/password-resets.ts';
import { createPgIdempotencyStore } from '#server/store/pg/idempotency.ts';
import { createPgNotificationStore } from '#server/store/pg/notifications.ts';
import { createPgShareStore } from '#server/store/pg/shares.ts';
import { createPgAudienceStore } from '#server/store/pg/audiences.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { freshSqlite, labelled, sameOnBoth } from '../helpers/dialects.ts';
import { postgresPerFile, race } from '../helpers/pg-per-file.ts';

const cleanup = cleanupAfterEach();
const postgres = postgresPerFile(cleanup);

/** The eight stores through their port, and the overlay revision audiences bump. */
interface Stores {
  accounts: Async<ReturnType<typeof createAccountStore>>;
  members: Async<ReturnType<typeof createMemberStore>>;
  invitations: Async<ReturnType<typeof createInvitationStore>>;
  resets: Async<ReturnType<typeof createPasswordResetStore>>;
  idempotency: Async<ReturnType<typeof createIdempotencyStore>>;
  notifications: Async<ReturnType<typeof createNotificationStore>>;
  shares: Async<ReturnType<typeof createShareStore>>;
  audiences: Async<ReturnType<typeof createAudienceStore>>;
  revision(environmentId: string): Promise<number | undefined>;
}

const user = (id: string, createdAt = 1): UserRow => ({
  id,
  email: `${id}@example.com`,
  name: `User ${id}`,
  passwordHash: `hash-${id}`,
  isInstanceAdmin: id === 'u1',
  createdAt,
});
/** Rows other stores own, the same in both dialects (PG-4: one set of row types). */
const seed = {
  users: [user('u1'), user('u2', 2), user('u3', 3)],
  projects: [
    { id: 'p1', name: 'One', preset: 'five-stage', createdBy: 'u1', createdAt: 1 },
    { id: 'p2', name: 'Two', preset: 'five-stage', createdBy: 'u1', createdAt: 2 },
  ],
  environments: [
    { id: 'e1', projectId: 'p1', name: 'DEV', kind: 'dev', position: 0, color: 'blue' },
    { id: 'e2', projectId: 'p1', name: 'PROD', kind: 'production', position: 1, color: 'red' },
    { id: 'e3', projectId: 'p2', name: 'DEV', kind: 'dev', position: 0, color: 'blue' },
  ],
};

async function onSqlite(seeded: boolean): Promise<Stores> {
  const { db, transactions } = freshSqlite(cleanup);
  const asAsync = transactions.port;
  if (seeded) {
    db.insert(lite.users).values(seed.users).run();
    db.insert(lite.projects).values(seed.projects).run();
    db.insert(lite.environments).values(seed.environments).run();
  }
  return {
    accounts: asAsync(createAccountStore(db)),
    members: asAsync(createMemberStore(db)),
    invitations: asAsync(createInvitationStore(db)),
    resets: asAsync(createPasswordResetStore(db)),
    idempotency: asAsync(createIdempotencyStore(db)),
    notifications: asAsync(createNotificationStore(db)),
    shares: asAsync(createShareStore(db)),
    audiences: asAsync(createAudienceStore(db)),
    revision: async (id) =>
      db.select().from(lite.environments).where(eq(lite.environments.id, id)).get()
        ?.overlayRevision,
  };
}

function pgStores(pgx: Postgres): Stores {
  return {
    accounts: createPgAccountStore(pgx),
    members: createPgMemberStore(pgx),
    invitations: createPgInvitationStore(pgx),
    resets: createPgPasswordResetStore(pgx),
    idempotency: createPgIdempotencyStore(pgx),
    notifications: createPgNotificationStore(pgx),
    shares: createPgShareStore(pgx),
    audiences: createPgAudienceStore(pgx),
    revision: async (id) =>
      (await pgx.db().select().from(pgt.environments).where(eq(pgt.environments.id, id)))[0]
        ?.overlayRevision,
  };
}

async function seededPostgres(opts: { seeded?: boolean } = {}) {
  const pgx = postgres.pgx;
  if (opts.seeded ?? true) {
    await pgx.db().insert(pgt.users).values(seed.users);
    await pgx.db().insert(pgt.projects).values(seed.projects);
    await pgx.db().insert(pgt.environments).values(seed.environments);
  }
  return { pgx, stores: pgStores(pgx) };
}

/** The scenario on a new SQLite file and a new PostgreSQL database; the same answers from both. */
const same = (
  scenario: (s: Stores, say: (label: string, value: unknown) => void) => Promise<void>,
  seeded = true,
) =>
  sameOnBoth(
    () => onSqlite(seeded),
    async () => (await seededPostgres({ seeded })).stores,
    labelled(scenario),
  ).then((answers) => new Map(answers));

/** Answers in no promised order (RETURNING of several rows): compared as sets. */
const sorted = <T>(xs: T[]) => [...xs].sort();

/**
 * `n` transactions, each on its own connection, that all have begun before any runs `f` (a
 * barrier, not a delay): the store calls inside them race for real instead of one connection
 * finishing before the next has connected.
 */
function together<T>(pgx: Postgres, n: number, f: (i: number) => Promise<T>): Promise<T[]> {
  expect(pgx.pool.options.max).toBeGreaterThanOrEqual(n);
  let arrived = 0;
  let open!: () => void;
  const allBegun = new Promise<void>((resolve) => (open = resolve));
  return race(n, (i) =>
    pgx.atomically(async () => {
      await pgx.db().execute(sql`select 1`);
      if (++arrived === n) open();
      await allBegun;
      return f(i);
    }),
  );
}

describe('PG-30: accounts on PostgreSQL', () => {
  it('answers every call as the SQLite store does', async () => {
    const a = await same(async ({ accounts: s }, say) => {
      say('count empty', await s.countUsers());
      say('first', await s.insertFirstUser(user('ua')));
      say('second first', await s.insertFirstUser(user('ub')));
      await s.insertUser(user('ub', 2));
      say('count', await s.countUsers());
      say('list', await s.listUsers());
      say('by email', await s.findUserByEmail('ub@example.com'));
      say('by email missing', await s.findUserByEmail('nobody@example.com'));
      say('by id', await s.findUserById('ua'));
      say('by id missing', await s.findUserById('zz'));
      for (let i = 1; i <= 4; i++)
        await s.insertSession({
          tokenHash: `s${i}`,
          userId: 'ua',
          createdAt: i,
          expiresAt: 100 * i,
        });
      await s.insertSession({ tokenHash: 'sb', userId: 'ub', createdAt: 1, expiresAt: 1000 });
      say('session', await s.findSession('s2', 150));
      say('session expired', await s.findSession('s1', 150));
      say('session missing', await s.findSession('nope', 1));
      await s.deleteSession('s4');
      say('session deleted', await s.findSession('s4', 1));
      say('trim to 2', sorted(await s.trimSessions('ua', 2)));
      say('trim again', await s.trimSessions('ua', 2));
      say('trim to 0', sorted(await s.trimSessions('ua', 0)));
      say('other user kept', await s.findSession('sb', 1));
      await s.insertSession({ tokenHash: 's9', userId: 'ua', createdAt: 9, expiresAt: 10 });
      await s.deleteExpiredSessions(50);
      say('expired swept', await s.findSession('s9', 1));
      await s.insertToken({ id: 't1', userId: 'ua', name: 'ci', tokenHash: 'th1', createdAt: 5 });
      await s.insertToken({
        id: 't2',
        userId: 'ua',
        name: 'short',
        tokenHash: 'th2',
        createdAt: 6,
        expiresAt: 100,
      });
      await s.insertToken({ id: 't0', userId: 'ub', name: 'b', tokenHash: 'th0', createdAt: 5 });
      say('token', await s.findToken('th1', 1000));
      say('token unexpired', await s.findToken('th2', 99));
      say('token expired', await s.findToken('th2', 100));
      await s.touchToken('t1', 777);
      say('token touched', await s.findToken('th1', 1000));
      say('count tokens', await s.countTokens('ua'));
      say('list tokens', await s.listTokens('ua'));
      say("delete another's token", await s.deleteToken('ub', 't1'));
      say('delete token', await s.deleteToken('ua', 't1'));
      say('delete token again', await s.deleteToken('ua', 't1'));
      say('delete user', await s.deleteUser('ub'));
      say('delete user again', await s.deleteUser('ub'));
      say('cascaded', [await s.findSession('sb', 1), await s.findToken('th0', 1)]);
      say('count after', await s.countUsers());
    }, false);
    expect(a.get('first')).toBe(true);
    expect(a.get('second first')).toBe(false);
    expect(a.get('trim to 2')).toEqual(['s1']);
    expect(a.get('trim to 0')).toEqual(['s2', 's3']);
    expect(a.get('session')).toMatchObject({ user: { id: 'ua' }, expiresAt: 200 });
  });

  it('makes exactly one first account when eight set-ups race', async () => {
    const { pgx, stores } = await seededPostgres({ seeded: false });
    const won = await together(pgx, 8, (i) => stores.accounts.insertFirstUser(user(`racer${i}`)));
    expect(won.filter(Boolean)).toHaveLength(1);
    expect(await stores.accounts.countUsers()).toBe(1);
  });

  it('keeps the session bound when sign-ins of one person race (trim, then insert, in one transaction)', async () => {
    const { pgx, stores } = await seededPostgres();
    await together(pgx, 8, async (i) => {
      await stores.accounts.trimSessions('u1', 2);
      await stores.accounts.insertSession({
        tokenHash: `race${i}`,
        userId: 'u1',
        createdAt: 10 + i,
        expiresAt: 1e15,
      });
    });
    const [left] = await pgx
      .db()
      .select({ n: count() })
      .from(pgt.sessions)
      .where(eq(pgt.sessions.userId, 'u1'));
    expect(left!.n).toBe(3);
  });
});

describe('PG-31: members on PostgreSQL', () => {
  it('answers every call as the SQLite store does', async () => {
    const a = await same(async ({ members: s }, say) => {
      const row = (projectId: string, userId: string, at: number) => ({
        projectId,
        userId,
        roles: { '*': ['viewer' as const], e2: ['promoter' as const] },
        updatedBy: 'u1',
        updatedAt: at,
      });
      await s.putMember(row('p1', 'u2', 1));
      await s.putMember(row('p1', 'u3', 2));
      await s.putMember(row('p1', 'u1', 2));
      await s.putMember(row('p2', 'u2', 3));
      await s.putMember({ ...row('p1', 'u2', 4), roles: { '*': ['editor'] }, updatedBy: 'u3' });
      say('member', await s.member('p1', 'u2'));
      say('member missing', await s.member('p2', 'u1'));
      say('members', await s.members('p1'));
      say('memberships', (await s.memberships('u2')).map((m) => m.projectId).sort());
      say('delete', await s.deleteMember('p1', 'u2'));
      say('delete again', await s.deleteMember('p1', 'u2'));
      say('members after', await s.members('p1'));
    });
    expect(a.get('member')).toMatchObject({ roles: { '*': ['editor'] }, updatedAt: 4 });
  });
});

describe('PG-32: invitations on PostgreSQL', () => {
  const invitation = (id: string, grant: InvitationRow['grant'], createdAt: number) => ({
    id,
    tokenHash: `tok-${id}`,
    email: `${id}@example.com`,
    name: id,
    grant,
    createdBy: 'u1',
    createdAt,
    expiresAt: 1000,
    usedAt: null,
  });

  it('answers every call as the SQLite store does', async () => {
    const a = await same(async ({ invitations: s }, say) => {
      await s.insertInvitation(
        invitation('i1', { projectId: 'p1', roles: { '*': ['viewer'] } }, 1),
      );
      await s.insertInvitation(
        invitation('i2', { projectId: 'p2', roles: { '*': ['editor'] } }, 2),
      );
      await s.insertInvitation(invitation('i3', null, 3));
      await s.insertInvitation(invitation('i4', { projectId: 'p1', roles: { e1: ['editor'] } }, 4));
      say('by token', await s.invitation('tok-i1'));
      say('by token missing', await s.invitation('nope'));
      say('by id', await s.invitationById('i2'));
      say('pending', await s.pendingInvitations(10));
      say(
        'pending into p1',
        (await s.pendingInto('p1', 10, 10)).map((r) => r.id),
      );
      say(
        'pending into p1, 1',
        (await s.pendingInto('p1', 10, 1)).map((r) => r.id),
      );
      say('pending into none', await s.pendingInto('p9', 10, 10));
      say(
        'since',
        (await s.invitationsSince(2)).map((r) => r.id),
      );
      say('new link', await s.replaceToken('i4', 'tok-i4b', 20));
      say('old link', await s.useInvitation('i4', 'tok-i4', 21));
      say('new link used', await s.useInvitation('i4', 'tok-i4b', 22));
      say('used again', await s.useInvitation('i4', 'tok-i4b', 23));
      say('new link after use', await s.replaceToken('i4', 'x', 24));
      say('end', await s.endInvitation('i2', 30));
      say('end again', await s.endInvitation('i2', 31));
      say('use ended', await s.useInvitation('i2', 'tok-i2', 32));
      say('expired', await s.useInvitation('i1', 'tok-i1', 1000));
      say(
        'pending after',
        (await s.pendingInvitations(40)).map((r) => r.id),
      );
      say('rows', [await s.invitationById('i2'), await s.invitationById('i4')]);
    });
    expect(a.get('pending into p1')).toEqual(['i1', 'i4']);
    expect(a.get('new link used')).toBe(true);
    expect(a.get('pending after')).toEqual(['i1', 'i3']);
  });

  it('is single use when accepts, revocations and new links race', async () => {
    const { pgx, stores } = await seededPostgres();
    const s = stores.invitations;
    for (let round = 0; round < 10; round++) {
      const id = `r${round}`;
      await s.insertInvitation(invitation(id, null, 1));
      const answers = await together(pgx, 6, (i) =>
        i < 4
          ? s.useInvitation(id, `tok-${id}`, 5)
          : i === 4
            ? s.endInvitation(id, 5)
            : s.replaceToken(id, `new-${id}`, 5),
      );
      const [end, replaced] = answers.slice(4);
      const used = answers.slice(0, 4).filter(Boolean).length;
      expect(used).toBeLessThanOrEqual(1);
      if (used === 1) expect([end, replaced]).toEqual([false, false]);
      const row = (
        await pgx.db().select().from(pgt.invitations).where(eq(pgt.invitations.id, id))
      )[0]!;
      expect(row.usedAt !== null).toBe(used === 1);
    }
  });
});

describe('PG-33: password-reset links on PostgreSQL', () => {
  const link = (tokenHash: string, createdAt: number, expiresAt = 1000) => ({
    tokenHash,
    userId: 'u2',
    createdBy: 'u1',
    createdAt,
    expiresAt,
    usedAt: null,
  });

  it('answers every call as the SQLite store does', async () => {
    const a = await same(async ({ resets: s, accounts }, say) => {
      await accounts.insertSession({
        tokenHash: 'su2',
        userId: 'u2',
        createdAt: 1,
        expiresAt: 1e6,
      });
      await s.issue(link('r1', 1));
      await s.issue(link('r2', 2));
      await s.issue({ ...link('r3', 3), userId: 'u3' });
      say('earlier ended', await s.findValid('r1', 5));
      say('newest', await s.findValid('r2', 5));
      say('other user kept', (await s.findValid('r3', 5))?.id);
      say('expired', await s.findValid('r2', 1000));
      say('redeem ended', await s.redeem('r1', 'u2', 'new', 6));
      say('redeem wrong user', await s.redeem('r2', 'u3', 'new', 6));
      say('redeem', await s.redeem('r2', 'u2', 'new-hash', 7));
      say('redeem again', await s.redeem('r2', 'u2', 'newer', 8));
      say('password', (await accounts.findUserById('u2'))?.passwordHash);
      say('sessions ended', await accounts.findSession('su2', 1));
    });
    expect(a.get('redeem')).toBe(true);
    expect(a.get('password')).toBe('new-hash');
  });

  it('leaves one working link when issues race, and one redemption wins', async () => {
    const { pgx, stores } = await seededPostgres();
    await together(pgx, 8, (i) => stores.resets.issue(link(`race${i}`, 10 + i)));
    const unused = await pgx
      .db()
      .select({ n: count() })
      .from(pgt.passwordResets)
      .where(and(eq(pgt.passwordResets.userId, 'u2'), isNull(pgt.passwordResets.usedAt)));
    expect(unused[0]!.n).toBe(1);
    await stores.resets.issue(link('last', 50));
    const won = await together(pgx, 8, (i) => stores.resets.redeem('last', 'u2', `pw${i}`, 60));
    expect(won.filter(Boolean)).toHaveLength(1);
  });
});

describe('PG-34: idempotency keys on PostgreSQL', () => {
  const answer = (key: string, createdAt: number, body: string | null): IdempotencyRow => ({
    userId: 'u1',
    credential: 'token:t1',
    key,
    requestHash: `req-${body}`,
    status: 201,
    contentType: 'application/json',
    body,
    createdAt,
  });

  it('answers every call as the SQLite store does', async () => {
    const a = await same(async ({ idempotency: s }, say) => {
      await s.save(answer('k1', 10, '{"a":1}'));
      await s.save(answer('k2', 20, null));
      await s.save({ ...answer('k1', 15, 'x'), credential: 'session:s1' });
      await s.save({ ...answer('k3', 30, 'y'), userId: 'u2' });
      say('find', await s.find('u1', 'token:t1', 'k1', 5));
      say('find too old', await s.find('u1', 'token:t1', 'k1', 10));
      say('other credential', await s.find('u1', 'session:s1', 'k1', 0));
      say('count since', await s.countSince('u1', 0));
      say('count since 12', await s.countSince('u1', 12));
      await s.save(answer('k1', 40, '{"a":2}'));
      say('replaced', await s.find('u1', 'token:t1', 'k1', 0));
      say('delete before 20', await s.deleteBefore(20));
      say('left', await s.countSince('u1', 0));
    });
    expect(a.get('delete before 20')).toBe(2);
  });

  it('stores one row when two first answers of one key race', async () => {
    const { pgx, stores } = await seededPostgres();
    await together(pgx, 8, (i) => stores.idempotency.save(answer('same', 10 + i, `b${i}`)));
    expect(await stores.idempotency.countSince('u1', 0)).toBe(1);
  });
});

describe('PG-35: notifications on PostgreSQL', () => {
  const notice = (
    userId: string,
    projectId: string,
    createdAt: number,
    more: Partial<NotificationRow> = {},
  ): Omit<NotificationRow, 'id'> => ({
    userId,
    projectId,
    environmentId: 'e1',
    kind: 'feedback',
    title: `notice ${createdAt}`,
    href: '/x',
    requestId: null,
    eventSeq: createdAt,
    createdAt,
    readAt: null,
    ...more,
  });

  it('answers every call as the SQLite store does', async () => {
    const a = await same(async ({ notifications: s }, say) => {
      say('insert', await s.insert(notice('u1', 'p1', 1)));
      await s.insert(notice('u1', 'p2', 2, { environmentId: null, kind: 'conflict' }));
      await s.insert(notice('u1', 'p1', 3, { kind: 'approval_requested', requestId: 'q1' }));
      await s.insert(notice('u2', 'p1', 4, { kind: 'approval_requested', requestId: 'q1' }));
      for (let t = 5; t <= 9; t++) await s.insert(notice('u1', t % 2 ? 'p1' : 'p2', t));
      await s.markRead('u1', [1, 2, 4, 7], 50);
      say('list all', await s.list('u1', 'all', null, 20));
      say(
        'list p2',
        (await s.list('u1', ['p2'], null, 20)).map((n) => n.id),
      );
      say('list none', await s.list('u1', [], null, 20));
      say(
        'list before',
        (await s.list('u1', 'all', 6, 2)).map((n) => n.id),
      );
      say('unread', await s.unread('u1', 'all'));
      say('unread p1', await s.unread('u1', ['p1']));
      say('unread none', await s.unread('u1', []));
      say('has unread', await s.hasUnread('u1', 'feedback', 'e1'));
      say('has unread null env', await s.hasUnread('u1', 'conflict', null));
      say('has unread other env', await s.hasUnread('u1', 'feedback', 'e2'));
      say('settle', sorted(await s.settleRequest('q1', 60)));
      say('settle again', await s.settleRequest('q1', 61));
      say('trim 10', await s.trim('u1', 10));
      say('trim 5', await s.trim('u1', 5));
      say(
        'kept',
        (await s.list('u1', 'all', null, 20)).map((n) => [n.id, n.readAt]),
      );
      say('trim all unread', await s.trim('u1', 2));
      say(
        'kept unread',
        (await s.list('u1', 'all', null, 20)).map((n) => n.id),
      );
      await s.markRead('u1', 'all', 70);
      say('unread after', await s.unread('u1', 'all'));
      say(
        'other person',
        (await s.list('u2', 'all', null, 20)).map((n) => [n.id, n.readAt]),
      );
    });
    expect(a.get('settle')).toEqual(['u1', 'u2']);
    expect(a.get('trim 5')).toBe(3);
    expect(a.get('kept unread')).toEqual([9, 8]);
  });

  it('never trims below the bound when deliveries to one person race, and the next trim restores it', async () => {
    const { pgx, stores } = await seededPostgres();
    const s = stores.notifications;
    for (let t = 1; t <= 5; t++) await s.insert(notice('u1', 'p1', t, { readAt: 100 }));
    await together(pgx, 6, async (i) => {
      await s.insert(notice('u1', 'p1', 10 + i));
      await s.trim('u1', 5);
    });
    const left = async () => (await s.list('u1', 'all', null, 100)).map((n) => n.readAt);
    const afterRace = await left();
    expect(afterRace.length).toBeGreaterThanOrEqual(5);
    expect(afterRace.length).toBeLessThanOrEqual(5 + 6);
    await s.trim('u1', 5);
    // 11 kept at most: the read ones went first, then the oldest unread.
    expect(await left()).toEqual([null, null, null, null, null]);
  });
});

describe('PG-36: share links and feedback on PostgreSQL', () => {
  const shareLink = (id: string, environmentId: string, createdAt: number): ShareLinkRow => ({
    id,
    environmentId,
    snapshotId: null,
    label: `link ${id}`,
    tokenHash: `tok-${id}`,
    allowFeedback: id !== 'l3',
    createdBy: 'u1',
    createdAt,
    expiresAt: id === 'l2' ? 50 : 1000,
    revokedAt: null,
  });
  const post = (id: string, env: string, link: string, createdAt: number): FeedbackRow => ({
    id,
    environmentId: env,
    shareLinkId: link,
    section: 'flags',
    itemId: 'it1',
    author: 'Sam',
    text: `text ${id}`,
    createdAt,
    itemName: 'Flag',
    resolvedAt: null,
    resolvedBy: null,
  });

  it('answers every call as the SQLite store does', async () => {
    const a = await same(async ({ shares: s }, say) => {
      await s.insertShareLink(shareLink('l1', 'e1', 1));
      await s.insertShareLink(shareLink('l2', 'e1', 2));
      await s.insertShareLink(shareLink('l3', 'e2', 3));
      await s.insertShareLink(shareLink('l4', 'e1', 4));
      say('by token', await s.shareLinkByToken('tok-l3'));
      say('by token missing', await s.shareLinkByToken('nope'));
      say('link', await s.shareLink('l1'));
      say(
        'links',
        (await s.shareLinks('e1')).map((l) => l.id),
      );
      say('by ids', await s.shareLinksByIds(['l3', 'zz', 'l1']));
      say('by no ids', await s.shareLinksByIds([]));
      say('active', await s.activeShareLinkCount('e1', 60));
      say('revoke', await s.revokeShareLink('l4', 70));
      say('revoke again', await s.revokeShareLink('l4', 71));
      say('active after', await s.activeShareLinkCount('e1', 60));
      await s.insertFeedback(post('f1', 'e1', 'l1', 10));
      await s.insertFeedback(post('f2', 'e1', 'l1', 11));
      await s.insertFeedback(post('f3', 'e1', 'l4', 12));
      await s.insertFeedback(post('f4', 'e2', 'l3', 13));
      await s.insertFeedback(post('f5', 'e1', 'l1', 14));
      say('resolve', await s.setFeedbackResolved('f2', 'u2', 20));
      say('resolve missing', await s.setFeedbackResolved('zz', 'u2', 20));
      say(
        'all',
        (await s.feedback('e1')).map((f) => f.id),
      );
      say(
        'open',
        (await s.feedback('e1', 'open')).map((f) => f.id),
      );
      say('resolved', await s.feedback('e1', 'resolved'));
      say(
        'limited',
        (await s.feedback('e1', 'all', 2)).map((f) => f.id),
      );
      say('by id', await s.feedbackById('f4'));
      say('open counts', await s.openFeedbackCounts(['e1', 'e2', 'e3']));
      say('open counts none', await s.openFeedbackCounts([]));
      say('counts', await s.feedbackCounts('e1'));
      say('counts empty', await s.feedbackCounts('e3'));
      await s.setFeedbackResolved('f2', null, null);
      say('reopened', await s.feedbackCounts('e1'));
      const reply = (id: string, feedbackId: string, createdAt: number) => ({
        id,
        feedbackId,
        createdBy: 'u2',
        authorName: 'User u2',
        text: `reply ${id}`,
        createdAt,
      });
      await s.insertReply(reply('y1', 'f1', 30));
      await s.insertReply(reply('y2', 'f2', 31));
      await s.insertReply(reply('y3', 'f1', 32));
      say('reply count', await s.replyCount('f1'));
      say('replies', await s.repliesOf(['f1', 'f2', 'f3']));
      say('replies none', await s.repliesOf([]));
      say(
        'of link',
        (await s.feedbackOfLink('e1', 'l1')).map((f) => f.id),
      );
      say(
        'of link limited',
        (await s.feedbackOfLink('e1', 'l1', 1)).map((f) => f.id),
      );
      say('count of link', await s.feedbackCountOfLink('e1', 'l1'));
      say('times of link', await s.feedbackTimesOfLink('e1', 'l1', 10));
    });
    expect(a.get('open counts')).toEqual({ e1: 3, e2: 1 });
    expect(a.get('counts')).toEqual({ open: 3, resolved: 1 });
    expect(a.get('times of link')).toEqual([11, 14]);
  });

  it('revokes a link once when revocations race, and counts feedback from one snapshot', async () => {
    const { pgx, stores } = await seededPostgres();
    const s = stores.shares;
    await s.insertShareLink(shareLink('l1', 'e1', 1));
    const revoked = await together(pgx, 8, (i) => s.revokeShareLink('l1', 10 + i));
    expect(revoked.filter(Boolean)).toHaveLength(1);
    // Open comments arrive while the counts are read: none was ever resolved.
    const posting = race(4, async (w) => {
      for (let i = 0; i < 25; i++) await s.insertFeedback(post(`f${w}-${i}`, 'e1', 'l1', i));
    });
    const reading = race(2, async () => {
      const seen: number[] = [];
      for (let i = 0; i < 40; i++) seen.push((await s.feedbackCounts('e1')).resolved);
      return seen;
    });
    const [, seen] = await Promise.all([posting, reading]);
    expect(new Set(seen.flat())).toEqual(new Set([0]));
    expect(await s.feedbackCounts('e1')).toEqual({ open: 100, resolved: 0 });
  });
});

describe('PG-37: audiences on PostgreSQL', () => {
  const audience = (id: string, environmentId: string, name: string, at: number): AudienceRow => ({
    id,
    environmentId,
    name,
    nameKey: name.toLowerCase(),
    description: `about ${name}`,
    rules: [{ attribute: 'country', operator: 'is', values: ['DE', 'FR'] }],
    updatedBy: 'u1',
    updatedAt: at,
  });

  it('answers every call as the SQLite store does, bumping the overlay revision with each write', async () => {
    const a = await same(async ({ audiences: s, revision }, say) => {
      say('revision before', await revision('e1'));
      await s.put(audience('a2', 'e1', 'Staff', 2));
      await s.put(audience('a1', 'e1', 'Beta', 1));
      await s.put(audience('a3', 'e2', 'Beta', 3));
      say('list', await s.list('e1'));
      say('count', await s.count('e1'));
      say('count empty', await s.count('e3'));
      say('get', await s.get('e1', 'a2'));
      say('get elsewhere', await s.get('e2', 'a2'));
      say('by name', (await s.byName('e2', 'beta'))?.id);
      say('by name missing', await s.byName('e1', 'gamma'));
      await s.put({ ...audience('a1', 'e1', 'Beta Testers', 4), rules: [] });
      say('replaced', await s.get('e1', 'a1'));
      say('delete elsewhere', await s.delete('e2', 'a1'));
      say('delete', await s.delete('e1', 'a2'));
      say('delete again', await s.delete('e1', 'a2'));
      say('revisions', [await revision('e1'), await revision('e2')]);
    });
    expect(a.get('revisions')).toEqual([4, 1]);
  });

  it('counts every bump when writes race, and one of racing deletes', async () => {
    const { pgx, stores } = await seededPostgres();
    const s = stores.audiences;
    await together(pgx, 8, (i) => s.put(audience(`a${i}`, 'e1', `Name ${i}`, i)));
    expect(await stores.revision('e1')).toBe(8);
    expect(await s.count('e1')).toBe(8);
    const deleted = await together(pgx, 6, () => s.delete('e1', 'a0'));
    expect(deleted.filter(Boolean)).toHaveLength(1);
    expect(await stores.revision('e1')).toBe(9);
  });
});
