import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { LiveContent } from '#schema/content/live.ts';
import { sampleContent } from '#schema/content/sample.ts';
import {
  addItem,
  applyContent,
  draftContent,
  itemText,
  sectionMap,
  type YItem,
} from '#schema/content/ydoc.ts';
import { validateContent } from '#schema/content/validate.ts';
import { SECTIONS } from '#schema/content/spec.ts';
import { createSnapshots } from '#server/domain/snapshots.ts';
import type { SnapshotStore } from '#server/store/snapshots.ts';
import { prng } from '../helpers/prng.ts';

const snapshots = createSnapshots({} as SnapshotStore);

describe('incremental freezing: the live JSON of a draft (S11)', () => {
  it('hands back the same frozen object for an unchanged item and a new one after a change inside it', () => {
    const doc = new Y.Doc();
    applyContent(doc, sampleContent());
    const live = new LiveContent(doc);
    const first = live.read();
    const [changedId, changed] = [...sectionMap(doc, 'knowledge')][0]!;
    itemText(changed, 'body')!.insert(0, 'New first line. ');
    const second = live.read();
    expect(Object.isFrozen(first.knowledge[changedId])).toBe(true);
    expect(second.knowledge[changedId]).not.toBe(first.knowledge[changedId]);
    expect(second.knowledge[changedId]!.body).toMatch(/^New first line\. /);
    for (const s of SECTIONS)
      for (const id of Object.keys(first[s]))
        if (id !== changedId) expect(second[s][id]).toBe(first[s][id]);
    expect(() => ((second.knowledge[changedId] as { body: string }).body = 'x')).toThrow(TypeError);
  });

  it('always freezes to the same snapshot id as a fresh read, through random edits (items added, replaced, deleted, typed into)', () => {
    const random = prng(7);
    const doc = new Y.Doc();
    applyContent(doc, sampleContent());
    const live = new LiveContent(doc);
    for (let round = 0; round < 200; round++) {
      const section = SECTIONS[Math.floor(random() * SECTIONS.length)]!;
      const map = sectionMap(doc, section);
      const ids = [...map.keys()];
      const pick = ids[Math.floor(random() * ids.length)];
      const r = random();
      doc.transact(() => {
        if (r < 0.2 || !pick)
          addItem(doc, section, { name: `Item ${round}`, title: `Item ${round}` });
        else if (r < 0.3) map.delete(pick);
        else if (r < 0.4) map.set(pick, new Y.Map() as YItem);
        else {
          const item = map.get(pick)!;
          const text = [...item.values()].find((v) => v instanceof Y.Text);
          if (text) text.insert(0, `r${round} `);
          else item.set('description', `changed ${round}`);
        }
      });
      const cached = live.read();
      const fresh = draftContent(doc);
      expect(cached).toEqual(fresh);
      expect(snapshots.idOf(cached)).toBe(snapshots.idOf(fresh));
      expect(validateContent(cached)).toEqual(validateContent(fresh));
    }
  });
});
