import type { Async } from './port.ts';
import { and, eq, gt, isNull } from 'drizzle-orm';
import { drafts, draftStates, hotfixes } from '#schema/db/tables.ts';
import type { Db } from './db.ts';
import { firstDraftState } from './project-records.ts';

export type HotfixRow = typeof hotfixes.$inferSelect;
export type DraftRow = typeof drafts.$inferSelect;

export function createHotfixStore(db: Db) {
  return {
    openDraft(environmentId: string): DraftRow | undefined {
      return db
        .select()
        .from(drafts)
        .where(
          and(
            eq(drafts.environmentId, environmentId),
            eq(drafts.kind, 'hotfix'),
            isNull(drafts.closedAt),
          ),
        )
        .get();
    },
    /** When hotfix drafts of the environment were started since `since`. */
    startedSince(environmentId: string, since: number): number[] {
      return db
        .select({ t: drafts.createdAt })
        .from(drafts)
        .where(
          and(
            eq(drafts.environmentId, environmentId),
            eq(drafts.kind, 'hotfix'),
            gt(drafts.createdAt, since),
          ),
        )
        .all()
        .map((r) => r.t);
    },
    /** A new hotfix draft and its first state (the live snapshot's content) in one transaction. */
    insertDraft(row: DraftRow, state: Uint8Array): void {
      db.transaction((tx) => {
        tx.insert(drafts).values(row).run();
        tx.insert(draftStates)
          .values(firstDraftState(row.id, state, row.createdAt))
          .run();
      });
    },
    /** A rebased hotfix now starts from another live snapshot. */
    setDraftBase(draftId: string, baseSnapshotId: string): void {
      db.update(drafts).set({ baseSnapshotId }).where(eq(drafts.id, draftId)).run();
    },
    closeDraft(draftId: string, now: number): void {
      db.update(drafts).set({ closedAt: now }).where(eq(drafts.id, draftId)).run();
    },
    insert(row: HotfixRow): void {
      db.insert(hotfixes).values(row).run();
    },
    open(projectId: string): HotfixRow[] {
      return db
        .select()
        .from(hotfixes)
        .where(and(eq(hotfixes.projectId, projectId), eq(hotfixes.state, 'open')))
        .all();
    },
    setState(id: string, state: 'resolved' | 'overridden'): void {
      db.update(hotfixes).set({ state }).where(eq(hotfixes.id, id)).run();
    },
  };
}

/** The port the domain sees (PG-10). */
export type HotfixStore = Async<ReturnType<typeof createHotfixStore>>;
