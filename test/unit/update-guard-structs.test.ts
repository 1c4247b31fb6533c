import { expect, it } from 'vitest';
import * as Y from 'yjs';
import * as encoding from 'lib0/encoding';
import { readShape, tooManyStructs, type UpdateShape } from '#server/collab/update-guard.ts';
import { SECTIONS } from '#schema/content/spec.ts';
import { prng } from '../helpers/prng.ts';

/** An update of every content type, GC and a delete set (the first), and one with Skip structs (the second). */
function richUpdates(): [Uint8Array, Uint8Array] {
  const a = new Y.Doc();
  const m = a.getMap('agents');
  const t = new Y.Text();
  m.set('x', t);
  t.insert(0, 'hello');
  t.format(1, 2, { bold: { deep: [1, { a: 'b' }] } });
  t.insertEmbed(2, { image: 'x' });
  m.set('arr', Y.Array.from([1, 'a', { b: null }, new Uint8Array([1, 2])]));
  m.set('bin', new Uint8Array([5, 6]));
  const x = new Y.XmlElement('p');
  m.set('xml', x);
  x.insert(0, [new Y.XmlText('hi')]);
  m.set('hook', new Y.XmlHook('h'));
  m.set('frag', new Y.XmlFragment());
  m.set('sub', new Y.Doc({ guid: 'g' }));
  for (let i = 0; i < 50; i++) t.insert(0, String(i));
  t.delete(3, 20);
  m.delete('bin');
  a.getArray('arr2').insert(0, ['q', 2, true, null]);
  const u = Y.encodeStateAsUpdate(a);
  const b = new Y.Doc({ gc: false });
  Y.applyUpdate(b, u);
  b.getText('t').insert(0, 'zz');
  return [u, Y.mergeUpdates([u, Y.encodeStateAsUpdate(b)])];
}

/** What readShape should find, from Yjs's own decoding. */
function fromYjs(update: Uint8Array): Omit<UpdateShape, 'tooMany'> {
  const decoded = Y.decodeUpdate(update);
  const blocks: UpdateShape['blocks'] = [];
  let irregular = false;
  let unknownRoot: string | null = null;
  const sections: readonly string[] = SECTIONS;
  for (const s of decoded.structs) {
    if (s instanceof Y.Skip) irregular = true;
    // Decoded alone, an item's top-level parent is its name.
    const root: unknown = s instanceof Y.Item ? s.parent : null;
    if (typeof root === 'string' && !sections.includes(root)) unknownRoot ??= root.slice(0, 70);
    const last = blocks.at(-1);
    if (!last || last.client !== s.id.client)
      blocks.push({ client: s.id.client, clock: s.id.clock });
  }
  let deleteRanges = 0;
  let disorderedDeletes = false;
  for (const ranges of decoded.ds.clients.values()) {
    let end = 0;
    for (const { clock, len } of ranges) {
      deleteRanges++;
      if (clock < end) disorderedDeletes = true;
      end = clock + len;
    }
  }
  return { blocks, irregular, unknownRoot, deleteRanges, disorderedDeletes };
}

it('SEC-4 readShape counts the structs of an update without decoding them, like Y.decodeUpdate (every content type, GC, Skip)', () => {
  for (const u of richUpdates()) {
    const n = Y.decodeUpdate(u).structs.length;
    expect(tooManyStructs(u, n)).toBe(false);
    expect(tooManyStructs(u, n - 1)).toBe(true);
    const { tooMany, ...shape } = readShape(u);
    expect(tooMany).toBe(false);
    expect(shape).toEqual(fromYjs(u));
  }
});

it('SEC-4 readShape refuses what Y.decodeUpdate refuses and reads the rest as it does: 4,000 byte-mutated updates (seeded)', () => {
  const rnd = prng(18);
  let refused = 0;
  for (const valid of richUpdates())
    for (let i = 0; i < 2000; i++) {
      const bytes = valid.slice();
      for (let m = 0; m < 1 + Math.floor(rnd() * 3); m++)
        bytes[Math.floor(rnd() * bytes.length)] = Math.floor(rnd() * 256);
      let yjs: Omit<UpdateShape, 'tooMany'> | null = null;
      try {
        yjs = fromYjs(bytes);
      } catch {
        // Yjs refuses it.
      }
      let ours: UpdateShape | null = null;
      try {
        ours = readShape(bytes);
      } catch {
        // Refused here.
      }
      if (yjs === null) {
        refused++;
        // Refused, or stopped by the struct bound before reaching what Yjs choked on.
        expect(ours === null || ours.tooMany).toBe(true);
      } else if (ours && !ours.tooMany) {
        expect(ours.deleteRanges).toBe(yjs.deleteRanges);
        expect(ours.disorderedDeletes).toBe(yjs.disorderedDeletes);
        if (yjs.irregular) expect(ours.irregular).toBe(true);
        // Irregular (a client twice: Yjs keeps its last block; bytes after the update): not compared further.
        if (!ours.irregular) {
          expect(ours.blocks).toEqual(yjs.blocks);
          expect(ours.unknownRoot).toBe(yjs.unknownRoot);
        }
      } else expect(ours?.tooMany ?? 'refused').toBe(true);
    }
  expect(refused).toBeGreaterThan(100);
});

it('SEC-4 a client whose delete ranges come in two sections is read as one list: the same range twice is out of order', () => {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, 0); // no structs
  encoding.writeVarUint(e, 2); // two delete sections ...
  for (let i = 0; i < 2; i++) {
    encoding.writeVarUint(e, 7); // ... of the same client
    encoding.writeVarUint(e, 1);
    encoding.writeVarUint(e, 0); // clock
    encoding.writeVarUint(e, 5); // len
  }
  const update = encoding.toUint8Array(e);
  expect(fromYjs(update).disorderedDeletes).toBe(true);
  expect(readShape(update)).toMatchObject({ disorderedDeletes: true, deleteRanges: 2 });
});

it('SEC-4 readShape: bytes after the update make it irregular (never passed on as sent); a top-level type that is not a section is named; blocks count toward the bound', () => {
  const a = new Y.Doc();
  a.getMap('agents').set('x', 1);
  const u = Y.encodeStateAsUpdate(a);
  expect(readShape(u)).toMatchObject({ irregular: false, unknownRoot: null });
  expect(readShape(new Uint8Array([...u, 1, 2, 3])).irregular).toBe(true);
  const b = new Y.Doc();
  b.getMap('x'.repeat(100)).set('y', 1);
  expect(readShape(Y.encodeStateAsUpdate(b)).unknownRoot).toBe('x'.repeat(70));
  // Three empty blocks: over a bound of two.
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, 3);
  for (let c = 1; c <= 3; c++) [0, c, 0].forEach((n) => encoding.writeVarUint(e, n));
  encoding.writeVarUint(e, 0);
  expect(readShape(encoding.toUint8Array(e), 2).tooMany).toBe(true);
  expect(readShape(encoding.toUint8Array(e), 3).tooMany).toBe(false);
});
