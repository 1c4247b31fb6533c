import type { releases } from '#schema/db/tables.ts';

/**
 * What a webhook payload says of a release record (WH-5), from its row and its place among its
 * environment's records; the same for both dialects' stores.
 */
export function releaseFacts(r: typeof releases.$inferSelect, environmentSeq: number) {
  return {
    environmentId: r.environmentId,
    pointer: r.pointer,
    fromSnapshotId: r.fromSnapshotId,
    toSnapshotId: r.toSnapshotId,
    sourceEnvironmentId: r.sourceEnvironmentId,
    message: r.message,
    hash: r.hash,
    environmentSeq,
    scheduled: r.detail !== null && 'scheduledId' in (JSON.parse(r.detail) as object),
  };
}
