/**
 * Content as a person reads it, not as it is stored: references by the referenced item's name
 * (or "missing: <id>" when it is gone), enum values by their labels, headers as rows, numbers with
 * their units, Yes/No for booleans, lists as lists. Driven by the field specs (spec.ts), so a label
 * is said once. Pure: the diff view, the read-only content view and the pull panel share it.
 */
import { diffArrays } from 'diff';
import {
  SECTIONS,
  SPECS,
  STEP_VARIANTS,
  type FieldSpec,
  type Section,
  type StepType,
} from './spec.ts';
import type { ContentDiff, ItemChange, LinePart } from './diff.ts';

/** Finds an item's name in one side's content: undefined when the item is not there. */
export type Lookup = (section: Section, id: string) => string | undefined;

/** Names of referenced items per section, as GET /diff carries them for each side. */
export type Names = Partial<Record<Section, Record<string, string>>>;

/** A lookup over names (the diff's answer) or over a whole content (a read-only view). */
export function lookupIn(names: Names | undefined): Lookup {
  return (section, id) => {
    const n = names?.[section];
    return n && Object.hasOwn(n, id) ? n[id] : undefined;
  };
}

export function lookupContent(
  content: Readonly<Record<Section, Readonly<Record<string, Readonly<Record<string, unknown>>>>>>,
): Lookup {
  return (section, id) => {
    const items = content[section];
    if (!items || !Object.hasOwn(items, id)) return undefined;
    return String(items[id]![SPECS[section].nameField] ?? '') || '(untitled)';
  };
}

/** A reference as shown: the item's name and where it is, or a dangling id (a problem to show). */
export interface RefShown {
  section: Section;
  id: string;
  /** The item's name; null when the id points at nothing on this side. */
  name: string | null;
  /** What a person reads: the name, or "missing: <id>". */
  text: string;
}

export interface PairRow {
  name: string;
  value: string;
}

export interface StepShown {
  /** "Hand off to an agent" (the step type's label). */
  label: string;
  fields: { label: string; value: Shown }[];
}

/** A value as shown: what to put on screen, by shape. */
export type Shown =
  | { kind: 'empty' }
  | { kind: 'text'; text: string; markdown?: boolean }
  | { kind: 'color'; color: string }
  | { kind: 'refs'; refs: RefShown[]; single: boolean }
  | { kind: 'list'; items: string[] }
  | { kind: 'pairs'; rows: PairRow[] }
  | { kind: 'steps'; steps: StepShown[] };

const isEmpty = (v: unknown) =>
  v === undefined || v === null || v === '' || (Array.isArray(v) && v.length === 0);

/** A reference by id, resolved on one side. */
export function presentRef(section: Section, id: string, lookup: Lookup): RefShown {
  const name = lookup(section, id) ?? null;
  return { section, id, name, text: name ?? `missing: ${id}` };
}

/** "30 s", "150 ms", "1.5 s", "2 min": a number with its unit, in the unit a person reads. */
export function withUnit(n: number, unit: string | undefined): string {
  const plain = (x: number) => x.toLocaleString('en', { maximumFractionDigits: 2 });
  if (unit === 'ms') {
    if (Math.abs(n) < 1000) return `${plain(n)} ms`;
    if (Math.abs(n) < 120_000) return `${plain(n / 1000)} s`;
    return `${plain(n / 60_000)} min`;
  }
  if (unit === 's') {
    if (Math.abs(n) < 120) return `${plain(n)} s`;
    return `${plain(n / 60)} min`;
  }
  return unit ? `${plain(n)} ${unit}` : plain(n);
}

/** An enum value's label (the spec's, else the value itself). */
export function enumLabel(spec: FieldSpec, value: unknown): string {
  const v = String(value ?? '');
  if (spec.kind === 'enum' && spec.labels && Object.hasOwn(spec.labels, v)) return spec.labels[v]!;
  return v;
}

/** Anything not described by a spec, as plain text (Yes/No for booleans, lists joined). */
function plainText(v: unknown): string {
  if (typeof v === 'boolean') return v ? 'Yes' : 'No';
  if (typeof v === 'number') return withUnit(v, undefined);
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return v.map(plainText).join(', ');
  if (v && typeof v === 'object')
    return Object.entries(v)
      .map(([k, x]) => `${k}: ${plainText(x)}`)
      .join(', ');
  return '';
}

