import { diffLines, diffWordsWithSpace } from 'diff';
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
      added: Object.keys(after)
        .filter((id) => !Object.hasOwn(before, id))
        .sort(),
      removed: Object.keys(before)
        .filter((id) => !Object.hasOwn(after, id))
        .sort(),
      changed: Object.keys(after)
        .filter((id) => Object.hasOwn(before, id) && before[id] !== after[id])
        .sort(),
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
  /** `text`: long text or a list rendered as lines, with `lines` (or a `note`); `value`: a short value. */
  kind: 'text' | 'value';
  before: unknown;
  after: unknown;
  lines?: LinePart[];
  /**
   * A text too different (or too costly) to diff line by line: shown as replaced whole, with this
   * note instead of `lines`.
   */
  note?: string;
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
      const variant =
        typeof s.type === 'string' && Object.hasOwn(STEP_VARIANTS, s.type)
          ? STEP_VARIANTS[s.type as StepType]
          : undefined;
      const fields = variant
        ? Object.keys(variant.fields).map(
            (f) => `${variant.fields[f]!.label}: ${JSON.stringify(s[f] ?? '')}`,
          )
        : [];
      return `${i + 1}. ${variant?.label ?? String(s.type)} — ${fields.join(', ')}`;
    })
    .join('\n');
}

/**
 * Line diffs are bounded: Myers' algorithm costs (N + M) · D for D changed lines, so two
 * 16,000-line texts that share nothing took 30 s. Past DIFF_MAX_EDIT_LINES changed lines, or once
 * the time budget of the whole diff is spent (very long lines make each comparison costly), a text
 * is shown as replaced whole, with a note. The line bound decides in practice and does not depend
 * on the machine's load; the time budget is the backstop.
 */
export const DIFF_MAX_EDIT_LINES = 1000;
export const DIFF_BUDGET_MS = 500;

/** The time one diff (all its items and fields) may spend on line diffs. */
export interface DiffBudget {
  until: number;
}
export const diffBudget = (ms = DIFF_BUDGET_MS): DiffBudget => ({ until: Date.now() + ms });

const linesOf = (t: string): string[] => (t === '' ? [] : t.replace(/\n$/, '').split('\n'));

function lineDiff(
  before: string,
  after: string,
  budget: DiffBudget,
): Pick<FieldChange, 'lines' | 'note'> {
  // A text added or removed whole costs nothing to show: every line is new (or gone).
  if (before === '' || after === '')
    return {
      lines:
        before === ''
          ? linesOf(after).map((text) => ({ op: 'add', text }))
          : linesOf(before).map((text) => ({ op: 'del', text })),
    };
  // A line is a line whether or not the text ends with a newline.
  const eol = (t: string) => (t.endsWith('\n') ? t : `${t}\n`);
  const left = budget.until - Date.now();
  const changes =
    left > 0
      ? diffLines(eol(before), eol(after), { maxEditLength: DIFF_MAX_EDIT_LINES, timeout: left })
      : undefined;
  if (!changes) {
    const [b, a] = [linesOf(before).length, linesOf(after).length];
    return {
      note: `Too many changes to show line by line: the whole text was replaced (${b.toLocaleString('en')} line${b === 1 ? '' : 's'} before, ${a.toLocaleString('en')} after).`,
    };
  }
  const parts: LinePart[] = [];
  for (const c of changes) {
    const op = c.added ? 'add' : c.removed ? 'del' : 'same';
    for (const line of c.value.replace(/\n$/, '').split('\n')) parts.push({ op, text: line });
  }
  return { lines: parts };
}

/**
 * Past this many changed words, two texts are shown side by side whole, without marks (as
 * DIFF_MAX_EDIT_LINES bounds line diffs).
 */
export const DIFF_MAX_EDIT_WORDS = 4000;

/**
 * Two texts as word-level parts, for showing them side by side with the changed words marked
 * (the whole texts: each side is its `same` parts plus its `del` or `add` ones). Undefined when
 * too different or once `budget` is spent: shown whole then, unmarked.
 */
export function wordDiff(
  before: string,
  after: string,
  budget: DiffBudget,
): LinePart[] | undefined {
  const left = budget.until - Date.now();
  const changes =
    left > 0
      ? diffWordsWithSpace(before, after, { maxEditLength: DIFF_MAX_EDIT_WORDS, timeout: left })
      : undefined;
  return changes?.map((c) => ({ op: c.added ? 'add' : c.removed ? 'del' : 'same', text: c.value }));
}

