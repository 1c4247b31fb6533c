import {
  SECTIONS,
  SPECS,
  STEP_VARIANTS,
  SYSTEM_VARIABLES,
  VARIABLE_TYPES,
  fieldsOf,
  type FieldSpec,
  type Section,
  type StepType,
  type VariableType,
} from './spec.ts';
import { valueFitsType } from './values.ts';
import { normalizeContent, type Problem } from './normalize.ts';
import { readTemplate } from './templates.ts';
import type { ItemJson, WorkspaceContent } from './ydoc.ts';

export type { Problem } from './normalize.ts';

const COLOR = /^#[0-9a-f]{6}$/i;
const HEADER_NAME = /^[A-Za-z0-9-]{1,100}$/;

/** A user's text inside a message, cut short: a problem message should not carry a megabyte. */
const quoted = (text: string): string => (text.length > 80 ? `${text.slice(0, 80)}…` : text);

interface Context {
  content: WorkspaceContent;
  variableNames: Set<string>;
  /** Sections not in place yet (a stage before its first Sync): references into them are not judged. */
  notArrived: readonly Section[];
  out: Problem[];
}

function valueProblems(
  ctx: Context,
  section: Section,
  itemId: string,
  path: string,
  spec: FieldSpec,
  value: unknown,
): void {
  const add = (code: Problem['code'], message: string): void =>
    void ctx.out.push({ section, itemId, field: path, message, code });
  const label = spec.label;
  switch (spec.kind) {
    case 'string':
    case 'text': {
      const s = value as string;
      if (spec.required && s.trim() === '') return add('required', `${label} is required.`);
      // Length first: a pattern never sees more than the field may hold.
      if (spec.max !== undefined && s.length > spec.max)
        return add('too_long', `${label} is too long (at most ${spec.max} characters).`);
      if (spec.kind === 'string' && spec.pattern && s !== '' && !spec.pattern.test(s))
        add('invalid', `${label} must be ${spec.patternHint ?? 'valid'}.`);
      if (spec.kind === 'text' && spec.template) templateProblems(ctx, s, label, add);
      return;
    }
    case 'enum':
      if (!spec.values.includes(value as string))
        add('invalid', `${label} must be one of: ${spec.values.join(', ')}.`);
      return;
    case 'number': {
      const n = value as number;
      if (n < spec.min || n > spec.max)
        add(
          'invalid',
          `${label} must be between ${spec.min} and ${spec.max}${spec.unit ? ` ${spec.unit}` : ''}.`,
        );
      else if (spec.integer && !Number.isInteger(n))
        add('invalid', `${label} must be a whole number.`);
      return;
    }
    case 'color':
      if (!COLOR.test(value as string)) add('invalid', `${label} must be a color like #1d4ed8.`);
      return;
    case 'list': {
      const seen = new Set<string>();
      for (const entry of value as string[]) {
        if (entry.trim() === '') add('invalid', `${label} has an empty ${spec.itemLabel}.`);
        else if (spec.pattern && !spec.pattern.test(entry))
          add(
            'invalid',
            `“${quoted(entry)}” is not a valid ${spec.itemLabel} (${spec.patternHint ?? 'invalid'}).`,
          );
        if (seen.has(entry)) add('duplicate', `${label} lists “${quoted(entry)}” twice.`);
        seen.add(entry);
      }
      return;
    }
    case 'refs':
      if (ctx.notArrived.includes(spec.to)) return;
      for (const id of value as string[]) {
        if (!Object.hasOwn(ctx.content[spec.to], id))
          add(
            'reference',
            `${label} refers to a ${SPECS[spec.to].noun} that does not exist (was it removed?).`,
          );
      }
      return;
    case 'ref': {
      const id = value as string;
      if (id === '') {
        if (spec.required) add('required', `${label} is required.`);
      } else if (!ctx.notArrived.includes(spec.to) && !Object.hasOwn(ctx.content[spec.to], id)) {
        add(
          'reference',
          `${label} refers to a ${SPECS[spec.to].noun} that does not exist (was it removed?).`,
        );
      }
      return;
    }
    case 'pairs':
      (value as { name: string; value: string }[]).forEach((pair, i) => {
        const at = (code: Problem['code'], message: string) =>
          ctx.out.push({ section, itemId, field: `${path}.${i}`, message, code });
        if (!HEADER_NAME.test(pair.name))
          at('invalid', `${label} ${i + 1}: the name must be letters, digits and -.`);
        templateProblems(ctx, pair.value, `${label} ${i + 1}`, at);
      });
      return;
    case 'steps': {
      const steps = value as Record<string, unknown>[];
      const ids = new Set<string>();
      steps.forEach((step, i) => {
        const id = step.id as string;
        if (ids.has(id))
          ctx.out.push({
            section,
            itemId,
            field: `${path}.${id}`,
            message: `Step ${i + 1} has the same id as an earlier step.`,
            code: 'duplicate',
          });
        ids.add(id);
      });
      steps.forEach((step, i) => {
        const type = step.type as StepType;
        for (const [field, fspec] of Object.entries(STEP_VARIANTS[type].fields)) {
          const before = ctx.out.length;
          valueProblems(
            ctx,
            section,
            itemId,
            `${path}.${step.id as string}.${field}`,
            fspec,
            step[field],
          );
          for (const p of ctx.out.slice(before)) p.message = `Step ${i + 1}: ${p.message}`;
        }
        const target = step.thenStep as string | undefined;
        if (type === 'condition' && target && (!ids.has(target) || target === step.id)) {
          ctx.out.push({
            section,
            itemId,
            field: `${path}.${step.id as string}.thenStep`,
            message: `Step ${i + 1}: jumps to a step that is not in this workflow.`,
            code: 'reference',
          });
        }
      });
      return;
    }
  }
}

