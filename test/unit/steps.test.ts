import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import {
  addItem,
  applyContent,
  draftContent,
  sectionMap,
  type YItem,
} from '#schema/content/ydoc.ts';
import { ORDER_KEY, moveStep, orderedSteps } from '#schema/content/steps.ts';
import { LiveContent } from '#schema/content/live.ts';

/** Two replicas of one draft that exchange updates only when told (a concurrent edit each side). */
function pair() {
  const a = new Y.Doc();
  const b = new Y.Doc();
  const sync = () => {
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a, Y.encodeStateVector(b)));
    Y.applyUpdate(a, Y.encodeStateAsUpdate(b, Y.encodeStateVector(a)));
  };
  const id = addItem(a, 'workflows', {
    name: 'Three steps',
    steps: ['one', 'two', 'three'].map((text) => ({ id: `st_${text}`, type: 'message', text })),
  });
  sync();
  const steps = (doc: Y.Doc) =>
    (sectionMap(doc, 'workflows').get(id) as YItem).get('steps') as Y.Array<Y.Map<unknown>>;
  const shown = (doc: Y.Doc) =>
    (draftContent(doc).workflows[id]!.steps as { id: string; text: string }[]).map(
      (s) => `${s.id}:${s.text}`,
    );
  return { a, b, sync, id, steps, shown };
}

describe('[R6] workflow step order (nothing typed is lost)', () => {
  it('[R6] a step moved by one person while another types into it keeps the typing, in its new place', () => {
    const { a, b, sync, steps, shown } = pair();
    moveStep(a, steps(a), 2, 0);
    const stepInB = orderedSteps(steps(b))[2]!;
    (stepInB.get('text') as Y.Text).insert(5, ' (typed meanwhile)');
    sync();
    expect(shown(a)).toEqual(['st_three:three (typed meanwhile)', 'st_one:one', 'st_two:two']);
    expect(shown(b)).toEqual(shown(a));
    expect(steps(a).length).toBe(3);
  });

  it('[R6] two people moving the same step at once converge on one order with every step once', () => {
    const { a, b, sync, steps, shown } = pair();
    moveStep(a, steps(a), 0, 2);
    moveStep(b, steps(b), 0, 1);
    sync();
    expect(shown(a)).toEqual(shown(b));
    expect(
      shown(a)
        .map((s) => s.split(':')[0])
        .sort(),
    ).toEqual(['st_one', 'st_three', 'st_two']);
    // And a later move still works from whatever order they agreed on.
    moveStep(a, steps(a), 2, 0);
    sync();
    expect(shown(b)).toEqual(shown(a));
  });

  it('steps of drafts from before order keys keep their array order; the keys never show in the JSON', () => {
    const { a, steps, shown } = pair();
    expect(
      steps(a)
        .toArray()
        .some((m) => m.has(ORDER_KEY)),
    ).toBe(false);
    expect(shown(a)).toEqual(['st_one:one', 'st_two:two', 'st_three:three']);
    moveStep(a, steps(a), 0, 1);
    expect(shown(a)).toEqual(['st_two:two', 'st_one:one', 'st_three:three']);
    const json = JSON.stringify(draftContent(a)) + JSON.stringify(new LiveContent(a).read());
    expect(json).not.toContain(`"${ORDER_KEY}"`);
  });

  it('[R6] an import that reorders steps keeps the steps it keeps (text typed into them meanwhile stays)', () => {
    const { a, b, sync, id, steps, shown } = pair();
    const content = draftContent(a);
    const wf = content.workflows[id]!;
    wf.steps = [...(wf.steps as object[])].reverse();
    const before = new Set(steps(a).toArray());
    applyContent(a, { workflows: content.workflows });
    expect(new Set(steps(a).toArray())).toEqual(before);
    (orderedSteps(steps(b))[0]!.get('text') as Y.Text).insert(3, '!');
    sync();
    expect(shown(a)).toEqual(['st_three:three', 'st_two:two', 'st_one:one!']);
  });
});
