/**
 * The pure parts of the editor's authoring aids: `{{` completion of variable names, broken
 * references, and Markdown list continuation. The CodeMirror wiring is in
 * web/lib/editor/authoring.ts; what counts as a reference is schema/content/templates.ts's.
 */
import type { VariableType } from '#schema/content/spec.ts';
import { findReferences, isNameChar } from '#schema/content/templates.ts';

/** At most this many names in the completion list (the filter narrows it as one types). */
export const MAX_COMPLETIONS = 50;
/** A `{{` further back than this on the line does not open completion (bounded work per keystroke). */
const LOOK_BACK = 200;

export interface CompletionContext {
  /** Where the typed name starts (after `{{` and any spaces). */
  from: number;
  /** Where the name being replaced ends (the cursor, or past name characters after it). */
  to: number;
  /** What was typed so far after `{{`. */
  query: string;
  /** The reference is already closed (`}}` follows): choosing inserts only the name. */
  closed: boolean;
}

/**
 * Whether the cursor at `pos` in `text` is in an open `{{` reference, and what was typed after
 * it: `Hello {{us|` → query "us". Null when not in a reference (no `{{` before on the line,
 * or something that is not a name between it and the cursor).
 */
export function completionAt(text: string, pos: number): CompletionContext | null {
  let i = pos;
  const stop = Math.max(0, pos - LOOK_BACK);
  while (i > stop && isNameChar(text.charCodeAt(i - 1))) i--;
  const nameStart = i;
  while (i > stop && text.charCodeAt(i - 1) === 0x20) i--;
  if (i < 2 || text.charCodeAt(i - 1) !== 0x7b || text.charCodeAt(i - 2) !== 0x7b) return null;
  // `{{{` is not a reference start we complete.
  if (i >= 3 && text.charCodeAt(i - 3) === 0x7b) return null;
  let to = pos;
  while (to < text.length && to - pos < LOOK_BACK && isNameChar(text.charCodeAt(to))) to++;
  let after = to;
  while (after < text.length && text.charCodeAt(after) === 0x20) after++;
  const closed = text.startsWith('}}', after);
  return { from: nameStart, to, query: text.slice(nameStart, pos), closed };
}

/**
 * The names to offer for `query`, case-insensitively: names starting with it first, then names
 * containing it, each group in the given order; at most MAX_COMPLETIONS.
 */
export function filterNames(names: readonly string[], query: string): string[] {
  const q = query.toLowerCase();
  const starts: string[] = [];
  const contains: string[] = [];
  for (const name of new Set(names)) {
    const n = name.toLowerCase();
    if (n.startsWith(q)) starts.push(name);
    else if (q !== '' && n.includes(q)) contains.push(name);
  }
  return [...starts, ...contains].slice(0, MAX_COMPLETIONS);
}

export interface BrokenReference {
  from: number;
  to: number;
  /** '' for an empty `{{ }}`. */
  name: string;
}

/** The references in `text` that name no variable in `known`, where they are. */
export function brokenReferences(text: string, known: ReadonlySet<string>): BrokenReference[] {
  return findReferences(text)
    .filter((r) => !known.has(r.name))
    .map((r) => ({ from: r.start, to: r.end, name: r.name }));
}

/** A variable name the quick fix may create (the variables section's own pattern). */
export const creatableName = (name: string): boolean => /^[A-Za-z_][A-Za-z0-9_]*$/.test(name);

/** A sensible type for a new variable, from its name: `max_refund_eur` → number, `api_url` → url. */
export function guessVariableType(name: string): VariableType {
  const n = name.toLowerCase();
  if (/(^|_)(url|uri|endpoint|link|api)$/.test(n)) return 'url';
  if (/^(is|has|can|should|enable|enabled|use)_|_(enabled|on|flag)$/.test(n)) return 'boolean';
  if (
    /^(max|min|num|count)_|_(count|limit|max|min|eur|usd|amount|days|hours|minutes|seconds|percent|number)$/.test(
      n,
    )
  )
    return 'number';
  return 'string';
}

/** A Markdown list item's marker at the start of a line: indent, marker, and the space after it. */
const ITEM = /^(\s*)([-*+]|\d{1,9}[.)])(\s+)/;

/** The line is a list item with nothing after its marker (`- `, `  3. `). */
export function isEmptyItem(line: string): boolean {
  const m = ITEM.exec(line);
  return m !== null && m[0].length === line.length && !line.includes('\n');
}

/**
 * Typing `typed` at the end of `line` (the text before the cursor, nothing after it) when the line
 * is an item marker the editor just continued: if the person starts a marker of their own, theirs
 * replaces the continued one, so `- ` + `- ` stays `- ` (not `- - `). Returns the new line, or null
 * when the input is ordinary text.
 */
export function typedOverMarker(line: string, typed: string): string | null {
  const m = ITEM.exec(line);
  if (!m || m[0].length !== line.length) return null;
  if (!/^([-*+]|\d)/.test(typed)) return null;
  // A bullet typed over a bullet, a digit over a number: the person's own marker wins.
  const ordered = /\d/.test(m[2]!);
  if (ordered !== /^\d/.test(typed)) return null;
  return m[1]! + typed;
}
