import type { auditEvents } from '#schema/db/tables.ts';
import { canonicalJson } from '#schema/content/canonical.ts';
import { GENESIS_HASH } from '#schema/release-chain.ts';
import { sha256 } from '../lib/hash.ts';

/** What an audit event is made of (PG-24): the same in both dialects' audit stores. */
export interface AuditInput {
  projectId: string | null;
  environmentId: string | null;
  kind: string;
  actorId: string | null;
  subject: unknown;
}

/** The event appended after `prevHash` (undefined: the instance's first event), hash included. */
export function auditRecord(
  e: AuditInput,
  prevHash: string | undefined,
  now: number,
): typeof auditEvents.$inferInsert {
  const prev = prevHash ?? GENESIS_HASH;
  const row = {
    projectId: e.projectId,
    environmentId: e.environmentId,
    kind: e.kind,
    actorId: e.actorId,
    subject: canonicalJson(e.subject ?? null),
    createdAt: now,
    prevHash: prev,
  };
  return { ...row, hash: auditHash(row) };
}

/** What the audit chain hashes: the event's fields after the hash before it (PG-24, PG-55). */
export function auditHash(e: {
  projectId: string | null;
  environmentId: string | null;
  kind: string;
  actorId: string | null;
  subject: string;
  createdAt: number;
  prevHash: string;
}): string {
  const { projectId, environmentId, kind, actorId, subject, createdAt, prevHash } = e;
  const fields = { projectId, environmentId, kind, actorId, subject, createdAt, prevHash };
  return sha256(prevHash + canonicalJson(fields));
}
