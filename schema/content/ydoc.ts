import * as Y from 'yjs';
import {
  SECTIONS,
  SPECS,
  STEP_VARIANTS,
  fieldsOf,
  type FieldSpec,
  type Section,
  type StepType,
} from './spec.ts';
import { orderedSteps, orderedStepsJson, setStepOrder } from './steps.ts';
import { emptySection, newItemId } from './ids.ts';

/**
 * The draft's Yjs layout: one Y.Map per section at the top level, keyed by item id; an item
 * is a Y.Map whose values follow its FieldSpec (Y.Text for long text, Y.Array for lists and
 * steps, plain values otherwise).
 */
export type ItemJson = Record<string, unknown>;
export type WorkspaceContent = Record<Section, Record<string, ItemJson>>;
export type YItem = Y.Map<unknown>;

export function emptyContent(): WorkspaceContent {
  return {
    agents: emptySection(),
    workflows: emptySection(),
    knowledge: emptySection(),
    integrations: emptySection(),
    channels: emptySection(),
    variables: emptySection(),
  };
}

export function sectionMap(doc: Y.Doc, section: Section): Y.Map<YItem> {
  return doc.getMap(section);
}

/** The draft as plain JSON (Y.Text becomes a string); non-map entries are not items and are skipped. */
export function draftContent(doc: Y.Doc): WorkspaceContent {
  const content = emptyContent();
  for (const section of SECTIONS) {
    for (const [id, item] of sectionMap(doc, section)) {
      if (item instanceof Y.Map) content[section][id] = itemJson(item);
    }
  }
  return content;
}

export function defaultValue(spec: FieldSpec): unknown {
  switch (spec.kind) {
    case 'string':
    case 'text':
    case 'ref':
      return '';
    case 'enum':
    case 'color':
      return spec.default;
    case 'number':
      return spec.default;
    case 'list':
    case 'refs':
    case 'pairs':
    case 'steps':
      return [];
  }
}

const str = (v: unknown): string =>
  typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const obj = (v: unknown): Record<string, unknown> =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};

/** The Yjs value for a field from its JSON value (missing → the field's default). */
export function toY(spec: FieldSpec, value: unknown): unknown {
  const v = value === undefined ? defaultValue(spec) : value;
  switch (spec.kind) {
    case 'text':
      return new Y.Text(str(v));
    case 'list':
    case 'refs':
      return Y.Array.from(arr(v).map(str));
    case 'pairs':
      return Y.Array.from(
        arr(v).map(
          (p) => new Y.Map(Object.entries({ name: str(obj(p).name), value: str(obj(p).value) })),
        ),
      );
    case 'steps':
      return Y.Array.from(arr(v).map((s) => newStep(obj(s))));
    case 'number':
      return typeof v === 'number' ? v : Number(v);
    default:
      return typeof v === 'string' ? v : str(v);
  }
}

export function newStep(json: Record<string, unknown>): YItem {
  const type =
    typeof json.type === 'string' && Object.hasOwn(STEP_VARIANTS, json.type)
      ? (json.type as StepType)
      : 'message';
  const step = new Y.Map<unknown>();
  step.set('id', typeof json.id === 'string' && json.id ? json.id : newItemId());
  step.set('type', type);
  for (const [field, spec] of Object.entries(STEP_VARIANTS[type].fields))
    step.set(field, toY(spec, json[field]));
  return step;
}

/** A new Y.Map item with every field of its section (defaults where `json` has none). */
export function newItem(section: Section, json: ItemJson = {}): YItem {
  const spec = SPECS[section];
  const item = new Y.Map<unknown>();
  const withDefaults =
    spec.variantKey && json[spec.variantKey] === undefined
      ? { ...json, [spec.variantKey]: defaultValue(spec.fields[spec.variantKey]!) }
      : json;
  for (const [field, fspec] of Object.entries(fieldsOf(spec, withDefaults)))
    item.set(field, toY(fspec, withDefaults[field]));
  return item;
}

/** Adds an item in one transaction, so collaborators never see half of it. Returns its id. */
export function addItem(
  doc: Y.Doc,
  section: Section,
  json: ItemJson = {},
  id: string = newItemId(),
): string {
  doc.transact(() => sectionMap(doc, section).set(id, newItem(section, json)));
  return id;
}

