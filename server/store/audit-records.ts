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
  return { ...row, hash: sha256(prev + canonicalJson(row)) };
}