function templateProblems(
  ctx: Context,
  text: string,
  label: string,
  add: (code: Problem['code'], message: string) => void,
): void {
  const { references, unbalanced } = readTemplate(text);
  if (unbalanced) add('template', `${label} has a {{ without a matching }} (or the reverse).`);
  if (ctx.notArrived.includes('variables')) return;
  const unknown = new Set(references.filter((name) => !ctx.variableNames.has(name)));
  for (const name of unknown) {
    add(
      'reference',
      name === ''
        ? `${label} has an empty {{ }} reference.`
        : `${label} uses {{${quoted(name)}}}, but there is no variable named “${quoted(name)}”. Create it under Variables or fix the name.`,
    );
  }
}

function itemRules(ctx: Context, section: Section, itemId: string, item: ItemJson): void {
  const add = (field: string, code: Problem['code'], message: string) =>
    ctx.out.push({ section, itemId, field, message, code });
  if (section === 'variables') {
    const v = item.defaultValue as string;
    if (v !== '') {
      const type = item.type as string;
      if (VARIABLE_TYPES.includes(type as VariableType) && !valueFitsType(type, v))
        add(
          'defaultValue',
          'invalid',
          `Default value is not a valid ${type}${type === 'boolean' ? ' (true or false)' : ''}.`,
        );
    }
  }
  if (section === 'integrations') {
    const url = (item.urlTemplate as string).trim();
    if (url !== '' && !/^https?:\/\//i.test(url) && !/^\{\{/.test(url))
      add('urlTemplate', 'invalid', 'URL must start with https:// or http://.');
    if (item.authType !== 'none' && (item.authSecret as string) === '')
      add('authSecret', 'required', 'Secret name is required for this authentication.');
    if (item.authType === 'api_key_header' && (item.authHeader as string) === '')
      add('authHeader', 'required', 'Header name is required for an API key header.');
  }
}

/**
 * Every problem in the content: malformed values (`type`), missing required fields,
 * invalid values, duplicate names, and broken references (items, steps and {{variables}}).
 * Returned in a stable order: section, then item, then field.
 *
 * `notArrived`: sections the content cannot hold yet (see `sectionsNotArrived` in flow.ts). A
 * later stage's own `down` article may name a variable that only its first Sync brings: that
 * reference is judged once the variables are there, not reported as broken before.
 */
export function validateContent(
  raw: WorkspaceContent,
  opts: { notArrived?: readonly Section[] } = {},
): Problem[] {
  const out: Problem[] = [];
  const content = normalizeContent(raw, out);
  const variableNames = new Set<string>([
    ...SYSTEM_VARIABLES,
    ...Object.values(content.variables).map((v) => v.name as string),
  ]);
  const ctx: Context = { content, variableNames, notArrived: opts.notArrived ?? [], out };

  for (const section of SECTIONS) {
    const spec = SPECS[section];
    const byName = new Map<string, string>();
    for (const [itemId, item] of Object.entries(content[section]).sort(([a], [b]) =>
      a < b ? -1 : 1,
    )) {
      for (const [field, fspec] of Object.entries(fieldsOf(spec, item)))
        valueProblems(ctx, section, itemId, field, fspec, item[field]);
      itemRules(ctx, section, itemId, item);
      const name = (item[spec.nameField] as string).trim().toLowerCase();
      if (name === '') continue;
      if (byName.has(name)) {
        out.push({
          section,
          itemId,
          field: spec.nameField,
          message: `Another ${spec.noun} is already named “${quoted(item[spec.nameField] as string)}”.`,
          code: 'duplicate',
        });
      } else byName.set(name, itemId);
    }
  }
  // A malformed value is reported once, as malformed: not also as missing or invalid, at its
  // field or under it (`steps.<id>.type` covers `steps.<id>.…`). Looked up by key, so many
  // problems or long step ids cost linear time. A problem's path can be under a malformed one
  // only at its first dot (`headers.`, `steps.`) or its last (`steps.<id>.`): step ids may hold dots.
  const key = (p: Problem, field: string) => `${p.section}\u0000${p.itemId}\u0000${field}`;
  const malformedAt = new Set<string>();
  const malformedUnder = new Set<string>();
  for (const p of out) {
    if (p.code !== 'type') continue;
    malformedAt.add(key(p, p.field));
    malformedUnder.add(
      key(p, `${p.field.endsWith('.type') ? p.field.slice(0, -'.type'.length) : p.field}.`),
    );
  }
  if (malformedAt.size === 0) return out;
  return out.filter((p) => {
    if (p.code === 'type') return true;
    if (malformedAt.has(key(p, p.field))) return false;
    const first = p.field.indexOf('.');
    const last = p.field.lastIndexOf('.');
    return (
      first === -1 ||
      !(
        malformedUnder.has(key(p, p.field.slice(0, first + 1))) ||
        malformedUnder.has(key(p, p.field.slice(0, last + 1)))
      )
    );
  });
}

/** The problems as the public API shape `{section, itemId, field, message}` (plus `code`). */
export const problemsJson = (problems: Problem[]) =>
  problems.map(({ section, itemId, field, message, code }) => ({
    section,
    itemId,
    field,
    message,
    code,
  }));
