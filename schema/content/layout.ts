import {
  SECTIONS,
  SPECS,
  STEP_VARIANTS,
  type FieldSpec,
  type Fields,
  type Section,
} from './spec.ts';
import type * as Y from 'yjs';
import { ORDER_KEY } from './steps.ts';

/**
 * The Yjs layout the content spec allows, as lookups for checking updates from peers (see
 * ydoc.ts for how content is written): section map → item map (keyed by id) → field value
 * (plain value, Y.Text, or Y.Array) → pair or step map → a step's Y.Text. Nothing nests deeper.
 */
export type FieldKind = FieldSpec['kind'];

/** Any shared type (map, array, text) of a draft, when the walk does not care which. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- Yjs types are parameterized by their event type
export type YType = Y.AbstractType<any>;

/** Levels of shared types below a section's map that the layout uses (item, list, step, step text). */
export const MAX_NESTING = 4;

function kindsByName(fieldLists: readonly Fields[]): ReadonlyMap<string, ReadonlySet<FieldKind>> {
  const out = new Map<string, Set<FieldKind>>();
  for (const fields of fieldLists) {
    for (const [name, spec] of Object.entries(fields)) {
      if (!out.has(name)) out.set(name, new Set());
      out.get(name)!.add(spec.kind);
    }
  }
  return out;
}

/**
 * Per section, each field name an item may hold and its kinds (a variant's fields included: a
 * channel changes type live).
 */
export const ITEM_FIELD_KINDS: Readonly<
  Record<Section, ReadonlyMap<string, ReadonlySet<FieldKind>>>
> = Object.fromEntries(
  SECTIONS.map((s) => [
    s,
    kindsByName([SPECS[s].fields, ...Object.values(SPECS[s].variants ?? {}).map((v) => v.fields)]),
  ]),
) as Record<Section, ReadonlyMap<string, ReadonlySet<FieldKind>>>;

/** The fields of a workflow step, over every step type (the same name may be text in one type, a string in another). */
export const STEP_FIELD_KINDS: ReadonlyMap<string, ReadonlySet<FieldKind>> = kindsByName([
  {
    id: { kind: 'string', label: 'Id' },
    type: { kind: 'string', label: 'Type' },
    [ORDER_KEY]: { kind: 'string', label: 'Order' },
  },
  ...Object.values(STEP_VARIANTS).map((v) => v.fields),
]);

/** The field names of a name/value pair (headers). */
export const PAIR_FIELDS: ReadonlySet<string> = new Set(['name', 'value']);

/**
 * Kinds whose value is a Y.Array of maps (pairs, steps) or of strings (lists, refs); text is a
 * Y.Text; the rest plain values.
 */
export const arrayOfMaps = (kind: FieldKind): boolean => kind === 'pairs' || kind === 'steps';
export const arrayOfStrings = (kind: FieldKind): boolean => kind === 'list' || kind === 'refs';
