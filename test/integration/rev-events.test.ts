import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { sampleContent } from '#schema/content/sample.ts';
import { itemText, sectionMap } from '#schema/content/ydoc.ts';
import { connect, synced, until } from '../helpers/clients.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { stored } from '../helpers/dialect.ts';
import { testServer } from '../helpers/server.ts';
import { adminOf, newProject, newUser, type Client } from '../helpers/fixture.ts';
import { dataOf, openEvents, type SseMessage } from '../helpers/sse.ts';

const cleanup = cleanupAfterEach();

/** A five-stage project with the sample content; `stages` in pipeline order (DEV first, production last). */
async function setup(env: Record<string, string> = {}, preset = 'five-stage') {
  const server = await testServer(cleanup, env);
  const admin = await adminOf(server.url);
  const project = await newProject(admin, { sample: true, preset });
  const stages = project.environments.map((e) => e.id);
  /** Opens a stream (closed after the test). */
  const open = async (as: { token: string }, opts: Parameters<typeof openEvents>[3] = {}) => {
    const s = await openEvents(server.url, project.id, as.token, opts);
    cleanup.push(() => s.close());
    return s;
  };
  /** A member with `roles` in the given stages. */
  const member = async (email: string, roles: Record<string, string[]>) => {
    const u = await newUser(admin, email);
    await admin.ok('PUT', `/api/projects/${project.id}/members/${u.id}`, { roles });
    return u;
  };
  const everywhere = (roles: string[]) => Object.fromEntries(stages.map((s) => [s, roles]));
  /** A project-wide event everyone sees (a member's roles change): the end of what a test waits for. */
  let markers = 0;
  const marker = async () => {
    const u = await newUser(admin, `marker${++markers}@example.com`);
    await admin.ok('PUT', `/api/projects/${project.id}/members/${u.id}`, {
      roles: { [stages[0]!]: ['viewer'] },
    });
  };
  /** Event kinds in the log of this project, oldest first. */
  const logged = async () =>
    (
      await stored(server).all<{ kind: string }>(
        'SELECT kind FROM project_events WHERE project_id = ? ORDER BY seq',
        project.id,
      )
    ).map((r) => r.kind);
  return { server, admin, project, stages, open, member, everywhere, marker, logged };
}

const events = (ms: SseMessage[]) => ms.filter((m) => m.event === 'message').map(dataOf);

