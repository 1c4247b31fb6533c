import { z } from 'zod';

/**
 * Display names (stages, people, projects, tokens): what a reader sees must be all there is, so
 * two names that look alike cannot pass for two different things (`PRODUCTION` with a zero-width
 * space beside `PRODUCTION`).
 *
 * A name is NFC-normalized, its runs of white space become one space, and it is trimmed. It may
 * not hold control, format (`\p{Cf}`: zero-width characters, bidi controls), private-use,
 * unassigned or other default-ignorable characters (variation selectors, Hangul fillers): they
 * are refused with a message saying which one and where, never silently removed. The one
 * exception is what emoji are made of: a zero-width joiner between two pictographs (👩‍💻) and
 * the emoji variation selector after one (❤️) draw nothing of their own.
 */
const HIDDEN = /[\p{Cc}\p{Cf}\p{Co}\p{Cs}\p{Cn}\p{Default_Ignorable_Code_Point}]/gu;
const PICTOGRAPH = /\p{Extended_Pictographic}/u;
const ZWJ = '\u200d';
const EMOJI_PRESENTATION = '\ufe0f';

/** True when the hidden character at `index` is part of an emoji sequence (see above). */
function inEmoji(name: string, index: number, char: string): boolean {
  const before = [...name.slice(0, index)];
  let prev = before.at(-1) ?? '';
  if (char === EMOJI_PRESENTATION) return PICTOGRAPH.test(prev) || /^[#*0-9]$/.test(prev);
  if (char !== ZWJ) return false;
  if (prev === EMOJI_PRESENTATION || /\p{Emoji_Modifier}/u.test(prev)) prev = before.at(-2) ?? '';
  const next = String.fromCodePoint(name.codePointAt(index + 1) ?? 0);
  return PICTOGRAPH.test(prev) && PICTOGRAPH.test(next);
}
const BIDI = /\p{Bidi_Control}/u;
/** Far above any name's limit: the text is cut off before it is normalized or scanned. */
const RAW_MAX = 1000;

/** The name as it is stored and shown. */
export const normalizeName = (text: string): string =>
  text.normalize('NFC').replace(/\s+/gu, ' ').trim();

/** Why `name` (normalized) cannot be a display name, or null. */
function hiddenCharacterProblem(name: string): string | null {
  let found: RegExpExecArray | null = null;
  for (const match of name.matchAll(HIDDEN)) {
    if (inEmoji(name, match.index, match[0])) continue;
    found = match;
    break;
  }
  if (!found) return null;
  const char = found[0];
  const code = `U+${char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
  const position = [...name.slice(0, found.index)].length + 1;
  const what = BIDI.test(char)
    ? 'a character that changes the writing direction'
    : /\p{Cc}/u.test(char)
      ? 'a control character'
      : 'an invisible character';
  return `A name may not hold ${what} (${code}, character ${position}): type it again without it.`;
}

/**
 * `text` without the characters a display name may not hold (bidi controls, zero-width and other
 * invisible ones; emoji sequences are kept): for names that were never checked as display names
 * (content items' names) when they are put into a sentence, such as a notification's title.
 */
export function withoutHidden(text: string): string {
  const name = text.normalize('NFC');
  return name.replace(HIDDEN, (char: string, index: number) =>
    inEmoji(name, index, char) ? char : '',
  );
}

/**
 * The key two names are compared by: equal keys look alike. NFKC folds compatibility forms
 * (full-width letters, ligatures), and upper- then lower-casing folds case (`ß` and `SS` too).
 */
export const nameKey = (name: string): string =>
  normalizeName(name).normalize('NFKC').toUpperCase().toLowerCase().normalize('NFKC');

/** A display name in a request body: normalized, at most `max` characters, nothing hidden. */
export function displayName(max: number, required = 'A name is required.') {
  return z
    .string()
    .max(RAW_MAX, { abort: true, message: `Use at most ${max} characters.` })
    .transform(normalizeName)
    .pipe(
      z
        .string()
        .min(1, required)
        .max(max, `Use at most ${max} characters.`)
        .superRefine((name, ctx) => {
          const problem = hiddenCharacterProblem(name);
          if (problem) ctx.addIssue({ code: 'custom', message: problem });
        }),
    );
}

/** Why a stage name is refused beside another that looks like it. */
export const sameNameMessage = (name: string): string =>
  `“${name}” looks like the name of another stage of this project: stage names must differ, ignoring case and look-alike forms.`;

/** The indexes of names that look like an earlier one in the list (same `nameKey`). */
export function lookAlikes(names: readonly string[]): number[] {
  const seen = new Set<string>();
  const out: number[] = [];
  names.forEach((n, i) => {
    const key = nameKey(n);
    if (seen.has(key)) out.push(i);
    seen.add(key);
  });
  return out;
}
