import type { environments, releases } from '#schema/db/tables.ts';
import { AppError } from '#schema/errors.ts';
import { GENESIS_HASH, recordHash } from '#schema/release-chain.ts';
import { sha256 } from '../lib/hash.ts';

/**
 * What the SQLite and PostgreSQL release stores share (PG-20): the checks a pointer move makes
 * and the record it appends. Pure; each store reads and writes with its own dialect.
 */

export type Pointer = 'current' | 'live';
type EnvironmentRow = typeof environments.$inferSelect;

export interface Move {
  projectId: string;
  environmentId: string;
  pointer: Pointer;
  kind: 'sync' | 'publish' | 'rollback' | 'hotfix' | 'replicate' | 'pull' | 'compose';
  toSnapshotId: string;
  /** Compare-and-swap: refuse if the pointer is not this (null = must be empty; undefined = don't check). */
  expectedFrom?: string | null;
  /** In-order rule: the source environment must still hold `toSnapshotId` at commit time. */
  source?: { environmentId: string; pointer: Pointer };
  actorId: string;
  message: string | null;
  detail: unknown;
}

/** What a record is appended from: a move (or a replication, pointer `section`) and what it replaced. */
export type Appended = Omit<Move, 'pointer' | 'expectedFrom'> & {
  pointer: Pointer | 'section';
  fromSnapshotId: string | null;
};

export const pointerColumn = (p: Pointer): 'liveSnapshotId' | 'snapshotId' =>
  p === 'live' ? 'liveSnapshotId' : 'snapshotId';

/**
 * The snapshot the move replaces, after re-checking (at commit time) that nothing moved since the
 * plan was made: the target (`env`) and the source (`src`, read only when the move has one).
 */
export function checkMove(
  m: Move,
  env: EnvironmentRow | undefined,
  src: EnvironmentRow | undefined,
): string | null {
  if (!env) throw new AppError('environment_not_found');
  const from = env[pointerColumn(m.pointer)];
  if (m.expectedFrom !== undefined && from !== m.expectedFrom) {
    throw new AppError('target_moved', undefined, { expected: m.expectedFrom, actual: from });
  }
  if (m.source && src?.[pointerColumn(m.source.pointer)] !== m.toSnapshotId)
    throw new AppError('source_moved');
  return from ?? null;
}

/** The release record appended after `prevHash` (undefined: the project's first record). */
export function releaseRecord(
  m: Appended,
  prevHash: string | undefined,
  now: number,
): typeof releases.$inferInsert {
  const record = {
    projectId: m.projectId,
    environmentId: m.environmentId,
    kind: m.kind,
    pointer: m.pointer,
    fromSnapshotId: m.fromSnapshotId,
    toSnapshotId: m.toSnapshotId,
    sourceEnvironmentId: m.source?.environmentId ?? null,
    actorId: m.actorId,
    message: m.message,
    detail: m.detail === undefined ? null : JSON.stringify(m.detail),
    createdAt: now,
    prevHash: prevHash ?? GENESIS_HASH,
  };
  // One definition of the hash, shared with whoever verifies the chain (VH-2).
  return { ...record, hash: recordHash(record, sha256) };
}
