import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { sampleContent } from '#schema/content/sample.ts';
import { diffContent } from '#schema/content/diff.ts';
import {
  applyHotfixChanges,
  contains,
  hotfixChanges,
  missingFrom,
} from '#schema/content/hotfix.ts';
import { applyContent, draftContent } from '#schema/content/ydoc.ts';
import { canonicalContent } from '#schema/content/canonical.ts';
import { createSnapshots } from '#server/domain/snapshots.ts';
import { hashItem, hashTree } from '#server/lib/hash.ts';
import type { SnapshotStore } from '#server/store/snapshots.ts';

/** An in-memory stand-in for the blob/snapshot tables, to test hashing without a database. */
function memoryStore() {
  const blobs = new Map<string, string>();
  const snaps = new Map<string, { id: string; tree: string }>();
  const store = {
    putSnapshot: (row: { id: string; tree: string }, newBlobs: { id: string; json: string }[]) => {
      for (const b of newBlobs) blobs.set(b.id, b.json);
      snaps.set(row.id, row);
    },
    knownBlobIds: (ids: string[]) => new Set(ids.filter((i) => blobs.has(i))),
    getBlobs: (ids: string[]) =>
      new Map(ids.filter((i) => blobs.has(i)).map((i) => [i, blobs.get(i)!])),
    getSnapshot: (_p: string, id: string) => snaps.get(id),
  } as unknown as SnapshotStore;
  return { store, blobs };
}
const meta = { kind: 'freeze', parentId: null, sourceDraftId: null, message: null, createdBy: 'u' };

describe('[R5] canonicalization and hashing', () => {
  it('[R5] gives the same id for the same content and a new id for any change', async () => {
    const { store, blobs } = memoryStore();
    const snapshots = createSnapshots(store);
    const a = await snapshots.freeze('p', sampleContent(), meta);
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(await snapshots.freeze('p', sampleContent(), meta)).toBe(a);
    const n = blobs.size;
    for (const change of [
      (c: ReturnType<typeof sampleContent>) => void (c.agents.agt_support!.tone = 'formal'),
      (c: ReturnType<typeof sampleContent>) =>
        void (c.knowledge.kb_shipping!.tags = ['orders', 'shipping']),
      (c: ReturnType<typeof sampleContent>) => void delete c.channels.ch_email,
      (c: ReturnType<typeof sampleContent>) =>
        void (c.integrations.int_order_status!.timeoutMs = 4001),
    ]) {
      const c = sampleContent();
      change(c);
      expect(await snapshots.freeze('p', c, meta)).not.toBe(a);
    }
    // Three changed items plus one removed: three new blobs, the rest shared.
    expect(blobs.size).toBe(n + 3);
    expect(canonicalContent(await snapshots.content('p', a))).toEqual(
      canonicalContent(sampleContent()),
    );
  });

  it('[R5] separates item and tree addresses by a type prefix', () => {
    expect(hashItem('{}')).not.toBe(hashTree('{}'));
  });
});

describe('diff', () => {
  it('reports added, removed and changed items with field detail', () => {
    const a = sampleContent();
    const b = sampleContent();
    b.workflows.wf_ticket!.steps = [
      ...(b.workflows.wf_ticket!.steps as object[]),
      { id: 'st_t3', type: 'message', text: 'Bye' },
    ];
    delete b.agents.agt_escalation;
    b.variables.v2 = { name: 'region', type: 'string', description: '', defaultValue: 'EU' };
    const d = diffContent(a, b);
    expect(d.total).toBe(3);
    expect(d.sections.workflows[0]).toMatchObject({ id: 'wf_ticket', kind: 'changed' });
    expect(d.sections.workflows[0]!.fields[0]!.lines!.filter((l) => l.op === 'add')).toHaveLength(
      1,
    );
    expect(d.sections.agents[0]).toMatchObject({
      id: 'agt_escalation',
      kind: 'removed',
      name: 'Escalation agent',
    });
    expect(d.sections.variables[0]).toMatchObject({ id: 'v2', kind: 'added', name: 'region' });
    expect(diffContent(a, sampleContent()).total).toBe(0);
  });
});

describe('hotfix divergence detection', () => {
  const base = sampleContent();
  const fixed = sampleContent();
  fixed.agents.agt_support!.fallbackMessage = 'We are closed today.';
  delete fixed.knowledge.kb_sizes;
  fixed.knowledge.kb_closed = {
    title: 'Closed today',
    body: 'Back tomorrow.',
    tags: [],
    audiences: [],
  };
  const changes = hotfixChanges(base, fixed);

  it('[HOT-3] lists field-level changes, added and removed items', () => {
    expect(changes.map((c) => [c.section, c.itemId, c.kind, c.field])).toEqual([
      ['agents', 'agt_support', 'changed', 'fallbackMessage'],
      ['knowledge', 'kb_closed', 'added', null],
      ['knowledge', 'kb_sizes', 'removed', null],
    ]);
  });

  it('[HOT-3] knows what DEV lacks, and nothing once DEV has the same values (even with other edits)', () => {
    expect(missingFrom(base, changes)).toHaveLength(3);
    const dev = structuredClone(fixed);
    dev.agents.agt_support!.tone = 'formal';
    expect(missingFrom(dev, changes)).toEqual([]);
    expect(contains(fixed, changes[0]!)).toBe(true);
  });

  it('[HOT-4] applies exactly the changes to a draft in one transaction, keeping DEV’s other edits', () => {
    const doc = new Y.Doc();
    const dev = sampleContent();
    dev.agents.agt_support!.tone = 'concise';
    applyContent(doc, dev);
    let updates = 0;
    doc.on('update', () => updates++);
    applyHotfixChanges(doc, changes);
    expect(updates).toBe(1);
    const after = draftContent(doc);
    expect(missingFrom(after, changes)).toEqual([]);
    expect(after.agents.agt_support!.tone).toBe('concise');
  });
});
