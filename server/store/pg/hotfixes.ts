import { and, asc, eq, gt, isNull } from 'drizzle-orm';
import { draftStates, drafts, hotfixes } from '#schema/db/pg-tables.ts';
import { AppError } from '#schema/errors.ts';
import type { createHotfixStore, DraftRow, HotfixRow } from '../hotfixes.ts';
import { firstDraftState } from '../project-records.ts';
import type { Async } from '../port.ts';
import type { Postgres } from './db.ts';
import { LOCK, lockBeforeRead, lockForTransaction } from './locks.ts';

/** The hotfix store on PostgreSQL (PG-23). */
export function createPgHotfixStore(pgx: Postgres) {
  const openDraft = async (environmentId: string) => {
    const [row] = await pgx
      .db()
      .select()
      .from(drafts)
      .where(
        and(
          eq(drafts.environmentId, environmentId),
          eq(drafts.kind, 'hotfix'),
          isNull(drafts.closedAt),
        ),
      )
      .orderBy(asc(drafts.createdAt), asc(drafts.id))
      .limit(1);
    return row;
  };

  return {
    openDraft,
    async startedSince(environmentId: string, since: number) {
      await lockBeforeRead(pgx, LOCK.limit('hotfixes', environmentId));
      const rows = await pgx
        .db()
        .select({ t: drafts.createdAt })
        .from(drafts)
        .where(
          and(
            eq(drafts.environmentId, environmentId),
            eq(drafts.kind, 'hotfix'),
            gt(drafts.createdAt, since),
          ),
        )
        .orderBy(asc(drafts.createdAt));
      return rows.map((r) => r.t);
    },
    /**
     * A new hotfix draft and its first state in one transaction. The domain looks for an open
     * hotfix before it starts one; on SQLite nothing runs in between, here another process may.
     * So the look is repeated under the ledger lock (locks.ts), and a second open hotfix is
     * refused as the domain would have refused it (hotfix_open): at most one per environment.
     */
    insertDraft(row: DraftRow, state: Uint8Array) {
      return pgx.atomically(async () => {
        if (row.kind === 'hotfix') {
          await lockForTransaction(pgx, LOCK.ledger);
          if (await openDraft(row.environmentId)) throw new AppError('hotfix_open');
        }
        await pgx.db().insert(drafts).values(row);
        await pgx
          .db()
          .insert(draftStates)
          .values(firstDraftState(row.id, state, row.createdAt));
      });
    },
    async setDraftBase(draftId: string, baseSnapshotId: string) {
      await pgx.db().update(drafts).set({ baseSnapshotId }).where(eq(drafts.id, draftId));
    },
    async closeDraft(draftId: string, now: number) {
      await pgx.db().update(drafts).set({ closedAt: now }).where(eq(drafts.id, draftId));
    },
    async insert(row: HotfixRow) {
      await pgx.db().insert(hotfixes).values(row);
    },
    open(projectId: string) {
      return pgx
        .db()
        .select()
        .from(hotfixes)
        .where(and(eq(hotfixes.projectId, projectId), eq(hotfixes.state, 'open')))
        .orderBy(asc(hotfixes.publishedAt), asc(hotfixes.id));
    },
    async setState(id: string, state: 'resolved' | 'overridden') {
      await pgx.db().update(hotfixes).set({ state }).where(eq(hotfixes.id, id));
    },
  } satisfies Async<ReturnType<typeof createHotfixStore>>;
}
