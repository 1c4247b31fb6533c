import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { canonicalContent, canonicalJson } from '#schema/content/canonical.ts';
import { sampleContent } from '#schema/content/sample.ts';
import {
  addItem,
  applyContent,
  draftContent,
  emptyContent,
  itemText,
  patchText,
  sectionMap,
} from '#schema/content/ydoc.ts';

const sync = (from: Y.Doc, to: Y.Doc) =>
  Y.applyUpdate(to, Y.encodeStateAsUpdate(from, Y.encodeStateVector(to)));

describe('canonical JSON', () => {
  it('sorts keys at every depth, keeps array order, drops undefined', () => {
    expect(canonicalJson({ b: 1, a: [3, { d: undefined, c: 'x' }], é: null })).toBe(
      '{"a":[3,{"c":"x"}],"b":1,"é":null}',
    );
    expect(canonicalJson({ b: 1, a: 2 })).toBe(canonicalJson({ a: 2, b: 1 }));
    expect(() => canonicalJson({ n: Number.NaN })).toThrow();
  });

  it('gives the same bytes for the same content however it was built', () => {
    const a = sampleContent();
    const reversed = Object.fromEntries(
      Object.entries(sampleContent())
        .reverse()
        .map(([s, items]) => [s, Object.fromEntries(Object.entries(items).reverse())]),
    );
    expect(canonicalJson(canonicalContent(reversed as typeof a))).toBe(
      canonicalJson(canonicalContent(a)),
    );
  });

  it('fills missing fields with defaults and drops unknown ones', () => {
    const c = emptyContent();
    c.variables.v1 = { name: 'x', surprise: true };
    expect(canonicalContent(c).variables.v1).toEqual({
      name: 'x',
      type: 'string',
      description: '',
      defaultValue: '',
    });
  });
});

describe('applying content to a draft (import, restore)', () => {
  it('builds a draft equal to the content, with long text as Y.Text', () => {
    const doc = new Y.Doc();
    applyContent(doc, sampleContent());
    expect(canonicalContent(draftContent(doc))).toEqual(canonicalContent(sampleContent()));
    expect(itemText(sectionMap(doc, 'agents').get('agt_support'), 'instructions')).toBeInstanceOf(
      Y.Text,
    );
  });

  it('is one transaction: a collaborator receives it as one update', () => {
    const doc = new Y.Doc();
    let updates = 0;
    doc.on('update', () => updates++);
    applyContent(doc, sampleContent());
    expect(updates).toBe(1);
  });

  it('[R6] changes only what differs, so a concurrent edit elsewhere in the same text survives', () => {
    const alice = new Y.Doc();
    applyContent(alice, sampleContent());
    const bob = new Y.Doc();
    sync(alice, bob);
    // Bob types at the start of the instructions while Alice imports a version that edits its end.
    itemText(sectionMap(bob, 'agents').get('agt_support'), 'instructions')!.insert(0, 'BOB: ');
    const next = sampleContent();
    next.agents.agt_support!.instructions = `${next.agents.agt_support!.instructions as string}\nAlways sign with your name.`;
    delete next.knowledge.kb_sizes;
    applyContent(alice, next);
    sync(alice, bob);
    sync(bob, alice);
    const text = itemText(
      sectionMap(alice, 'agents').get('agt_support'),
      'instructions',
    )!.toString();
    expect(text.startsWith('BOB: You are')).toBe(true);
    expect(text.endsWith('Always sign with your name.')).toBe(true);
    expect(Object.keys(draftContent(bob).knowledge).sort()).toEqual(['kb_returns', 'kb_shipping']);
  });

  it('patches text minimally', () => {
    const doc = new Y.Doc();
    const t = doc.getText('t');
    t.insert(0, 'hello world');
    const deltas: unknown[] = [];
    t.observe((e) => deltas.push(e.delta));
    patchText(t, 'hello brave world');
    expect(t.toString()).toBe('hello brave world');
    expect(deltas).toEqual([[{ retain: 6 }, { insert: 'brave ' }]]);
  });

  it('re-creates an item removed meanwhile and removes items not in the content', () => {
    const doc = new Y.Doc();
    const id = addItem(doc, 'agents', { name: 'Temp' });
    applyContent(doc, sampleContent());
    expect(sectionMap(doc, 'agents').has(id)).toBe(false);
    expect([...sectionMap(doc, 'agents').keys()].sort()).toEqual(['agt_escalation', 'agt_support']);
  });
});