function pairsOf(v: unknown): PairRow[] {
  if (!Array.isArray(v)) return [];
  return v.map((p: unknown) => {
    const r = (p && typeof p === 'object' ? p : {}) as Record<string, unknown>;
    return { name: String(r.name ?? ''), value: String(r.value ?? '') };
  });
}

/** A workflow's steps: each by its type's label, its fields by their labels, references by name. */
export function presentSteps(v: unknown, lookup: Lookup): StepShown[] {
  if (!Array.isArray(v)) return [];
  return v.map((raw: unknown) => {
    const s = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
    const type = String(s.type ?? '');
    const variant = Object.hasOwn(STEP_VARIANTS, type) ? STEP_VARIANTS[type as StepType] : null;
    if (!variant) return { label: type || 'Step', fields: [] };
    const fields = Object.entries(variant.fields)
      .filter(([f]) => !isEmpty(s[f]))
      .map(([f, spec]) => ({
        label: spec.label,
        value:
          f === 'thenStep'
            ? stepTarget(v as Record<string, unknown>[], String(s[f]))
            : presentValue(spec, s[f], lookup),
      }));
    return { label: variant.label, fields };
  });
}

/** "step 5 (Hand off to an agent)" for a jump target; a step id alone says nothing to a person. */
function stepTarget(steps: Record<string, unknown>[], id: string): Shown {
  const i = steps.findIndex((s) => s && s.id === id);
  if (i < 0) return { kind: 'text', text: `missing: ${id}` };
  const t = String(steps[i]!.type ?? '');
  const label = Object.hasOwn(STEP_VARIANTS, t) ? STEP_VARIANTS[t as StepType].label : t;
  return { kind: 'text', text: `step ${i + 1} (${label})` };
}

/** A field's value as shown, by its spec; references are resolved with `lookup` (that side's). */
export function presentValue(spec: FieldSpec | undefined, v: unknown, lookup: Lookup): Shown {
  if (!spec) return isEmpty(v) ? { kind: 'empty' } : { kind: 'text', text: plainText(v) };
  switch (spec.kind) {
    case 'ref':
      return typeof v === 'string' && v !== ''
        ? { kind: 'refs', refs: [presentRef(spec.to, v, lookup)], single: true }
        : { kind: 'empty' };
    case 'refs':
      return Array.isArray(v) && v.length > 0
        ? {
            kind: 'refs',
            refs: v.map((id) => presentRef(spec.to, String(id), lookup)),
            single: false,
          }
        : { kind: 'empty' };
    case 'enum':
      return isEmpty(v) ? { kind: 'empty' } : { kind: 'text', text: enumLabel(spec, v) };
    case 'number':
      return typeof v === 'number' ? { kind: 'text', text: withUnit(v, spec.unit) } : plain(v);
    case 'color':
      return typeof v === 'string' && v !== '' ? { kind: 'color', color: v } : { kind: 'empty' };
    case 'list':
      return Array.isArray(v) && v.length > 0
        ? { kind: 'list', items: v.map(plainText) }
        : { kind: 'empty' };
    case 'pairs': {
      const rows = pairsOf(v);
      return rows.length > 0 ? { kind: 'pairs', rows } : { kind: 'empty' };
    }
    case 'steps': {
      const steps = presentSteps(v, lookup);
      return steps.length > 0 ? { kind: 'steps', steps } : { kind: 'empty' };
    }
    case 'text':
      return isEmpty(v)
        ? { kind: 'empty' }
        : { kind: 'text', text: String(v), ...(spec.markdown ? { markdown: true } : {}) };
    default:
      return plain(v);
  }
}

function plain(v: unknown): Shown {
  return isEmpty(v) ? { kind: 'empty' } : { kind: 'text', text: plainText(v) };
}

/** Shown as one line of text (titles, tooltips, step lines in a line diff). */
export function shownText(s: Shown): string {
  switch (s.kind) {
    case 'empty':
      return '—';
    case 'text':
      return s.text;
    case 'color':
      return s.color;
    case 'refs':
      return s.refs.map((r) => r.text).join(', ');
    case 'list':
      return s.items.join(', ');
    case 'pairs':
      return s.rows.map((r) => `${r.name}: ${r.value}`).join('; ');
    case 'steps':
      return stepsText(s.steps);
  }
}

