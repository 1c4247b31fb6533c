import type {
  approvals,
  environmentChecks,
  gatePolicies,
  promotionRequests,
} from '#schema/db/tables.ts';

/** What the SQLite and PostgreSQL gate stores share (PG-26): what an upsert replaces, what is voided. */

type RequestRow = typeof promotionRequests.$inferSelect;

/** What a gate policy written again replaces. */
export const gateUpdate = (row: typeof gatePolicies.$inferInsert) => ({
  requiredApprovals: row.requiredApprovals,
  allowSelfApproval: row.allowSelfApproval,
  requiredChecks: row.requiredChecks ?? '[]',
  updatedBy: row.updatedBy,
  updatedAt: row.updatedAt,
});

/** What a check reported again replaces: the latest report per (environment, snapshot, name) wins. */
export const checkUpdate = (row: typeof environmentChecks.$inferSelect) => ({
  state: row.state,
  url: row.url,
  summary: row.summary,
  reportedBy: row.reportedBy,
  reportedAt: row.reportedAt,
});

/** What a person's second decision on a request replaces. */
export const approvalUpdate = (row: typeof approvals.$inferSelect) => ({
  decision: row.decision,
  comment: row.comment,
  createdAt: row.createdAt,
});

/**
 * The open requests out of a source that moved and must be voided: their approvals were for
 * another snapshot. A hotfix request follows the hotfix draft, not the pointer: it is checked
 * when the hotfix publishes.
 */
export const requestsToVoid = (open: RequestRow[], exceptSnapshotId: string | null): string[] =>
  open.filter((r) => r.kind !== 'hotfix' && r.snapshotId !== exceptSnapshotId).map((r) => r.id);
