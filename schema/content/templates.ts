/**
 * `{{name}}` references in templates. Spaces inside the braces are allowed: `{{ name }}`; a name
 * holds no spaces or braces.
 *
 * A hand-written scanner rather than a pattern: `/\{\{\s*([^{}\s]*)\s*\}\}/g` backtracks over every
 * run of spaces after a `{{` (quadratic: 98 KB of `{{` and spaces froze the server for seconds).
 * Here each character is looked at a bounded number of times. It finds exactly what that pattern
 * found, left to right and without overlaps.
 */

/** What JavaScript's `\s` matches, by char code. */
function isSpace(code: number): boolean {
  return (
    (code >= 0x09 && code <= 0x0d) ||
    code === 0x20 ||
    code === 0xa0 ||
    code === 0x1680 ||
    (code >= 0x2000 && code <= 0x200a) ||
    code === 0x2028 ||
    code === 0x2029 ||
    code === 0x202f ||
    code === 0x205f ||
    code === 0x3000 ||
    code === 0xfeff
  );
}

const OPEN = 0x7b; // {
const CLOSE = 0x7d; // }

/** Whether a character may be part of a reference's name (anything but a brace or a space). */
export function isNameChar(code: number): boolean {
  return code !== OPEN && code !== CLOSE && !isSpace(code);
}

export interface Reference {
  /** Where the reference starts (its `{{`) and ends (after its `}}`), as string offsets. */
  start: number;
  end: number;
  name: string;
}

/** Every reference in `text`, in order (the editor underlines broken ones where they are). */
export function findReferences(text: string): Reference[] {
  const found: Reference[] = [];
  const n = text.length;
  let i = text.indexOf('{{');
  while (i !== -1) {
    let j = i + 2;
    while (j < n && isSpace(text.charCodeAt(j))) j++;
    const nameStart = j;
    while (j < n) {
      if (!isNameChar(text.charCodeAt(j))) break;
      j++;
    }
    const nameEnd = j;
    while (j < n && isSpace(text.charCodeAt(j))) j++;
    if (text.charCodeAt(j) === CLOSE && text.charCodeAt(j + 1) === CLOSE) {
      found.push({ start: i, end: j + 2, name: text.slice(nameStart, nameEnd) });
      i = text.indexOf('{{', j + 2);
    } else {
      // No reference starts at i. The stretch just read holds no brace, so no later start can read it again.
      i = text.indexOf('{{', i + 1);
    }
  }
  return found;
}

/**
 * A template's references (in order) and whether a `{{` or `}}` is left without its pair (`Hello
 * {{name`), read in one pass.
 */
export function readTemplate(text: string): { references: string[]; unbalanced: boolean } {
  const found = findReferences(text);
  // Unbalanced: a `{{` or `}}` outside every reference (the text between references, joined, as the
  // old pattern's replace left it).
  let stripped = '';
  let from = 0;
  for (const r of found) {
    stripped += text.slice(from, r.start);
    from = r.end;
  }
  stripped += text.slice(from);
  return {
    references: found.map((r) => r.name),
    unbalanced: stripped.includes('{{') || stripped.includes('}}'),
  };
}
