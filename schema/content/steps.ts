import type * as Y from 'yjs';
import { generateKeyBetween, generateNKeysBetween } from 'fractional-indexing';

/**
 * Workflow step order. Steps live in a Y.Array of Y.Maps; where each is SHOWN is its `order`
 * key (a fractional index, set on the step's own map), so moving a step changes one key and
 * never deletes and re-creates the step: text someone types into it at the same moment stays.
 * A step without a key (drafts from before keys, or one added without one) sits right after
 * the nearest keyed step before it in the array; equal keys keep array order.
 */
export const ORDER_KEY = 'order';

type StepMap = Y.Map<unknown>;

/** Array positions in shown order, from each entry's own key (or undefined). */
function shownOrder(keys: readonly (string | undefined)[]): number[] {
  let inherited = '';
  const sortable = keys.map((k, i) => {
    if (typeof k === 'string') inherited = k;
    return { key: typeof k === 'string' ? k : inherited, i };
  });
  return sortable
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.i - b.i))
    .map((x) => x.i);
}

const keyOf = (m: StepMap): string | undefined => {
  const k = m.get(ORDER_KEY);
  return typeof k === 'string' ? k : undefined;
};

/** The step maps in the order they are shown. */
export function orderedSteps(list: Y.Array<StepMap>): StepMap[] {
  const maps = list.toArray();
  return shownOrder(maps.map(keyOf)).map((i) => maps[i]!);
}

/** A steps JSON array (as `toJSON()` reads it) in shown order, without the order keys. */
export function orderedStepsJson(steps: unknown): unknown {
  if (!Array.isArray(steps)) return steps;
  const objs = steps as Record<string, unknown>[];
  return shownOrder(
    objs.map((s) => (typeof s?.[ORDER_KEY] === 'string' ? (s[ORDER_KEY] as string) : undefined)),
  ).map((i) => {
    const { [ORDER_KEY]: _key, ...rest } = objs[i]!;
    return rest;
  });
}

/** Gives every step a distinct key in its current shown order (when some lack one, or two share one). */
function ensureKeys(shown: readonly StepMap[]): void {
  const keys = shown.map(keyOf);
  const fine = keys.every((k, i) => k !== undefined && (i === 0 || k > keys[i - 1]!));
  if (fine) return;
  const fresh = generateNKeysBetween(null, null, shown.length);
  shown.forEach((m, i) => m.set(ORDER_KEY, fresh[i]));
}

/** Moves the step shown at `from` to be shown at `to`, by changing its key only (one transaction). */
export function moveStep(doc: Y.Doc, list: Y.Array<StepMap>, from: number, to: number): void {
  doc.transact(() => {
    const shown = orderedSteps(list);
    if (from < 0 || from >= shown.length || to < 0 || to >= shown.length || from === to) return;
    ensureKeys(shown);
    const moving = shown[from]!;
    const rest = shown.filter((m) => m !== moving);
    moving.set(
      ORDER_KEY,
      generateKeyBetween(
        rest[to - 1] ? keyOf(rest[to - 1]!) : null,
        rest[to] ? keyOf(rest[to]!) : null,
      ),
    );
  });
}

/** Appends a step after the last one shown. */
export function appendStep(doc: Y.Doc, list: Y.Array<StepMap>, step: StepMap): void {
  doc.transact(() => {
    const last = orderedSteps(list).at(-1);
    const lastKey = last ? keyOf(last) : undefined;
    list.push([step]);
    if (lastKey !== undefined) step.set(ORDER_KEY, generateKeyBetween(lastKey, null));
  });
}

/** Sets every step's key to match the given shown order (server-side patches). */
export function setStepOrder(ordered: readonly StepMap[]): void {
  const fresh = generateNKeysBetween(null, null, ordered.length);
  ordered.forEach((m, i) => {
    if (keyOf(m) !== fresh[i]) m.set(ORDER_KEY, fresh[i]);
  });
}
