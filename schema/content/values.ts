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