/** Switches a variant item (a channel's type): drops the old type's fields, adds the new one's, in one transaction. */
export function setVariant(doc: Y.Doc, section: Section, item: YItem, value: string): void {
  const spec = SPECS[section];
  if (!spec.variantKey || !spec.variants || !Object.hasOwn(spec.variants, value)) return;
  doc.transact(() => {
    const before = fieldsOf(spec, itemJson(item));
    const after = fieldsOf(spec, { [spec.variantKey!]: value });
    for (const key of Object.keys(before)) if (!Object.hasOwn(after, key)) item.delete(key);
    item.set(spec.variantKey!, value);
    for (const [key, fspec] of Object.entries(after))
      if (!item.has(key)) item.set(key, toY(fspec, undefined));
  });
}

/** Replaces a Y.Text's content with `next` by editing only the part that differs (keeps others' cursors). */
export function patchText(text: Y.Text, next: string): void {
  const prev = text.toString();
  if (prev === next) return;
  let start = 0;
  while (start < prev.length && start < next.length && prev[start] === next[start]) start++;
  let endPrev = prev.length;
  let endNext = next.length;
  while (endPrev > start && endNext > start && prev[endPrev - 1] === next[endNext - 1]) {
    endPrev--;
    endNext--;
  }
  if (endPrev > start) text.delete(start, endPrev - start);
  if (endNext > start) text.insert(start, next.slice(start, endNext));
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

function patchField(item: YItem, field: string, spec: FieldSpec, value: unknown): void {
  const current = item.get(field);
  if (spec.kind === 'text' && current instanceof Y.Text) return patchText(current, str(value));
  if (spec.kind === 'steps' && current instanceof Y.Array)
    return patchSteps(current as Y.Array<YItem>, arr(value).map(obj));
  const currentJson = boundedJson(current, ITEM_JSON_DEPTH);
  // Compare plain JSON: reading a Y type before it is in a document is not allowed.
  if (!same(currentJson, plainOf(spec, value))) item.set(field, toY(spec, value));
}

/** The JSON a field's Y value will read as (what toY would build, without building it). */
function plainOf(spec: FieldSpec, value: unknown): unknown {
  const v = value === undefined ? defaultValue(spec) : value;
  switch (spec.kind) {
    case 'text':
      return str(v);
    case 'list':
    case 'refs':
      return arr(v).map(str);
    case 'pairs':
      return arr(v).map((p) => ({ name: str(obj(p).name), value: str(obj(p).value) }));
    case 'number':
      return typeof v === 'number' ? v : Number(v);
    default:
      return typeof v === 'string' ? v : str(v);
  }
}

function patchSteps(steps: Y.Array<YItem>, next: Record<string, unknown>[]): void {
  const current = orderedSteps(steps);
  const sameOrder =
    current.length === next.length &&
    current.every((s, i) => s.get('id') === next[i]!.id && s.get('type') === next[i]!.type);
  // Steps kept (same id and type) are patched in place, so text typed into them meanwhile stays;
  // removed ones go, new (or re-typed) ones are added, and the keys then give the new order.
  const byId = new Map(current.map((m) => [m.get('id'), m]));
  const ordered = next.map((json) => {
    const kept = byId.get(json.id);
    if (kept && kept.get('type') === json.type) {
      byId.delete(json.id);
      const type = kept.get('type') as StepType;
      for (const [field, spec] of Object.entries(STEP_VARIANTS[type].fields))
        patchField(kept, field, spec, json[field]);
      return kept;
    }
    const created = newStep(json);
    steps.push([created]);
    return created;
  });
  for (const gone of byId.values()) steps.delete(steps.toArray().indexOf(gone), 1);
  if (!sameOrder) setStepOrder(ordered);
}

/**
 * A Yjs value as JSON, at most `depth` levels of maps and arrays deep: what lies deeper is left
 * out (normalizing then reports the field as malformed). `toJSON()` recurses without bound, so
 * one item nested 20,000 deep (from before updates were checked) would fail every read of the draft.
 */
function boundedJson(value: unknown, depth: number): unknown {
  if (value instanceof Y.Text) return value.toString();
  if (value instanceof Y.Array)
    return depth > 0
      ? value.toArray().flatMap((v) => wrapDefined(boundedJson(v, depth - 1)))
      : undefined;
  if (value instanceof Y.Map) return depth > 0 ? boundedEntries(value.entries(), depth) : undefined;
  if (value instanceof Y.AbstractType) return undefined;
  if (Array.isArray(value))
    return depth > 0 ? value.flatMap((v) => wrapDefined(boundedJson(v, depth - 1))) : undefined;
  if (value !== null && typeof value === 'object')
    return depth > 0 ? boundedEntries(Object.entries(value), depth) : undefined;
  return value;
}
const wrapDefined = (v: unknown): unknown[] => (v === undefined ? [] : [v]);
function boundedEntries(
  entries: Iterable<[string, unknown]>,
  depth: number,
): Record<string, unknown> {
  const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const [k, v] of entries) {
    const json = boundedJson(v, depth - 1);
    if (json !== undefined) out[k] = json;
  }
  return { ...out };
}

