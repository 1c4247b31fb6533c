import { describe, expect, it } from 'vitest';
import type { HistoryView, ProjectView, ReleaseChainPage } from '#schema/api.ts';
import type { WorkspaceContent } from '#schema/content/ydoc.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { stored } from '../helpers/dialect.ts';
import { testServer } from '../helpers/server.ts';
import { adminOf, newProject, newUser } from '../helpers/fixture.ts';

/** Verifiable history: an environment's history, pageable back to its first entry (VH-4, VH-5). */
const cleanup = cleanupAfterEach();
type Err = { error: { id: string } };

/** A sample project: DEV synced into TEST `syncs` times, TEST's gate changed `gates` times (audit events). */
async function setup(syncs: number, gates: number) {
  const server = await testServer(cleanup);
  const admin = await adminOf(server.url);
  const project: ProjectView = await newProject(admin, { sample: true });
  const [dev, test] = project.environments;
  for (let i = 0; i < syncs; i++) {
    if (i > 0) {
      const content = await admin.ok<WorkspaceContent>(
        'GET',
        `/api/environments/${dev!.id}/content`,
      );
      Object.values(content.knowledge)[0]!.title = `Edited ${i}`;
      await admin.ok('PUT', `/api/environments/${dev!.id}/content`, content);
    }
    await admin.ok('POST', `/api/environments/${dev!.id}/sync`, {});
  }
  for (let i = 0; i < gates; i++)
    await admin.ok('PUT', `/api/environments/${test!.id}/gate`, {
      requiredApprovals: i % 2,
    });
  return { server, admin, project, test: test!.id };
}

/** Every page of an environment's history, `limit` at a time. */
async function allPages(admin: Awaited<ReturnType<typeof adminOf>>, envId: string, limit: number) {
  const pages: HistoryView[] = [];
  let before: string | null = '';
  while (before !== null) {
    const page: HistoryView = await admin.ok<HistoryView>(
      'GET',
      `/api/environments/${envId}/history?limit=${limit}${before ? `&before=${before}` : ''}`,
    );
    expect(page.history.length).toBeLessThanOrEqual(limit);
    expect(page.events.length).toBeLessThanOrEqual(limit);
    pages.push(page);
    before = page.next;
  }
  return pages;
}

describe('VH an environment’s history, pageable', () => {
  it('VH-4 paging returns every record and event once, newest first, each release with its seq and chain hash', async () => {
    const s = await setup(5, 3);
    const whole = await s.admin.ok<HistoryView>('GET', `/api/environments/${s.test}/history`);
    expect(whole.history.length).toBe(5);
    expect(whole.events.length).toBe(3);
    expect(whole.next).toBeNull();

    const pages = await allPages(s.admin, s.test, 2);
    expect(pages.length).toBe(3);
    const history = pages.flatMap((p) => p.history);
    const events = pages.flatMap((p) => p.events);
    expect(history).toEqual(whole.history);
    expect(events).toEqual(whole.events);
    expect(new Set(history.map((h) => h.seq)).size).toBe(history.length);
    const seqs = history.map((h) => h.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => b - a));
    // The last page says so: no cursor; every page names who acted in it.
    expect(pages.at(-1)!.next).toBeNull();
    for (const p of pages) for (const h of p.history) expect(p.users[h.actorId]).toBe('Ada');

    // The same records, with the same hashes, as the project's chain has them.
    const chain = await s.admin.ok<ReleaseChainPage>(
      'GET',
      `/api/projects/${s.project.id}/releases?limit=500`,
    );
    const inChain = new Map(chain.records.map((r) => [r.seq, r.hash]));
    for (const h of history) expect(inChain.get(h.seq)).toBe(h.hash);
  });

  it('VH-4 a page is 200 of each list unless asked (as before paging); the next page goes on where it stopped', async () => {
    const s = await setup(1, 0);
    // 205 older audit events for TEST, written straight into the file (only their order matters here).
    const db = stored(s.server);
    for (let i = 0; i < 205; i++)
      await db.run(
        `INSERT INTO audit_events (project_id, environment_id, kind, actor_id, subject, created_at, prev_hash, hash)
         VALUES (?, ?, 'gate.changed', NULL, '{"requiredApprovals":0}', ?, ?, ?)`,
        s.project.id,
        s.test,
        Date.now(),
        '0'.repeat(64),
        String(i).padStart(64, '0'),
      );
    const first = await s.admin.ok<HistoryView>('GET', `/api/environments/${s.test}/history`);
    expect([first.history.length, first.events.length]).toEqual([1, 200]);
    expect(first.next).not.toBeNull();
    const second = await s.admin.ok<HistoryView>(
      'GET',
      `/api/environments/${s.test}/history?before=${first.next}`,
    );
    // Releases were done on the first page: only events go on.
    expect([second.history.length, second.events.length, second.next]).toEqual([0, 5, null]);
    expect(second.events[0]!.seq).toBeLessThan(first.events.at(-1)!.seq);
  });

  it('VH-5 history bounds and cursors: limit 1 to 500, a cursor only as `next` gave it; VH-4 still readers only', async () => {
    const s = await setup(1, 0);
    const url = `/api/environments/${s.test}/history`;
    for (const q of ['limit=501', 'limit=0', 'limit=x', 'before=5', 'before=a.b', 'before=-1.2'])
      expect([q, (await s.admin.call<Err>('GET', `${url}?${q}`)).status]).toEqual([q, 400]);
    expect((await s.admin.call<Err>('GET', `${url}?limit=501`)).body.error.id).toBe('invalid_body');
    const dev = s.project.environments[0]!.id;
    const reader = await newUser(s.admin, 'dev@example.com', 'Devi Dev');
    await s.admin.ok('PUT', `/api/projects/${s.project.id}/members/${reader.id}`, {
      roles: { [dev]: ['viewer'] },
    });
    const refused = await reader.call<Err>('GET', `${url}?before=0.0`);
    expect([refused.status, refused.body.error.id]).toEqual([403, 'forbidden']);
  });
});
