import * as Y from 'yjs';
import { SECTIONS } from '#schema/content/spec.ts';
import { MAX_NESTING, type YType } from '#schema/content/layout.ts';

/**
 * Yjs deletes and garbage-collects a nested type recursively (Item.delete → ContentType.delete,
 * ContentType.gc): removing a value nested a few thousand levels deep overflows the stack. Such
 * values can no longer arrive (update-guard.ts refuses them), but a draft may hold one from
 * before. This takes them apart from the bottom up, a bounded number of levels per
 * transaction, so no delete or garbage collection ever recurses further than that.
 */
const LEVELS_PER_TRANSACTION = 200;

/** Types nested deeper than the layout allows, deepest first (an iterative walk: no recursion over the depth). */
function tooDeep(doc: Y.Doc): { type: YType; depth: number }[] {
  const found: { type: YType; depth: number }[] = [];
  const stack: { type: YType; depth: number }[] = SECTIONS.map((s) => ({
    type: doc.getMap(s) as YType,
    depth: 0,
  }));
  while (stack.length > 0) {
    const { type, depth } = stack.pop()!;
    if (depth > MAX_NESTING) found.push({ type, depth });
    const children: Y.Item[] = [...type._map.values()];
    for (let item = type._start; item; item = item.right) children.push(item);
    for (const item of children) {
      if (!item.deleted && item.content instanceof Y.ContentType)
        stack.push({ type: item.content.type as YType, depth: depth + 1 });
    }
  }
  return found.sort((a, b) => b.depth - a.depth);
}

/**
 * Deletes every value nested deeper than the layout allows, bottom-up; returns how many
 * transactions it took (0: none found).
 */
export function dismantleTooDeep(doc: Y.Doc): number {
  const found = tooDeep(doc);
  let transactions = 0;
  for (let i = 0; i < found.length;) {
    // One transaction spans at most LEVELS_PER_TRANSACTION levels: everything below is already deleted and collected.
    const deepest = found[i]!.depth;
    let j = i;
    while (j < found.length && deepest - found[j]!.depth < LEVELS_PER_TRANSACTION) j++;
    const batch = found.slice(i, j);
    doc.transact((tr) => {
      for (const { type } of batch) if (type._item && !type._item.deleted) type._item.delete(tr);
    });
    transactions++;
    i = j;
  }
  return transactions;
}