/** Maps and arrays an item's JSON holds at most (steps → step → a value), with one level to spare. */
const ITEM_JSON_DEPTH = 4;

/** An item as JSON (depth-bounded), with workflow steps in their shown order (see steps.ts). */
export function itemJson(item: YItem): ItemJson {
  const json = (boundedJson(item, ITEM_JSON_DEPTH) ?? {}) as ItemJson;
  if (Array.isArray(json.steps)) json.steps = orderedStepsJson(json.steps);
  return json;
}

/** Content as a Yjs state (a new draft's first state row). */
export function contentState(content: Partial<WorkspaceContent>): Uint8Array {
  const doc = new Y.Doc();
  applyContent(doc, content);
  const state = Y.encodeStateAsUpdate(doc);
  doc.destroy();
  return state;
}

/** Patches one item in place so only the fields that differ change. */
export function patchItem(section: Section, item: YItem, json: ItemJson): void {
  const spec = SPECS[section];
  const wanted = fieldsOf(spec, json);
  for (const key of [...item.keys()]) if (!Object.hasOwn(wanted, key)) item.delete(key);
  for (const [field, fspec] of Object.entries(wanted)) {
    if (!item.has(field)) item.set(field, toY(fspec, json[field]));
    else patchField(item, field, fspec, json[field]);
  }
}

/**
 * Makes the draft equal to `content` with the smallest change, in ONE transaction, so
 * collaborators see it live as one change (import now; restore and hotfix ports later).
 */
export function applyContent(
  doc: Y.Doc,
  content: Partial<WorkspaceContent>,
  origin: unknown = null,
): void {
  doc.transact(() => {
    for (const section of SECTIONS) {
      const next = content[section];
      // A section the content leaves out is left as it is (flow rules: a draft's foreign sections).
      if (!next) continue;
      const items = sectionMap(doc, section);
      for (const id of [...items.keys()]) if (!Object.hasOwn(next, id)) items.delete(id);
      for (const [id, json] of Object.entries(next)) {
        const existing = items.get(id);
        if (existing instanceof Y.Map) patchItem(section, existing, json);
        else items.set(id, newItem(section, json));
      }
    }
  }, origin);
}

/**
 * Makes one item equal to `json` (patching the one there, so concurrent typing elsewhere in it
 * survives), or deletes it (null).
 */
export function setItemJson(
  doc: Y.Doc,
  section: Section,
  itemId: string,
  json: ItemJson | null,
): void {
  const map = sectionMap(doc, section);
  if (json === null) return void map.delete(itemId);
  const existing = map.get(itemId);
  if (existing instanceof Y.Map) patchItem(section, existing, json);
  else map.set(itemId, newItem(section, json));
}

/** A long-text field of an item, or null if the item has none there. */
export function itemText(item: YItem | undefined, field: string): Y.Text | null {
  const t = item?.get(field);
  return t instanceof Y.Text ? t : null;
}

export interface ItemSummary {
  id: string;
  name: string;
}

/** The items of a section with their display names, sorted by name. */
export function listItems(doc: Y.Doc, section: Section): ItemSummary[] {
  const nameField = SPECS[section].nameField;
  const out: ItemSummary[] = [];
  for (const [id, item] of sectionMap(doc, section)) {
    if (!(item instanceof Y.Map)) continue;
    const name = item.get(nameField);
    out.push({ id, name: typeof name === 'string' ? name : '' });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name) || (a.id < b.id ? -1 : 1));
}
