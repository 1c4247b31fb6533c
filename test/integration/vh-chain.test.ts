import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { ProjectView, ReleaseChainPage } from '#schema/api.ts';
import type { WorkspaceContent } from '#schema/content/ydoc.ts';
import {
  CHAIN_FIELDS,
  GENESIS_HASH,
  verifyChain,
  type ChainRecord,
} from '#schema/release-chain.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { stored } from '../helpers/dialect.ts';
import { testServer } from '../helpers/server.ts';
import { adminOf, newProject, newUser, type Client } from '../helpers/fixture.ts';

/** Verifiable history: the project's release chain, paged to its first record (VH-1, VH-2, VH-3, VH-5). */
const cleanup = cleanupAfterEach();
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
type Err = { error: { id: string; message: string } };

/** A sample project whose DEV was synced into TEST `syncs` times (each a new snapshot), and a second project. */
async function setup(syncs: number) {
  const server = await testServer(cleanup);
  const admin = await adminOf(server.url);
  const project: ProjectView = await newProject(admin, { sample: true });
  const other: ProjectView = await newProject(admin, { name: 'Other bots' });
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
    // Records of another project interleave: one sequence numbers every project's records.
    await admin.ok('POST', `/api/environments/${other.environments[0]!.id}/sync`, {});
  }
  const db = () => stored(server);
  return { server, admin, project, other, dev: dev!, test: test!, db };
}

/** Every record of the chain, page by page (`limit` each), as a CI job would read it. */
async function readChain(who: Client, projectId: string, limit: number) {
  const records: ChainRecord[] = [];
  let after: number | null = 0;
  let pages = 0;
  while (after !== null) {
    const page: ReleaseChainPage = await who.ok<ReleaseChainPage>(
      'GET',
      `/api/projects/${projectId}/releases?after=${after}&limit=${limit}`,
    );
    expect(page.records.length).toBeLessThanOrEqual(limit);
    records.push(...page.records);
    after = page.next;
    pages++;
  }
  return { records, pages };
}

describe('VH the release chain, pageable and verifiable', () => {
  it('VH-1 paging reaches the first record (genesis), in chain order, each record exactly its hashed fields; VH-2 it verifies', async () => {
    const s = await setup(4);
    const { records, pages } = await readChain(s.admin, s.project.id, 2);
    expect(pages).toBeGreaterThan(1);
    expect(records.length).toBe(4);
    expect(records[0]!.prevHash).toBe(GENESIS_HASH);
    expect(records.every((r) => r.projectId === s.project.id)).toBe(true);
    const seqs = records.map((r) => r.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    for (const r of records)
      expect(Object.keys(r).sort()).toEqual([...CHAIN_FIELDS, 'seq', 'hash'].sort());
    expect(verifyChain(records, sha256)).toEqual({
      ok: true,
      count: 4,
      head: records[3]!.hash,
      headSeq: records[3]!.seq,
    });
    // The rows as stored, in the same order: nothing left out.
    const rows = await s
      .db()
      .all('SELECT seq, hash FROM releases WHERE project_id = ? ORDER BY seq', s.project.id);
    expect(rows).toEqual(records.map((r) => ({ seq: r.seq, hash: r.hash })));
    // The default page holds them all; a cursor past the end is an empty last page.
    const all = await s.admin.ok<ReleaseChainPage>('GET', `/api/projects/${s.project.id}/releases`);
    expect(all).toEqual({ records, next: null });
    expect(
      await s.admin.ok('GET', `/api/projects/${s.project.id}/releases?after=${records[3]!.seq}`),
    ).toEqual({ records: [], next: null });
  });

  it('VH-2 a record altered in the database is reported at its seq; a removed one as a gap', async () => {
    const s = await setup(4);
    const before = (await readChain(s.admin, s.project.id, 3)).records;
    const db = s.db();
    await db.run("UPDATE releases SET message = 'not what happened' WHERE seq = ?", before[1]!.seq);
    const altered = (await readChain(s.admin, s.project.id, 3)).records;
    expect(verifyChain(altered, sha256)).toMatchObject({
      ok: false,
      brokenAt: before[1]!.seq,
      reason: 'hash_mismatch',
    });

    await db.run(
      'UPDATE releases SET message = ? WHERE seq = ?',
      before[1]!.message,
      before[1]!.seq,
    );
    expect(verifyChain((await readChain(s.admin, s.project.id, 3)).records, sha256).ok).toBe(true);
    await db.run('DELETE FROM releases WHERE seq = ?', before[2]!.seq);
    const removed = (await readChain(s.admin, s.project.id, 3)).records;
    expect(removed.length).toBe(3);
    expect(verifyChain(removed, sha256)).toMatchObject({
      ok: false,
      brokenAt: before[3]!.seq,
      reason: 'seq_gap',
    });
  });

  it('VH-3 only members who may read every environment read the chain; others are refused with a reason, outsiders told it does not exist', async () => {
    const s = await setup(1);
    const ids = s.project.environments.map((e) => e.id);
    const everywhere = await newUser(s.admin, 'all@example.com', 'Alma All');
    const some = await newUser(s.admin, 'some@example.com', 'Sam Some');
    const outsider = await newUser(s.admin, 'out@example.com', 'Otto Outsider');
    await s.admin.ok('PUT', `/api/projects/${s.project.id}/members/${everywhere.id}`, {
      roles: Object.fromEntries(ids.map((id) => [id, ['viewer']])),
    });
    await s.admin.ok('PUT', `/api/projects/${s.project.id}/members/${some.id}`, {
      roles: Object.fromEntries(ids.slice(0, -1).map((id) => [id, ['viewer']])),
    });
    const url = `/api/projects/${s.project.id}/releases`;
    expect((await everywhere.call<ReleaseChainPage>('GET', url)).body.records.length).toBe(1);
    const refused = await some.call<Err>('GET', url);
    expect(refused.status).toBe(403);
    expect(refused.body.error.id).toBe('chain_not_readable');
    // Names what is missing and who grants it, in words: no id.
    const prodName = s.project.environments.at(-1)!.name;
    expect(refused.body.error.message).toContain(prodName);
    expect(refused.body.error.message).toContain('Ada');
    for (const id of ids) expect(refused.body.error.message).not.toContain(id);
    const outside = await outsider.call<Err>('GET', url);
    expect([outside.status, outside.body.error.id]).toEqual([404, 'not_a_member']);
    const anonymous = await s.admin.as('').call<Err>('GET', url);
    expect(anonymous.status).toBe(401);
    // Another project's records never appear in this one's chain, nor the other way round.
    const other = await s.admin.ok<ReleaseChainPage>('GET', `/api/projects/${s.other.id}/releases`);
    expect(other.records.every((r) => r.projectId === s.other.id)).toBe(true);
    expect(verifyChain(other.records, sha256).ok).toBe(true);
  });

  it('VH-5 limit is 1 to 500 and cursors are sequence numbers: anything else is a bad request', async () => {
    const s = await setup(1);
    const url = `/api/projects/${s.project.id}/releases`;
    for (const q of [
      'limit=501',
      'limit=0',
      'limit=-1',
      'limit=abc',
      'limit=1e3',
      'after=-1',
      'after=x',
      'after=1.5',
      'after=99999999999999999999',
    ]) {
      const r = await s.admin.call<Err>('GET', `${url}?${q}`);
      expect([q, r.status, r.body.error.id]).toEqual([q, 400, 'invalid_body']);
    }
    expect((await s.admin.call('GET', `${url}?limit=500`)).status).toBe(200);
  });
});
