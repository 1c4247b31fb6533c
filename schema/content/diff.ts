import { diffLines } from 'diff';
import { SECTIONS, SPECS, STEP_VARIANTS, fieldsOf, type Section, type StepType } from './spec.ts';
import { canonicalJson } from './canonical.ts';
import { normalizeItem } from './normalize.ts';
import type { ItemJson, WorkspaceContent } from './ydoc.ts';
import { emptySection } from './ids.ts';

/** A snapshot's tree: section → item id → blob id (the item's content address). */
export type Tree = Record<Section, Record<string, string>>;

export interface TreeDelta {
  added: string[];
  removed: string[];
  changed: string[];
}

/** Compares two trees by blob id only: nothing but ids is read. */
export function diffTrees(a: Tree, b: Tree): Record<Section, TreeDelta> {
  const out = {} as Record<Section, TreeDelta>;
  for (const s of SECTIONS) {
    const before = a[s] ?? {};
    const after = b[s] ?? {};
    out[s] = {
      added: Object.keys(after).filter((id) => !Object.hasOwn(before, id)).sort(),
      removed: Object.keys(before).filter((id) => !Object.hasOwn(after, id)).sort(),
      changed: Object.keys(after).filter((id) => Object.hasOwn(before, id) && before[id] !== after[id]).sort(),
    };
  }
  return out;
}

export interface LinePart {
  op: 'same' | 'add' | 'del';
  text: string;
}

export interface FieldChange {
  field: string;
  label: string;
  /** `text`: long text or a list rendered as lines, with `lines`; `value`: a short value. */
  kind: 'text' | 'value';
  before: unknown;
  after: unknown;
  lines?: LinePart[];
}

export interface ItemChange {
  id: string;
  name: string;
  kind: 'added' | 'removed' | 'changed';
  fields: FieldChange[];
}

export interface ContentDiff {
  sections: Record<Section, ItemChange[]>;
  counts: Record<Section, number>;
  total: number;
}

function stepsAsText(steps: unknown): string {
  if (!Array.isArray(steps)) return '';
  return steps
    .map((s: Record<string, unknown>, i) => {
      const variant = typeof s.type === 'string' && Object.hasOwn(STEP_VARIANTS, s.type) ? STEP_VARIANTS[s.type as StepType] : undefined;
      const fields = variant ? Object.keys(variant.fields).map((f) => `${variant.fields[f]!.label}: ${JSON.stringify(s[f] ?? '')}`) : [];
      return `${i + 1}. ${variant?.label ?? String(s.type)} — ${fields.join(', ')}`;
    })
    .join('\n');
}

function lineDiff(before: string, after: string): LinePart[] {
  const parts: LinePart[] = [];
  // A line is a line whether or not the text ends with a newline.
  const eol = (t: string) => (t === '' || t.endsWith('\n') ? t : `${t}\n`);
  for (const c of diffLines(eol(before), eol(after))) {
    const op = c.added ? 'add' : c.removed ? 'del' : 'same';
    for (const line of c.value.replace(/\n$/, '').split('\n')) parts.push({ op, text: line });
  }
  return parts;
}

/** Field-level changes of one item (both sides normalized to their section's fields). */
export function itemFieldChanges(section: Section, beforeRaw: ItemJson, afterRaw: ItemJson): FieldChange[] {
  const before = normalizeItem(section, '', beforeRaw);
  const after = normalizeItem(section, '', afterRaw);
  const spec = SPECS[section];
  const fields = { ...fieldsOf(spec, before), ...fieldsOf(spec, after) };
  const out: FieldChange[] = [];
  for (const [field, fspec] of Object.entries(fields)) {
    const b = before[field];
    const a = after[field];
    if (canonicalJson(b ?? null) === canonicalJson(a ?? null)) continue;
    if (fspec.kind === 'text') out.push({ field, label: fspec.label, kind: 'text', before: b, after: a, lines: lineDiff(String(b ?? ''), String(a ?? '')) });
    else if (fspec.kind === 'steps') out.push({ field, label: fspec.label, kind: 'text', before: b, after: a, lines: lineDiff(stepsAsText(b), stepsAsText(a)) });
    else out.push({ field, label: fspec.label, kind: 'value', before: b, after: a });
  }
  return out;
}

const nameOf = (section: Section, item: ItemJson | undefined): string => String(item?.[SPECS[section].nameField] ?? '') || '(untitled)';

/**
 * Builds the item-level diff from a tree delta, reading only the items that differ
 * (`read` is called for exactly those).
 */
export function buildDiff(
  delta: Record<Section, TreeDelta>,
  read: (side: 'before' | 'after', section: Section, id: string) => ItemJson,
): ContentDiff {
  const sections = {} as Record<Section, ItemChange[]>;
  const counts = {} as Record<Section, number>;
  let total = 0;
  for (const s of SECTIONS) {
    const d = delta[s];
    const changes: ItemChange[] = [
      ...d.added.map((id): ItemChange => {
        const after = read('after', s, id);
        return { id, name: nameOf(s, after), kind: 'added', fields: itemFieldChanges(s, {}, after).filter((f) => f.after !== undefined && f.after !== '' && canonicalJson(f.after) !== '[]') };
      }),
      ...d.removed.map((id): ItemChange => ({ id, name: nameOf(s, read('before', s, id)), kind: 'removed', fields: [] })),
      ...d.changed.map((id): ItemChange => {
        const before = read('before', s, id);
        const after = read('after', s, id);
        return { id, name: nameOf(s, after), kind: 'changed', fields: itemFieldChanges(s, before, after) };
      }),
    ].sort((x, y) => x.name.localeCompare(y.name));
    sections[s] = changes;
    counts[s] = changes.length;
    total += changes.length;
  }
  return { sections, counts, total };
}

/** The tree of plain content, with `address` computing each item's content address. */
export function treeOf(content: WorkspaceContent, address: (section: Section, item: ItemJson) => string): Tree {
  const tree = {} as Tree;
  for (const s of SECTIONS) {
    tree[s] = emptySection();
    for (const [id, item] of Object.entries(content[s])) tree[s][id] = address(s, item);
  }
  return tree;
}

/** The whole diff of two contents in memory (the server uses trees to read less). */
export function diffContent(a: WorkspaceContent, b: WorkspaceContent): ContentDiff {
  const address = (s: Section, item: ItemJson) => canonicalJson(normalizeItem(s, '', item));
  return buildDiff(diffTrees(treeOf(a, address), treeOf(b, address)), (side, s, id) => (side === 'before' ? a : b)[s][id]!);
}

/** The diff limited to some sections (flow rules: what a Sync carries); the others count as unchanged. */
export function onlySections(diff: ContentDiff, keep: readonly Section[]): ContentDiff {
  const sections = Object.fromEntries(SECTIONS.map((s) => [s, keep.includes(s) ? diff.sections[s] : []])) as Record<Section, ItemChange[]>;
  const counts = Object.fromEntries(SECTIONS.map((s) => [s, sections[s].length])) as Record<Section, number>;
  return { sections, counts, total: Object.values(counts).reduce((a, b) => a + b, 0) };
}
