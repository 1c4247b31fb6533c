import { describe, expect, it } from 'vitest';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { stored } from '../helpers/dialect.ts';
import { testServer } from '../helpers/server.ts';
import { adminOf, newProject, newUser } from '../helpers/fixture.ts';
import { openEvents } from '../helpers/sse.ts';

/** Issue 16 red team: the project event stream. */
const cleanup = cleanupAfterEach();

describe('SEC live red team: project event stream', () => {
  it('[SEC-28] a resume from far behind (more than 1,000 of the project’s events) is a reset, not a replay of the week’s log on every connection', async () => {
    const server = await testServer(cleanup);
    const admin = await adminOf(server.url);
    const project = await newProject(admin, { name: 'Busy' });
    const db = stored(server);
    const insert = (n: number) =>
      db.run(
        `INSERT INTO project_events (project_id, environment_id, kind, actor_id, recipient_id, subject, created_at)
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < CAST(? AS INTEGER))
         SELECT CAST(? AS TEXT), NULL, 'members', NULL, NULL, '{}', CAST(? AS BIGINT) FROM n`,
        n,
        project.id,
        Date.now(),
      );
    await insert(1);
    const first = (await db.get<{ seq: number }>('SELECT max(seq) AS seq FROM project_events'))!
      .seq;
    await insert(2500);
    const s = await openEvents(server.url, project.id, admin.token, {
      lastEventId: String(first),
    });
    cleanup.push(() => s.close());
    expect(s.status).toBe(200);
    const m = await s.next();
    expect(m?.event).toBe('reset');
    // A resume from close behind is still served event by event.
    const near = await openEvents(server.url, project.id, admin.token, {
      lastEventId: String(first + 2400),
    });
    cleanup.push(() => near.close());
    const got = [];
    for (let i = 0; i < 100; i++) got.push(await near.next());
    expect(got.map((x) => x?.event)).toEqual(Array(100).fill('message'));
    expect(Number(got.at(-1)!.id)).toBe(first + 2500);
  });
});

describe('SEC live red team: event streams per project', () => {
  it('[SEC-30] the members of one project cannot take every event stream of the process: past EVENT_STREAMS_PER_PROJECT they get 429, another project still streams', async () => {
    const server = await testServer(cleanup, {
      EVENT_STREAMS_PER_USER: '1',
      EVENT_STREAMS_PER_PROJECT: '2',
      EVENT_STREAMS: '4',
    });
    const admin = await adminOf(server.url);
    const a = await newProject(admin, { name: 'Tenant A' });
    const b = await newProject(admin, { name: 'Tenant B' });
    const statuses = [];
    for (let i = 0; i < 4; i++) {
      const u = await newUser(admin, `a${i}@example.com`);
      await admin.ok('PUT', `/api/projects/${a.id}/members/${u.id}`, {
        roles: { [a.environments[0]!.id]: ['viewer'] },
      });
      const s = await openEvents(server.url, a.id, u.token);
      cleanup.push(() => s.close());
      statuses.push(s.status);
    }
    expect(statuses).toEqual([200, 200, 429, 429]);
    const s = await openEvents(server.url, b.id, admin.token);
    cleanup.push(() => s.close());
    expect(s.status).toBe(200);
  });
});

describe('SEC live red team: admin-only events', () => {
  it('[SEC-31] `invitation` events (who is invited into the project, and when) reach project admins only, as the invitations list does', async () => {
    const server = await testServer(cleanup);
    const admin = await adminOf(server.url);
    const project = await newProject(admin, { name: 'Invites' });
    const dev = project.environments[0]!.id;
    const viewer = await newUser(admin, 'vic@example.com');
    await admin.ok('PUT', `/api/projects/${project.id}/members/${viewer.id}`, {
      roles: { [dev]: ['viewer'] },
    });
    const theirs = await openEvents(server.url, project.id, viewer.token);
    const admins = await openEvents(server.url, project.id, admin.token);
    cleanup.push(
      () => theirs.close(),
      () => admins.close(),
    );
    await admin.ok('POST', '/api/invitations', {
      email: 'new@example.com',
      name: 'New Person',
      projectId: project.id,
      roles: { [dev]: ['viewer'] },
    });
    expect((await admins.until('invitation')).length).toBeGreaterThan(0);
    // A project-wide event both may see ends what the viewer waits for.
    const marker = await newUser(admin, 'marker@example.com');
    await admin.ok('PUT', `/api/projects/${project.id}/members/${marker.id}`, {
      roles: { [dev]: ['viewer'] },
    });
    const seen = (await theirs.until('members')).map(
      (m) => (JSON.parse(m.data) as { kind: string }).kind,
    );
    expect(seen).not.toContain('invitation');
  });
});