/** Steps as numbered lines of text, names not ids: what a line diff of steps compares. */
export function stepsText(steps: StepShown[]): string {
  return steps
    .map(
      (s, i) =>
        `${i + 1}. ${s.label}${s.fields.length ? ' — ' : ''}${s.fields
          .map((f) => `${f.label}: ${shownText(f.value)}`)
          .join(' · ')}`,
    )
    .join('\n');
}

/**
 * The spec of a section's field; a channel's variant fields too (any variant: a field's name means
 * the same thing in each variant that has it).
 */
export function fieldSpec(section: Section, field: string): FieldSpec | undefined {
  const spec = SPECS[section];
  if (Object.hasOwn(spec.fields, field)) return spec.fields[field];
  for (const v of Object.values(spec.variants ?? {}))
    if (Object.hasOwn(v.fields, field)) return v.fields[field];
  return undefined;
}

/** One entry of a list or table compared across two sides. */
export interface Marked<T> {
  op: 'same' | 'add' | 'del';
  value: T;
}

/** Two lists, entry by entry: kept, added and removed entries in order. */
export function listDelta<T>(
  before: readonly T[],
  after: readonly T[],
  key: (x: T) => string = String,
): Marked<T>[] {
  const out: Marked<T>[] = [];
  const parts = diffArrays(before.map(key), after.map(key));
  let [i, j] = [0, 0];
  for (const p of parts) {
    for (let k = 0; k < p.count; k++) {
      if (p.added) out.push({ op: 'add', value: after[j++]! });
      else if (p.removed) out.push({ op: 'del', value: before[i++]! });
      else {
        out.push({ op: 'same', value: after[j++]! });
        i++;
      }
    }
  }
  return out;
}

/** A header row compared: added, removed, kept, or its value changed (`before` holds the old value). */
export interface PairDelta {
  op: 'same' | 'add' | 'del' | 'changed';
  name: string;
  value: string;
  before?: string;
}

/** Two tables of name/value pairs (headers), by name. */
export function pairsDelta(beforeRaw: unknown, afterRaw: unknown): PairDelta[] {
  const before = pairsOf(beforeRaw);
  const after = pairsOf(afterRaw);
  const old = new Map(before.map((r) => [r.name, r.value]));
  const names = new Set(after.map((r) => r.name));
  const out: PairDelta[] = after.map((r) =>
    !old.has(r.name)
      ? { op: 'add', ...r }
      : old.get(r.name) === r.value
        ? { op: 'same', ...r }
        : { op: 'changed', ...r, before: old.get(r.name)! },
  );
  for (const r of before) if (!names.has(r.name)) out.push({ op: 'del', ...r });
  return out;
}

/** A text's lines, each made of word-level parts (from a word diff of the whole texts). */
export type MarkedLine = LinePart[];

/** Splits word-level parts into lines (a part holding a newline ends its line there). */
export function partsToLines(parts: readonly LinePart[]): MarkedLine[] {
  const lines: MarkedLine[] = [[]];
  for (const p of parts) {
    const pieces = p.text.split('\n');
    pieces.forEach((piece, k) => {
      if (k > 0) lines.push([]);
      if (piece !== '') lines[lines.length - 1]!.push({ op: p.op, text: piece });
    });
  }
  // A text ending with a newline has no line after it.
  if (lines.length > 1 && lines[lines.length - 1]!.length === 0) lines.pop();
  return lines;
}

/** A line is unchanged when none of its parts is added or removed. */
export const unchangedLine = (l: MarkedLine) => l.every((p) => p.op === 'same');

/** A run of lines to show, or a run of unchanged lines folded away ("Show N unchanged lines"). */
export type Hunk<T> =
  { kind: 'show'; start: number; lines: T[] } | { kind: 'fold'; start: number; lines: T[] };

/**
 * Unchanged lines as context: `context` lines kept next to each change, longer runs of
 * unchanged lines folded. A run is folded only when it hides more than `minFold` lines (folding
 * one line helps nobody).
 */
