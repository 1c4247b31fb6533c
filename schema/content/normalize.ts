import {
  SECTIONS,
  SPECS,
  STEP_VARIANTS,
  fieldsOf,
  type FieldSpec,
  type Section,
  type StepType,
} from './spec.ts';
import { deepFreeze, memoOnFrozen } from './frozen.ts';
import { emptyContent, defaultValue, type ItemJson, type WorkspaceContent } from './ydoc.ts';
import { own } from './ids.ts';

export interface Problem {
  section: Section;
  itemId: string;
  /** The field's path in the item: `name`, `steps.<stepId>.integration`, `headers.2.value`. */
  field: string;
  message: string;
  /** What kind of problem: `type` problems mean the data itself is malformed. */
  code: 'type' | 'required' | 'invalid' | 'too_long' | 'duplicate' | 'reference' | 'template';
}

const isStringArray = (v: unknown): v is string[] =>
  Array.isArray(v) && v.every((x) => typeof x === 'string');

/** Coerces one field to its kind; wrong types become the default and a `type` problem. */
function normalizeField(
  spec: FieldSpec,
  value: unknown,
  report: (field: string, message: string) => void,
  field: string,
): unknown {
  if (value === undefined) return defaultValue(spec);
  const bad = (what: string) => {
    report(field, `${spec.label} must be ${what}.`);
    return defaultValue(spec);
  };
  switch (spec.kind) {
    case 'string':
    case 'text':
    case 'ref':
    case 'color':
      return typeof value === 'string' ? value : bad('text');
    case 'enum':
      return typeof value === 'string' ? value : bad(`one of ${spec.values.join(', ')}`);
    case 'number':
      return typeof value === 'number' && Number.isFinite(value) ? value : bad('a number');
    case 'list':
    case 'refs':
      return isStringArray(value) ? value : bad('a list of texts');
    case 'pairs': {
      if (!Array.isArray(value)) return bad('a list of name/value pairs');
      return value.map((p, i) => {
        const o = p as Record<string, unknown> | null;
        if (
          !o ||
          typeof o !== 'object' ||
          typeof o.name !== 'string' ||
          typeof o.value !== 'string'
        ) {
          report(`${field}.${i}`, `${spec.label} entry ${i + 1} must have a name and a value.`);
          return { name: '', value: '' };
        }
        return { name: o.name, value: o.value };
      });
    }
    case 'steps': {
      if (!Array.isArray(value)) return bad('a list of steps');
      return value.map((s, i) => {
        const o = (s && typeof s === 'object' ? s : {}) as Record<string, unknown>;
        const id = typeof o.id === 'string' && o.id ? o.id : `#${i + 1}`;
        const type =
          typeof o.type === 'string' && Object.hasOwn(STEP_VARIANTS, o.type)
            ? (o.type as StepType)
            : null;
        if (!type) {
          report(`${field}.${id}.type`, `Step ${i + 1} has an unknown type.`);
          return { id, type: 'message', text: '' };
        }
        const step: Record<string, unknown> = { id, type };
        for (const [k, fs] of Object.entries(STEP_VARIANTS[type].fields))
          step[k] = normalizeField(fs, own(o, k), report, `${field}.${id}.${k}`);
        return step;
      });
    }
  }
}

function normalizeFresh(
  section: Section,
  itemId: string,
  raw: ItemJson,
  problems?: Problem[],
): ItemJson {
  const report = (field: string, message: string) =>
    problems?.push({ section, itemId, field, message, code: 'type' });
  const spec = SPECS[section];
  const out: ItemJson = {};
  // The variant (e.g. a channel's type) is normalized first: a missing or bad one becomes the
  // default, and that default's fields are the ones the item gets.
  if (spec.variantKey)
    out[spec.variantKey] = normalizeField(
      spec.fields[spec.variantKey]!,
      own(raw, spec.variantKey),
      report,
      spec.variantKey,
    );
  for (const [field, fspec] of Object.entries(fieldsOf(spec, out)))
    if (!Object.hasOwn(out, field))
      out[field] = normalizeField(fspec, own(raw, field), report, field);
  return out;
}

/** Frozen (live draft) items: their normal form and type problems, computed once per item version. */
const normalizedOnce = memoOnFrozen(
  (_raw: ItemJson) => new Map<string, { item: ItemJson; problems: Problem[] }>(),
);

/** The item with exactly its section's fields, each of the right type. A frozen item gives a frozen result. */
export function normalizeItem(
  section: Section,
  itemId: string,
  raw: ItemJson,
  problems?: Problem[],
): ItemJson {
  if (!Object.isFrozen(raw)) return normalizeFresh(section, itemId, raw, problems);
  const bySection = normalizedOnce(raw);
  const key = `${section}/${itemId}`;
  let hit = bySection.get(key);
  if (!hit) {
    const found: Problem[] = [];
    hit = { item: deepFreeze(normalizeFresh(section, itemId, raw, found)), problems: found };
    bySection.set(key, hit);
  }
  problems?.push(...hit.problems);
  return hit.item;
}

export function normalizeContent(
  content: WorkspaceContent,
  problems?: Problem[],
): WorkspaceContent {
  const out = emptyContent();
  for (const section of SECTIONS) {
    for (const [id, raw] of Object.entries(content[section] ?? {})) {
      if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
        problems?.push({
          section,
          itemId: id,
          field: '',
          message: 'This item is not an object.',
          code: 'type',
        });
        continue;
      }
      out[section][id] = normalizeItem(section, id, raw, problems);
    }
  }
  return out;
}