describe('[REV-60] the project event stream', () => {
  it('REV-60 a Sync by one person reaches another member’s open stream: id, kind, stage and time, as text/event-stream with a retry hint', async () => {
    const { admin, stages, open, member, everywhere } = await setup();
    const reviewer = await member('rita@example.com', everywhere(['viewer']));
    const stream = await open(reviewer);
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(stream.headers.get('cache-control')).toContain('no-cache');

    await admin.ok('POST', `/api/environments/${stages[0]}/sync`, {});
    const seen = await stream.until('sync');
    const sync = seen.at(-1)!;
    const data = dataOf(sync);
    expect(data).toEqual({
      id: Number(sync.id),
      kind: 'sync',
      environmentId: stages[1],
      at: expect.any(Number) as number,
    });
    // Thin: nothing about who did it or what moved.
    expect(Object.keys(JSON.parse(sync.data) as object).sort()).toEqual([
      'at',
      'environmentId',
      'id',
      'kind',
    ]);
    expect(stream.retries[0]).toBeGreaterThan(0);
  });

  it('REV-60 a non-member is answered 404 not_a_member, and a request without a sign-in 401', async () => {
    const { server, admin, open, project } = await setup();
    const outsider = await newUser(admin, 'olga@example.com');
    const refused = await open(outsider);
    expect([refused.status, refused.error?.id]).toEqual([404, 'not_a_member']);
    const anonymous = await openEvents(server.url, project.id, '');
    expect(anonymous.status).toBe(401);
  });

  it('REV-61 a viewer of DEV only gets no event of the stages they may not read; a person’s own events reach only them', async () => {
    const { server, admin, project, stages, open, member, everywhere, marker } = await setup();
    const devOnly = await member('dana@example.com', { [stages[0]!]: ['viewer'] });
    const reviewer = await member('rita@example.com', everywhere(['viewer']));
    const narrow = await open(devOnly);
    const wide = await open(reviewer);

    await admin.ok('POST', `/api/environments/${stages[0]}/sync`, {}); // into TEST
    await admin.ok('POST', `/api/environments/${stages[1]}/sync`, {}); // into UAT
    await admin.ok('PUT', `/api/environments/${stages[0]}/variables/company`, { value: 'Dev Co' });
    // Notifications (written by the inbox's reactor) are addressed to one person.
    const insert = (recipient: string) =>
      stored(server).run(
        `INSERT INTO project_events (project_id, environment_id, kind, actor_id, recipient_id, subject, created_at)
         VALUES (?, NULL, 'notification', NULL, ?, '{}', ?)`,
        project.id,
        recipient,
        Date.now(),
      );
    await insert(devOnly.id);
    await insert(reviewer.id);
    await marker();

    const narrowSeen = events(await narrow.until('members'));
    expect(narrowSeen.filter((e) => e.environmentId !== null).map((e) => e.environmentId)).toEqual([
      stages[0],
    ]);
    expect(narrowSeen.map((e) => e.kind)).toEqual(
      expect.arrayContaining(['local', 'notification', 'members']),
    );
    expect(narrowSeen.map((e) => e.kind)).not.toContain('sync');
    expect(narrowSeen.filter((e) => e.kind === 'notification')).toHaveLength(1);

    const wideSeen = events(await wide.until('members'));
    expect(wideSeen.filter((e) => e.kind === 'sync').map((e) => e.environmentId)).toEqual([
      stages[1],
      stages[2],
    ]);
    expect(wideSeen.filter((e) => e.kind === 'notification')).toHaveLength(1);
  });

  it('REV-62 Last-Event-ID (or ?lastEventId=) resumes exactly after the given event; none starts at now', async () => {
    const { server, admin, project, stages, open, marker } = await setup();
    const first = await open(admin);
    await admin.ok('POST', `/api/environments/${stages[0]}/sync`, {});
    const e1 = (await first.until('sync')).at(-1)!;
    await admin.ok('POST', `/api/environments/${stages[1]}/sync`, {});
    const e2 = (await first.until('sync')).at(-1)!;
    first.close();
    const nextAfter = async (seq: string) =>
      (await stored(server).get<{ seq: number }>(
        'SELECT min(seq) AS seq FROM project_events WHERE project_id = ? AND seq > ?',
        project.id,
        Number(seq),
      ))!.seq;

    for (const opts of [{ lastEventId: e1.id! }, { query: `lastEventId=${e1.id}` }]) {
      const resumed = await open(admin, opts);
      const m = (await resumed.next())!;
      expect(Number(m.id)).toBe(await nextAfter(e1.id!));
      const upToSync = dataOf(m).kind === 'sync' ? [m] : [m, ...(await resumed.until('sync'))];
      expect(upToSync.at(-1)!.id).toBe(e2.id);
      resumed.close();
    }

    const fresh = await open(admin);
    await marker();
    const m = (await fresh.next())!;
    expect(dataOf(m).kind).toBe('members');
    expect(Number(m.id)).toBeGreaterThan(Number(e2.id));
  });

  it('REV-62 a resume from before the oldest kept event, from an unknown id or from garbage gets one `reset`, then the live events', async () => {
    const { server, admin, stages, open, marker } = await setup();
    const first = await open(admin);
    await admin.ok('POST', `/api/environments/${stages[0]}/sync`, {});
    const e1 = (await first.until('sync')).at(-1)!;
    await admin.ok('POST', `/api/environments/${stages[1]}/sync`, {});
    await first.until('sync');
    first.close();
    // Retention pruned everything up to and including the second Sync.
    await stored(server).run('DELETE FROM project_events WHERE seq <= ?', Number(e1.id) + 1);
    await marker();

    for (const lastEventId of [String(Number(e1.id) - 1), '999999999', 'not-an-id']) {
      const resumed = await open(admin, { lastEventId });
      const reset = (await resumed.next())!;
      expect(reset.event).toBe('reset');
      await marker();
      expect(dataOf((await resumed.next())!).kind).toBe('members');
      resumed.close();
    }
  });

  it('REV-63 open streams are bounded per person (429 too_many_connections); another person is not held back', async () => {
    const { admin, open, member, everywhere } = await setup({ EVENT_STREAMS_PER_USER: '2' });
    const reviewer = await member('rita@example.com', everywhere(['viewer']));
    const a = await open(reviewer);
    await open(reviewer);
    const third = await open(reviewer);
    expect([third.status, third.error?.id]).toEqual([429, 'too_many_connections']);
    expect((await open(admin)).status).toBe(200);
    // Closing one frees its place (the server learns of the close a moment later).
    a.close();
    await a.ended;
    let again = await open(reviewer);
    for (let i = 0; again.status === 429 && i < 100; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      again = await open(reviewer);
    }
    expect(again.status).toBe(200);
  });

  it('REV-63 a removed member’s stream ends without another event; a stream ends with the session that opened it', async () => {
    const { server, admin, project, open, member, everywhere } = await setup();
    const reviewer = await member('rita@example.com', everywhere(['viewer']));
    const stream = await open(reviewer);
    await admin.ok('DELETE', `/api/projects/${project.id}/members/${reviewer.id}`);
    await stream.ended;
    expect(await stream.next()).toBeNull();

    const other = await member('otto@example.com', everywhere(['viewer']));
    const byCookie = await openEvents(server.url, project.id, '', { cookie: other.cookie });
    cleanup.push(() => byCookie.close());
    expect(byCookie.status).toBe(200);
    const out = await fetch(`${server.url}/api/session`, {
      method: 'DELETE',
      headers: { cookie: other.cookie, origin: server.url },
    });
    expect(out.status).toBeLessThan(300);
    await byCookie.ended;
    expect(await byCookie.next()).toBeNull();
  });

  it('REV-64 a refused Sync emits nothing: a stale board’s Sync (409) and a viewer’s (403) write no event', async () => {
    const { admin, stages, open, member, everywhere, marker, logged } = await setup();
    const viewer = await member('rita@example.com', everywhere(['viewer']));
    const stream = await open(admin);
    const before = await logged();
    const stale = await admin.call('POST', `/api/environments/${stages[0]}/sync`, {
      expectedSourceSnapshotId: 'f'.repeat(64),
    });
    expect(stale.status).toBe(409);
    expect((await viewer.call('POST', `/api/environments/${stages[0]}/sync`, {})).status).toBe(403);
    expect(await logged()).toEqual(before);
    await marker();
    expect(events(await stream.until('members')).map((e) => e.kind)).not.toContain('sync');
  });

  it('REV-63 a client that stops reading is dropped once its unsent bytes pass the bound; its place frees', async () => {
    const { server, admin, project, open, marker } = await setup({
      EVENT_STREAM_MAX_BUFFERED_BYTES: String(16 * 1024),
      EVENT_STREAMS_PER_USER: '1',
    });
    // A raw connection that asks for the stream and never reads a byte.
    const socket = net.connect(server.port, '127.0.0.1');
    cleanup.push(() => socket.destroy());
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(
      `GET /api/projects/${project.id}/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${admin.token}\r\n\r\n`,
    );
    // The answer's head arrives; from then on nothing is read.
    const head = await new Promise<string>((resolve) =>
      socket.once('data', (chunk: Buffer) => resolve(chunk.toString('latin1'))),
    );
    socket.pause();
    expect(head).toMatch(/^HTTP\/1\.1 200/);
    // Its place is taken (one stream per person here).
    const second = await open(admin);
    expect(second.status).toBe(429);
    // A week of events (~18 MB of frames) for a client that reads none of them.
    await stored(server).run(
      `INSERT INTO project_events (project_id, environment_id, kind, actor_id, recipient_id, subject, created_at)
       WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200000)
       SELECT CAST(? AS TEXT), NULL, 'members', NULL, NULL, '{}', CAST(? AS BIGINT) FROM n`,
      project.id,
      Date.now(),
    );
    await marker();
    // A generous deadline: on PostgreSQL the stream reads the week of events in batches over the
    // network before its buffer passes the bound (seconds on a busy machine).
    let again = await open(admin);
    for (const until = Date.now() + 30_000; again.status === 429 && Date.now() < until;) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      again = await open(admin);
    }
    expect(again.status).toBe(200);
  });

  it('REV-63 open streams are bounded per process too', async () => {
    const { admin, open, member, everywhere } = await setup({ EVENT_STREAMS: '2' });
    const reviewer = await member('rita@example.com', everywhere(['viewer']));
    expect((await open(admin)).status).toBe(200);
    expect((await open(reviewer)).status).toBe(200);
    const third = await open(admin);
    expect([third.status, third.error?.id]).toEqual([429, 'too_many_connections']);
  });

  it('REV-61 rights are read again on every wake-up: a stage granted while connected is streamed from then on', async () => {
    const { admin, project, stages, open, member } = await setup();
    const dana = await member('dana@example.com', { [stages[0]!]: ['viewer'] });
    const stream = await open(dana);
    await admin.ok('POST', `/api/environments/${stages[0]}/sync`, {}); // into TEST: not Dana's
    await admin.ok('PUT', `/api/projects/${project.id}/members/${dana.id}`, {
      roles: { [stages[0]!]: ['viewer'], [stages[1]!]: ['viewer'] },
    });
    const upToGrant = events(await stream.until('members'));
    expect(upToGrant.map((e) => e.kind)).not.toContain('sync');
    const changed = sampleContent();
    changed.knowledge.kb_sizes!.title = 'Sizes, again';
    await admin.ok('PUT', `/api/environments/${stages[0]}/content`, changed);
    await admin.ok('POST', `/api/environments/${stages[0]}/sync`, {});
    expect(dataOf((await stream.until('sync')).at(-1)!).environmentId).toBe(stages[1]);
  });
});