export function foldUnchanged<T>(
  lines: readonly T[],
  same: (line: T) => boolean,
  context = 2,
  minFold = 3,
): Hunk<T>[] {
  const keep = lines.map(() => false);
  lines.forEach((l, i) => {
    if (same(l)) return;
    for (let k = Math.max(0, i - context); k <= Math.min(lines.length - 1, i + context); k++)
      keep[k] = true;
  });
  // Nothing changed at all (e.g. only whitespace at the end): show everything.
  if (!keep.includes(true))
    return lines.length ? [{ kind: 'show', start: 0, lines: [...lines] }] : [];
  const out: Hunk<T>[] = [];
  let i = 0;
  while (i < lines.length) {
    let j = i;
    while (j < lines.length && keep[j] === keep[i]) j++;
    const run = lines.slice(i, j);
    if (keep[i] || run.length <= minFold) {
      const last = out[out.length - 1];
      if (last?.kind === 'show') last.lines.push(...run);
      else out.push({ kind: 'show', start: i, lines: run });
    } else out.push({ kind: 'fold', start: i, lines: run });
    i = j;
  }
  return out;
}

const plural = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;

/** "2 agents changed, 1 workflow added, 3 articles changed — 14 fields". */
export function summarize(diff: ContentDiff): string {
  const parts: string[] = [];
  let fields = 0;
  for (const s of SECTIONS) {
    const items: ItemChange[] = diff.sections[s] ?? [];
    for (const kind of ['changed', 'added', 'removed'] as const) {
      const n = items.filter((it) => it.kind === kind).length;
      if (n > 0) parts.push(`${plural(n, SPECS[s].noun)} ${kind}`);
    }
    fields += items.reduce((a, it) => a + (it.kind === 'changed' ? it.fields.length : 0), 0);
  }
  if (parts.length === 0) return 'Nothing differs';
  return fields > 0 ? `${parts.join(', ')} — ${plural(fields, 'field')}` : parts.join(', ');
}

/** A diff side as the title names it (GET /diff's `from`/`to`). */
export interface SideName {
  ref: string;
  label: string;
  environment?: string | null;
  snapshotId: string | null;
}

function sideName(s: SideName): string {
  const kind = s.ref.split(':')[0];
  if (kind === 'snapshot') return `snapshot #${(s.snapshotId ?? '').slice(0, 8)}`;
  if (kind === 'live') return `${s.environment ?? s.label} live`;
  return s.environment ?? s.label;
}

/**
 * A diff's title in the direction of the move: `to` is what would come, `from` is where it would
 * land ("What DEV would bring to TEST"); production's synced release against its live one reads
 * "What is live in Production vs. what was synced".
 */
export function diffTitle(from: SideName, to: SideName): string {
  const [fk, tk] = [from.ref.split(':')[0], to.ref.split(':')[0]];
  const sameEnv = from.ref.split(':')[1] === to.ref.split(':')[1];
  if (fk === 'live' && tk === 'env' && sameEnv)
    return `What is live in ${from.environment ?? from.label} vs. what was synced`;
  if (fk === 'live')
    return `What ${sideName(to)} would bring live in ${from.environment ?? from.label}`;
  if (fk === 'snapshot' && tk === 'snapshot')
    return `What changed from ${sideName(from)} to ${sideName(to)}`;
  return `What ${sideName(to)} would bring to ${sideName(from)}`;
}

/** The ids each reference-holding field of a value points at, per target section (steps included). */
export function referencedIds(
  spec: FieldSpec | undefined,
  v: unknown,
  into: Map<Section, Set<string>>,
): void {
  const add = (s: Section, id: unknown) => {
    if (typeof id !== 'string' || id === '') return;
    let set = into.get(s);
    if (!set) into.set(s, (set = new Set()));
    set.add(id);
  };
  if (!spec) return;
  if (spec.kind === 'ref') add(spec.to, v);
  else if (spec.kind === 'refs' && Array.isArray(v)) for (const id of v) add(spec.to, id);
  else if (spec.kind === 'steps' && Array.isArray(v))
    for (const raw of v) {
      const s = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
      const t = String(s.type ?? '');
      if (!Object.hasOwn(STEP_VARIANTS, t)) continue;
      for (const [f, fs] of Object.entries(STEP_VARIANTS[t as StepType].fields))
        referencedIds(fs, s[f], into);
    }
}
