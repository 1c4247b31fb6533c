import { asc, gt, inArray, sql } from 'drizzle-orm';
import { auditEvents, blobs, releases, snapshots } from '#schema/db/pg-tables.ts';
import { GENESIS_HASH, verifyChain } from '#schema/release-chain.ts';
import { auditHash } from '../audit-records.ts';
import { hashItem, hashTree, sha256 } from '../../lib/hash.ts';
import type { Source, TablePair } from './copy-from-sqlite.ts';
import type { PgDb } from './db.ts';

/**
 * Checks the PostgreSQL copy before it is committed (PG-55), reading it back through drizzle as
 * the server will: row counts equal the source's, every blob and snapshot hashes to its id, every
 * snapshot's blobs are there, each project's release chain and the instance's audit chain verify.
 */

export interface Verified {
  rows: { table: string; rows: number }[];
  blobs: number;
  snapshots: number;
  /** Projects whose release chain verified, and their records together. */
  releaseChains: number;
  releases: number;
  auditEvents: number;
}

/** Problems listed at most; past it the report says how many more there were. */
const MAX_PROBLEMS = 20;
const PAGE = 1000;

/** Verifies the copy; `problems` is empty when it holds, else names each failure (bounded). */
export async function verifyCopy(
  db: PgDb,
  source: Source,
  tables: readonly TablePair[],
): Promise<{ verified: Verified; problems: string[] }> {
  const problems: string[] = [];
  let more = 0;
  const problem = (p: string) => (problems.length < MAX_PROBLEMS ? problems.push(p) : more++);

  const rows: Verified['rows'] = [];
  for (const t of tables) {
    const res = await db.execute<{ n: string }>(
      sql`SELECT count(*) AS n FROM ${sql.identifier(t.name)}`,
    );
    const copied = Number(res.rows[0]!.n);
    const expected = source.count(t.name);
    if (copied !== expected)
      problem(`table ${t.name}: ${copied} rows in PostgreSQL, ${expected} in SQLite`);
    rows.push({ table: t.name, rows: copied });
  }

  let blobCount = 0;
  for (let after = ''; ;) {
    const page = await db
      .select()
      .from(blobs)
      .where(gt(blobs.id, after))
      .orderBy(asc(blobs.id))
      .limit(PAGE);
    for (const b of page) {
      blobCount++;
      if (hashItem(b.json) !== b.id)
        problem(`blob ${b.id}: its content does not hash to its id (it was altered)`);
    }
    if (page.length < PAGE) break;
    after = page[page.length - 1]!.id;
  }

  let snapshotCount = 0;
  for (let after: [string, string] = ['', '']; ;) {
    const page = await db
      .select()
      .from(snapshots)
      .where(sql`(${snapshots.projectId}, ${snapshots.id}) > (${after[0]}, ${after[1]})`)
      .orderBy(asc(snapshots.projectId), asc(snapshots.id))
      .limit(PAGE);
    const wanted = new Map<string, string>();
    for (const s of page) {
      snapshotCount++;
      if (hashTree(s.tree) !== s.id) {
        problem(`snapshot ${s.id} of project ${s.projectId}: its tree does not hash to its id`);
        continue;
      }
      const tree = JSON.parse(s.tree) as Record<string, Record<string, string>>;
      for (const section of Object.values(tree))
        for (const blobId of Object.values(section)) wanted.set(blobId, s.id);
    }
    const ids = [...wanted.keys()];
    for (let i = 0; i < ids.length; i += PAGE) {
      const chunk = ids.slice(i, i + PAGE);
      const found = new Set(
        (await db.select({ id: blobs.id }).from(blobs).where(inArray(blobs.id, chunk))).map(
          (r) => r.id,
        ),
      );
      for (const id of chunk)
        if (!found.has(id)) problem(`snapshot ${wanted.get(id)}: its blob ${id} is missing`);
    }
    if (page.length < PAGE) break;
    const last = page[page.length - 1]!;
    after = [last.projectId, last.id];
  }

  const chains = await verifyChains(db, problem);

  if (more > 0) problems.push(`… and ${more} more`);
  return { verified: { rows, blobs: blobCount, snapshots: snapshotCount, ...chains }, problems };
}

/**
 * Every project's release chain and the instance's audit chain, read back in seq order: each
 * failure is passed to `problem` (a chain is reported once, where it first breaks). Used by the
 * copy's verification and by the cluster tests (PG-190, PG-191).
 */
export async function verifyChains(
  db: PgDb,
  problem: (p: string) => void,
): Promise<Pick<Verified, 'releaseChains' | 'releases' | 'auditEvents'>> {
  // Releases in seq order; each project's chain goes on from its last verified record.
  const heads = new Map<string, { seq: number; hash: string } | null>();
  let releaseCount = 0;
  for (let after = 0; ;) {
    const page = await db
      .select()
      .from(releases)
      .where(gt(releases.seq, after))
      .orderBy(asc(releases.seq))
      .limit(PAGE);
    const byProject = Map.groupBy(page, (r) => r.projectId);
    for (const [projectId, records] of byProject) {
      const from = heads.get(projectId);
      if (from === null) continue; // already broken: reported once
      const verdict = verifyChain(records, sha256, from);
      releaseCount += records.length;
      if (verdict.ok) heads.set(projectId, { seq: verdict.headSeq!, hash: verdict.head });
      else {
        problem(`release chain of project ${projectId}: ${verdict.message}`);
        heads.set(projectId, null);
      }
    }
    if (page.length < PAGE) break;
    after = page[page.length - 1]!.seq;
  }

  let auditCount = 0;
  let prevHash = GENESIS_HASH;
  audit: for (let after = 0; ;) {
    const page = await db
      .select()
      .from(auditEvents)
      .where(gt(auditEvents.seq, after))
      .orderBy(asc(auditEvents.seq))
      .limit(PAGE);
    for (const e of page) {
      auditCount++;
      if (auditHash(e) !== e.hash) {
        problem(`audit chain: event ${e.seq} was altered (its fields do not give its hash)`);
        break audit;
      }
      if (e.prevHash !== prevHash) {
        problem(`audit chain: event ${e.seq} does not follow the event before it`);
        break audit;
      }
      prevHash = e.hash;
    }
    if (page.length < PAGE) break;
    after = page[page.length - 1]!.seq;
  }

  const releaseChains = [...heads.values()].filter((h) => h !== null).length;
  return { releaseChains, releases: releaseCount, auditEvents: auditCount };
}