describe('[REV-65] every change announces itself, inside its transaction', () => {
  /** A change that must write one event of `kind`, and the same change refused (writes none). */
  async function expectAnnounced(
    logged: () => Promise<string[]>,
    kind: string,
    change: () => Promise<unknown>,
    refused: () => Promise<{ status: number }>,
  ) {
    // Of that kind: replication may write its own events meanwhile (it runs on a timer).
    const count = async () => (await logged()).filter((k) => k === kind).length;
    const before = await count();
    const r = await refused();
    expect(r.status, `${kind}: the refused request`).toBeGreaterThanOrEqual(400);
    expect(await count(), `${kind}: a refusal writes nothing`).toBe(before);
    await change();
    expect(await count(), `${kind}: the change writes its event`).toBe(before + 1);
  }

  it('REV-65 Sync, Publish, rollback, stages, gates, shares, members, flow rules and local data each write their event; refused, none', async () => {
    const { server, admin, project, stages, member, everywhere, logged } = await setup();
    const viewer: Client = await member('rita@example.com', everywhere(['viewer']));
    const [dev, test] = [stages[0]!, stages[1]!];
    const prod = stages.at(-1)!;
    const syncFrom = (env: string, as: Client = admin) =>
      as.call('POST', `/api/environments/${env}/sync`, { confirmMissingSecrets: true });

    await expectAnnounced(
      logged,
      'sync',
      () => syncFrom(dev),
      () => syncFrom(dev, viewer),
    );
    for (const env of stages.slice(1, -1))
      await admin.ok('POST', `/api/environments/${env}/sync`, {
        confirmMissingSecrets: true,
      });
    await expectAnnounced(
      logged,
      'publish',
      () => admin.ok('POST', `/api/environments/${prod}/publish`, { confirmMissingSecrets: true }),
      () =>
        viewer.call('POST', `/api/environments/${prod}/publish`, { confirmMissingSecrets: true }),
    );
    // A second Sync into TEST, then TEST back to the first.
    const { snapshotId: firstInTest } = (
      await admin.ok<{ environments: { snapshotId: string }[] }>(
        'GET',
        `/api/projects/${project.id}`,
      )
    ).environments[1]!;
    const changed = sampleContent();
    changed.knowledge.kb_sizes!.title = 'Sizes, again';
    await admin.ok('PUT', `/api/environments/${dev}/content`, changed);
    await admin.ok('POST', `/api/environments/${dev}/sync`, {});
    await expectAnnounced(
      logged,
      'rollback',
      () => admin.ok('POST', `/api/environments/${test}/rollback`, { snapshotId: firstInTest }),
      () => viewer.call('POST', `/api/environments/${test}/rollback`, { snapshotId: firstInTest }),
    );
    await expectAnnounced(
      logged,
      'stages',
      () => admin.ok('PATCH', `/api/environments/${test}`, { name: 'QA' }),
      () => viewer.call('PATCH', `/api/environments/${test}`, { name: 'QA2' }),
    );
    await expectAnnounced(
      logged,
      'gates',
      () => admin.ok('PUT', `/api/environments/${test}/gate`, { requiredApprovals: 1 }),
      () => viewer.call('PUT', `/api/environments/${test}/gate`, { requiredApprovals: 0 }),
    );
    let linkId = '';
    await expectAnnounced(
      logged,
      'shares',
      async () =>
        (linkId = (
          await admin.ok<{ id: string }>('POST', `/api/environments/${test}/share-links`, {
            label: 'Sales',
          })
        ).id),
      () => viewer.call('POST', `/api/environments/${test}/share-links`, { label: 'Sales' }),
    );
    await expectAnnounced(
      logged,
      'shares',
      () => admin.ok('DELETE', `/api/share-links/${linkId}`),
      () => viewer.call('DELETE', `/api/share-links/${linkId}`),
    );
    const newcomer = await newUser(admin, 'nina@example.com');
    await expectAnnounced(
      logged,
      'members',
      () =>
        admin.ok('PUT', `/api/projects/${project.id}/members/${newcomer.id}`, {
          roles: { [test]: ['viewer'] },
        }),
      () =>
        viewer.call('PUT', `/api/projects/${project.id}/members/${newcomer.id}`, {
          roles: { [test]: ['viewer'] },
        }),
    );
    await expectAnnounced(
      logged,
      'members',
      () => admin.ok('DELETE', `/api/projects/${project.id}/members/${newcomer.id}`),
      () => admin.call('DELETE', `/api/projects/${project.id}/members/${newcomer.id}x`),
    );
    // An account removed by the instance admin leaves its projects: they announce it.
    const leaving = await member('lea@example.com', { [test]: ['viewer'] });
    await expectAnnounced(
      logged,
      'members',
      () => admin.ok('DELETE', `/api/users/${leaving.id}`),
      () => viewer.call('DELETE', `/api/users/${leaving.id}`),
    );
    await expectAnnounced(
      logged,
      'local',
      () => admin.ok('PUT', `/api/environments/${test}/variables/company`, { value: 'QA Co' }),
      () => admin.call('PUT', `/api/environments/${test}/variables/company`, { value: 1 }),
    );
    await expectAnnounced(
      logged,
      'local',
      () => admin.ok('PUT', `/api/environments/${test}/secrets/ORDERS_API_TOKEN`, { value: 's3' }),
      () =>
        viewer.call('PUT', `/api/environments/${test}/secrets/ORDERS_API_TOKEN`, { value: 's' }),
    );
    await expectAnnounced(
      logged,
      'local',
      () => admin.ok('POST', `/api/environments/${test}/runtime-keys`, { name: 'Bot' }),
      () => viewer.call('POST', `/api/environments/${test}/runtime-keys`, { name: 'Bot' }),
    );
    await expectAnnounced(
      logged,
      'local',
      () => admin.ok('POST', `/api/environments/${test}/audiences`, { name: 'VIPs' }),
      () => viewer.call('POST', `/api/environments/${test}/audiences`, { name: 'VIPs' }),
    );
    const settings = await admin.ok('GET', `/api/environments/${test}/settings`);
    await expectAnnounced(
      logged,
      'local',
      () => admin.ok('PUT', `/api/environments/${test}/settings`, settings),
      () => viewer.call('PUT', `/api/environments/${test}/settings`, settings),
    );
    // A secret's event names no secret.
    const subjects = await stored(server).all<{ subject: string }>(
      `SELECT subject FROM project_events WHERE kind = 'local'`,
    );
    expect(subjects.map((s) => s.subject).join()).not.toContain('ORDERS_API_TOKEN');
    await expectAnnounced(
      logged,
      'flow-rules',
      async () => {
        const p = await admin.ok<{ flowRulesVersion: string }>(
          'GET',
          `/api/projects/${project.id}`,
        );
        await admin.ok('PUT', `/api/projects/${project.id}/flow-rules`, {
          flowRules: { knowledge: { direction: 'down', source: 'UAT' } },
          expectedVersion: p.flowRulesVersion,
        });
      },
      () =>
        viewer.call('PUT', `/api/projects/${project.id}/flow-rules`, {
          flowRules: { knowledge: { direction: 'down', source: 'UAT' } },
        }),
    );
  });

  it('REV-65 replication and pull write their event in the stage that received; a refused pull, none', async () => {
    const { server, admin, project, open, everywhere, member, logged } = await setup(
      { REPLICATION_DELAY_MS: '100' },
      'three-stage',
    );
    const viewer: Client = await member('rita@example.com', everywhere(['viewer']));
    const [uat, production] = project.environments.slice(1) as unknown as [
      { id: string; draftId: string },
      { id: string; draftId: string },
    ];
    const stream = await open(admin);
    /** Prepends `text` to an article's body, as an editor in that stage types it. */
    const edit = async (draftId: string, itemId: string, text: string) => {
      const c = connect(server.url, draftId, { token: admin.token });
      cleanup.push(() => c.destroy());
      await synced(c);
      await until(c.doc, (d) => sectionMap(d, 'knowledge').has(itemId));
      itemText(sectionMap(c.doc, 'knowledge').get(itemId), 'body')!.insert(0, text);
    };
    // Knowledge flows down from production: an edit there replicates into UAT (and on into the
    // first stage, whose replication may be announced first). Each replication's event names a
    // stage that received, never production.
    await edit(production.draftId, 'kb_shipping', 'Production wording. ');
    const receivers: (string | null)[] = [];
    while (!receivers.includes(uat.id))
      receivers.push(dataOf((await stream.until('replication')).at(-1)!).environmentId);
    const staging = project.environments[0]!.id;
    for (const r of receivers) expect([uat.id, staging]).toContain(r);
    // UAT edits an article; production pulls it.
    await edit(uat.draftId, 'kb_returns', 'UAT wording. ');
    const pull = (as: Client) =>
      as.call('POST', `/api/environments/${production.id}/pull`, {
        fromEnvironmentId: uat.id,
        section: 'knowledge',
        itemIds: ['kb_returns'],
        confirmOverwrite: true,
      });
    await expectAnnounced(
      logged,
      'pull',
      async () => {
        // The edit reaches UAT's draft first (a pull takes what UAT holds).
        await expect
          .poll(
            async () =>
              (
                await admin.ok<{ knowledge: Record<string, { body: string }> }>(
                  'GET',
                  `/api/environments/${uat.id}/content`,
                )
              ).knowledge.kb_returns!.body,
          )
          .toMatch(/^UAT wording/);
        return admin.ok('POST', `/api/environments/${production.id}/pull`, {
          fromEnvironmentId: uat.id,
          section: 'knowledge',
          itemIds: ['kb_returns'],
          confirmOverwrite: true,
        });
      },
      () => pull(viewer),
    );
    expect(dataOf((await stream.until('pull')).at(-1)!).environmentId).toBe(production.id);
  });
});
