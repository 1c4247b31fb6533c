/**
 * An email address, checked by a hand-written scanner in one pass. Patterns for addresses
 * backtrack (`^[^@\s]+@[^@\s]+\.[^@\s]+$` is quadratic on `a@` followed by dots: 98 KB took 5 s),
 * and the length is checked before anything else.
 *
 * The rule is a practical one (like zod's): a local part of letters, digits and `_ ' + -` in
 * dot-separated runs, then `@`, then two or more dot-separated labels of letters, digits and `-`
 * (not starting with `-`), the last one two or more letters.
 */
export const EMAIL_MAX = 254;

const isLetter = (c: number) => (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
const isDigit = (c: number) => c >= 0x30 && c <= 0x39;
/** Letters, digits and _ ' + - */
const isLocalChar = (c: number) =>
  isLetter(c) || isDigit(c) || c === 0x5f || c === 0x27 || c === 0x2b || c === 0x2d;
const DOT = 0x2e;
const HYPHEN = 0x2d;

export function isEmailAddress(text: string): boolean {
  if (text.length > EMAIL_MAX) return false;
  const at = text.indexOf('@');
  if (at < 1) return false;
  // Local part: runs of allowed characters separated by single dots, not ending in `'`.
  let previous = DOT;
  for (let i = 0; i < at; i++) {
    const c = text.charCodeAt(i);
    if (c === DOT) {
      if (previous === DOT) return false;
    } else if (!isLocalChar(c)) return false;
    previous = c;
  }
  if (previous === DOT || previous === 0x27) return false;
  // Domain: labels separated by single dots; the last one letters only, at least two.
  let labels = 0;
  let labelStart = at + 1;
  for (let i = at + 1; i <= text.length; i++) {
    const c = i === text.length ? DOT : text.charCodeAt(i);
    if (c === DOT) {
      if (i === labelStart || text.charCodeAt(labelStart) === HYPHEN) return false;
      labels++;
      if (i === text.length) {
        if (labels < 2 || i - labelStart < 2) return false;
        for (let k = labelStart; k < i; k++) if (!isLetter(text.charCodeAt(k))) return false;
      }
      labelStart = i + 1;
    } else if (!isLetter(c) && !isDigit(c) && c !== HYPHEN) return false;
  }
  return true;
}
