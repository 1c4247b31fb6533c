import { canonicalJson } from './canonical-json.ts';

/**
 * The release chain of a project (VH-1, VH-2): every release record hashes the previous one's
 * hash with its own fields, `hash = sha256(prevHash + canonicalJson(fields))`, so whoever holds
 * the records can recompute the chain without the server. Pure: the caller passes `sha256` (the
 * server's node:crypto, the CLI's own), so this module runs anywhere.
 */

export { canonicalJson };

/** The `prevHash` of a project's first record. */
export const GENESIS_HASH = '0'.repeat(64);

/** Exactly the fields a record's hash covers (`prevHash` included), in no particular order. */
export const CHAIN_FIELDS = [
  'projectId',
  'environmentId',
  'kind',
  'pointer',
  'fromSnapshotId',
  'toSnapshotId',
  'sourceEnvironmentId',
  'actorId',
  'message',
  'detail',
  'createdAt',
  'prevHash',
] as const;

/** What a record's hash covers. `detail`: the stored JSON text, as it was hashed; `createdAt`: ms since the epoch. */
export interface ChainFields {
  projectId: string;
  environmentId: string;
  kind: string;
  pointer: string;
  fromSnapshotId: string | null;
  toSnapshotId: string;
  sourceEnvironmentId: string | null;
  actorId: string;
  message: string | null;
  detail: string | null;
  createdAt: number;
  prevHash: string;
}

/** A record of the chain as `GET /api/projects/:id/releases` answers it: the hashed fields, its place and its hash. */
export interface ChainRecord extends ChainFields {
  /** Increasing along the chain; not contiguous (one sequence numbers every project's records). */
  seq: number;
  hash: string;
}

/** Just the hashed fields of a record (anything else it carries is left out of the hash). */
export function chainFields(r: ChainFields): ChainFields {
  const out: Record<string, unknown> = {};
  for (const k of CHAIN_FIELDS) out[k] = r[k];
  return out as unknown as ChainFields;
}

/** The hash a record with these fields must carry. */
export function recordHash(r: ChainFields, sha256: (s: string) => string): string {
  return sha256(r.prevHash + canonicalJson(chainFields(r)));
}

/**
 * Why a chain does not verify:
 * - `hash_mismatch`: the record's fields do not give its hash (it was altered after it was written);
 * - `seq_gap`: the record is intact but links to a record that is not there (one or more records
 *   before it are missing: removed, or a page was skipped); a first record not linking to the
 *   genesis hash (or to `from`) is this too;
 * - `prev_hash_mismatch`: the record is intact but links to another record of the list than the
 *   one just before it, or its seq does not increase (records reordered, repeated or inserted).
 */
export type ChainBreak = 'hash_mismatch' | 'prev_hash_mismatch' | 'seq_gap';

export type ChainVerdict =
  | {
      ok: true;
      /** Records verified. */
      count: number;
      /** The last record's hash (`from`'s, or the genesis hash, when there were none): verify the next page from it. */
      head: string;
      /** The last record's seq (`from`'s, or null, when there were none). */
      headSeq: number | null;
    }
  | { ok: false; brokenAt: number; reason: ChainBreak; message: string };

const MESSAGES: Record<ChainBreak, string> = {
  hash_mismatch: 'this record was altered: its fields do not give its hash',
  seq_gap: 'records are missing before this one: it links to a record that is not there',
  prev_hash_mismatch:
    'this record does not follow the one before it: records were reordered, repeated or inserted',
};

/**
 * Verifies records in chain order (as the API pages them). `from`: the last record already
 * verified (its seq and hash), to go on from an earlier page or a hash known from elsewhere (a
 * webhook); without it the first record must be the project's first (`prevHash` = genesis).
 */
export function verifyChain(
  records: readonly ChainRecord[],
  sha256: (s: string) => string,
  from?: { seq: number; hash: string },
): ChainVerdict {
  const seen = new Set<string>();
  let prevHash = from?.hash ?? GENESIS_HASH;
  let prevSeq = from?.seq ?? null;
  const broken = (r: ChainRecord, reason: ChainBreak): ChainVerdict => ({
    ok: false,
    brokenAt: r.seq,
    reason,
    message: `Record ${r.seq}: ${MESSAGES[reason]}.`,
  });
  for (const r of records) {
    if (recordHash(r, sha256) !== r.hash) return broken(r, 'hash_mismatch');
    if (prevSeq !== null && !(r.seq > prevSeq)) return broken(r, 'prev_hash_mismatch');
    if (r.prevHash !== prevHash)
      return broken(r, seen.has(r.prevHash) ? 'prev_hash_mismatch' : 'seq_gap');
    seen.add(r.hash);
    prevHash = r.hash;
    prevSeq = r.seq;
  }
  return { ok: true, count: records.length, head: prevHash, headSeq: prevSeq };
}
