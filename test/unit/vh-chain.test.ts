import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import {
  CHAIN_FIELDS,
  GENESIS_HASH,
  canonicalJson,
  recordHash,
  verifyChain,
  type ChainRecord,
} from '#schema/release-chain.ts';
import { canonicalJson as contentCanonicalJson } from '#schema/content/canonical.ts';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** A chain of `n` records as the server writes them (seq not contiguous: other projects share it). */
function chain(n: number): ChainRecord[] {
  const out: ChainRecord[] = [];
  let prevHash = GENESIS_HASH;
  for (let i = 0; i < n; i++) {
    const fields = {
      projectId: 'p1',
      environmentId: i % 2 ? 'e2' : 'e1',
      kind: 'sync',
      pointer: 'current',
      fromSnapshotId: i === 0 ? null : `s${i - 1}`,
      toSnapshotId: `s${i}`,
      sourceEnvironmentId: null,
      actorId: 'u1',
      message: i === 2 ? 'a “quoted” message' : null,
      detail: i === 3 ? '{"evidence":{"checks":[],"approvals":[]}}' : null,
      createdAt: 1_700_000_000_000 + i,
      prevHash,
    };
    const hash = recordHash(fields, sha256);
    out.push({ seq: 3 * i + 1, ...fields, hash });
    prevHash = hash;
  }
  return out;
}

describe('VH-2 verifyChain recomputes a project’s release chain', () => {
  it('VH-2 one canonicalJson: the content module re-exports the chain’s; the hash covers exactly the chain fields', () => {
    expect(contentCanonicalJson).toBe(canonicalJson);
    const [r] = chain(1);
    const { seq: _seq, hash: _hash, ...fields } = r!;
    expect(Object.keys(fields).sort()).toEqual([...CHAIN_FIELDS].sort());
    expect(r!.hash).toBe(sha256(GENESIS_HASH + canonicalJson(fields)));
    // Anything else a record carries is not hashed.
    expect(recordHash({ ...fields, extra: 1 } as typeof fields, sha256)).toBe(r!.hash);
  });

  it('VH-2 an intact chain verifies from genesis, and page by page from the last verified record', () => {
    const all = chain(7);
    expect(verifyChain(all, sha256)).toEqual({
      ok: true,
      count: 7,
      head: all[6]!.hash,
      headSeq: all[6]!.seq,
    });
    expect(verifyChain([], sha256)).toEqual({
      ok: true,
      count: 0,
      head: GENESIS_HASH,
      headSeq: null,
    });
    const first = verifyChain(all.slice(0, 3), sha256);
    if (!first.ok) throw new Error('first page should verify');
    expect(
      verifyChain(all.slice(3), sha256, { seq: first.headSeq!, hash: first.head }),
    ).toMatchObject({ ok: true, count: 4, head: all[6]!.hash });
  });

  it('VH-2 an altered field is a hash mismatch at that record', () => {
    for (const change of [
      { message: 'rewritten' },
      { toSnapshotId: 'other' },
      { createdAt: 1 },
      { detail: '{"evidence":{"checks":[],"approvals":[{"userId":"x"}]}}' },
    ]) {
      const all = chain(5);
      all[3] = { ...all[3]!, ...change };
      expect(verifyChain(all, sha256)).toMatchObject({
        ok: false,
        brokenAt: all[3]!.seq,
        reason: 'hash_mismatch',
      });
    }
  });

  it('VH-2 a removed record is a gap at the record after it (the first one: genesis missing)', () => {
    const all = chain(5);
    expect(verifyChain([...all.slice(0, 2), ...all.slice(3)], sha256)).toMatchObject({
      ok: false,
      brokenAt: all[3]!.seq,
      reason: 'seq_gap',
    });
    expect(verifyChain(all.slice(1), sha256)).toMatchObject({
      ok: false,
      brokenAt: all[1]!.seq,
      reason: 'seq_gap',
    });
    // A page that does not follow the record it is said to follow.
    expect(
      verifyChain(all.slice(3), sha256, { seq: all[1]!.seq, hash: all[1]!.hash }),
    ).toMatchObject({ ok: false, brokenAt: all[3]!.seq, reason: 'seq_gap' });
  });

  it('VH-2 reordered or repeated records do not follow the one before them', () => {
    const all = chain(5);
    expect(verifyChain([all[0]!, all[2]!, all[1]!], sha256)).toMatchObject({
      ok: false,
      brokenAt: all[2]!.seq,
      reason: 'seq_gap',
    });
    expect(verifyChain([all[0]!, all[1]!, all[1]!], sha256)).toMatchObject({
      ok: false,
      brokenAt: all[1]!.seq,
      reason: 'prev_hash_mismatch',
    });
    // A record re-linked to an earlier one of the list (its hash recomputed: only the link shows it).
    const relinked = { ...all[3]!, prevHash: all[1]!.hash };
    relinked.hash = recordHash(relinked, sha256);
    expect(verifyChain([...all.slice(0, 3), relinked], sha256)).toMatchObject({
      ok: false,
      brokenAt: relinked.seq,
      reason: 'prev_hash_mismatch',
    });
  });
});