/** Field-level changes of one item (both sides normalized to their section's fields); line diffs share `budget`. */
export function itemFieldChanges(
  section: Section,
  beforeRaw: ItemJson,
  afterRaw: ItemJson,
  budget = diffBudget(),
): FieldChange[] {
  const before = normalizeItem(section, '', beforeRaw);
  const after = normalizeItem(section, '', afterRaw);
  const spec = SPECS[section];
  const fields = { ...fieldsOf(spec, before), ...fieldsOf(spec, after) };
  const out: FieldChange[] = [];
  for (const [field, fspec] of Object.entries(fields)) {
    const b = before[field];
    const a = after[field];
    if (canonicalJson(b ?? null) === canonicalJson(a ?? null)) continue;
    if (fspec.kind === 'text')
      out.push({
        field,
        label: fspec.label,
        kind: 'text',
        before: b,
        after: a,
        ...lineDiff(String(b ?? ''), String(a ?? ''), budget),
      });
    else if (fspec.kind === 'steps')
      out.push({
        field,
        label: fspec.label,
        kind: 'text',
        before: b,
        after: a,
        ...lineDiff(stepsAsText(b), stepsAsText(a), budget),
      });
    else out.push({ field, label: fspec.label, kind: 'value', before: b, after: a });
  }
  return out;
}

/**
 * A new item's fields: every field that holds a value, those equal to their default included (a
 * reviewer reads the whole new item: its tone, its timeout), in the spec's order.
 */
function addedFields(section: Section, raw: ItemJson, budget: DiffBudget): FieldChange[] {
  const item = normalizeItem(section, '', raw);
  const changed = new Map(itemFieldChanges(section, {}, raw, budget).map((f) => [f.field, f]));
  const out: FieldChange[] = [];
  for (const [field, fspec] of Object.entries(fieldsOf(SPECS[section], item))) {
    const v = item[field];
    if (v === undefined || v === null || v === '' || canonicalJson(v) === '[]') continue;
    out.push(
      changed.get(field) ?? {
        field,
        label: fspec.label,
        kind: fspec.kind === 'text' || fspec.kind === 'steps' ? 'text' : 'value',
        before: undefined,
        after: v,
      },
    );
  }
  return out;
}

const nameOf = (section: Section, item: ItemJson | undefined): string =>
  String(item?.[SPECS[section].nameField] ?? '') || '(untitled)';

/**
 * Builds the item-level diff from a tree delta, reading only the items that differ
 * (`read` is called for exactly those).
 */
export function buildDiff(
  delta: Record<Section, TreeDelta>,
  read: (side: 'before' | 'after', section: Section, id: string) => ItemJson,
  budget = diffBudget(),
): ContentDiff {
  const sections = {} as Record<Section, ItemChange[]>;
  const counts = {} as Record<Section, number>;
  let total = 0;
  for (const s of SECTIONS) {
    const d = delta[s];
    const changes: ItemChange[] = [
      ...d.added.map((id): ItemChange => {
        const after = read('after', s, id);
        return { id, name: nameOf(s, after), kind: 'added', fields: addedFields(s, after, budget) };
      }),
      ...d.removed.map((id): ItemChange => ({
        id,
        name: nameOf(s, read('before', s, id)),
        kind: 'removed',
        fields: [],
      })),
      ...d.changed.map((id): ItemChange => {
        const before = read('before', s, id);
        const after = read('after', s, id);
        return {
          id,
          name: nameOf(s, after),
          kind: 'changed',
          fields: itemFieldChanges(s, before, after, budget),
        };
      }),
    ].sort((x, y) => x.name.localeCompare(y.name));
    sections[s] = changes;
    counts[s] = changes.length;
    total += changes.length;
  }
  return { sections, counts, total };
}

/** A diff of one item alone (a conflict, a pull choice), to show on its own. */
export function itemDiff(section: Section, change: ItemChange): ContentDiff {
  const sections = Object.fromEntries(
    SECTIONS.map((s) => [s, s === section ? [change] : []]),
  ) as Record<Section, ItemChange[]>;
  const counts = Object.fromEntries(SECTIONS.map((s) => [s, sections[s].length])) as Record<
    Section,
    number
  >;
  return { sections, counts, total: 1 };
}

/** The tree of plain content, with `address` computing each item's content address. */
export function treeOf(
  content: WorkspaceContent,
  address: (section: Section, item: ItemJson) => string,
): Tree {
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
  return buildDiff(
    diffTrees(treeOf(a, address), treeOf(b, address)),
    (side, s, id) => (side === 'before' ? a : b)[s][id]!,
  );
}

/** The diff limited to some sections (flow rules: what a Sync carries); the others count as unchanged. */
export function onlySections(diff: ContentDiff, keep: readonly Section[]): ContentDiff {
  const sections = Object.fromEntries(
    SECTIONS.map((s) => [s, keep.includes(s) ? diff.sections[s] : []]),
  ) as Record<Section, ItemChange[]>;
  const counts = Object.fromEntries(SECTIONS.map((s) => [s, sections[s].length])) as Record<
    Section,
    number
  >;
  return { sections, counts, total: Object.values(counts).reduce((a, b) => a + b, 0) };
}
