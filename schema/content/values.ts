import type { VariableType } from './spec.ts';

/** Does a variable's text value parse as its type? (defaults and per-environment overrides alike) */
export function valueFitsType(type: string, v: string): boolean {
  switch (type as VariableType) {
    case 'number':
      return v.trim() !== '' && Number.isFinite(Number(v));
    case 'boolean':
      return v === 'true' || v === 'false';
    case 'url':
      return /^https?:\/\/\S+$/.test(v) && URL.canParse(v);
    case 'json':
      try {
        JSON.parse(v);
        return true;
      } catch {
        return false;
      }
    case 'string':
      return true;
    default:
      return false;
  }
}

/** The typed value the runtime gets (a number as a number, JSON parsed); '' stays ''. */
export function typedValue(type: string, v: string): unknown {
  if (v === '' && type !== 'string') return null;
  if (type === 'number') return Number(v);
  if (type === 'boolean') return v === 'true';
  if (type === 'json') return JSON.parse(v) as unknown;
  return v;
}

/** A variable type in words, for people. */
const TYPE_WORDS: Record<VariableType, string> = {
  string: 'text',
  number: 'a number',
  boolean: 'true or false',
  url: 'a URL',
  json: 'JSON',
};

/**
 * Why an environment's override does not fit its variable as the given content declares it, or
 * null when it fits ('' means "use the default" and always fits). Checked where the value is
 * read (delivery, the board, the variables view), so a Sync that changes a type re-judges every
 * override at once. The reason never quotes the value: an override may be a credential-like
 * string, and reasons reach answers that logs and dashboards keep.
 */
export function overrideProblem(type: string, value: string): string | null {
  if (value === '' || valueFitsType(type, value)) return null;
  const words = Object.hasOwn(TYPE_WORDS, type)
    ? TYPE_WORDS[type as VariableType]
    : `of type ${type}`;
  return `Override no longer fits: the variable is now ${words}.`;
}
