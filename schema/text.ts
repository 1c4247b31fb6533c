import { z } from 'zod';

/** A control character (`\p{Cc}`) other than tab, line feed and carriage return. */
const CONTROL = /(?![\t\n\r])\p{Cc}/u;

/** Why `text` cannot be stored as free text (PG-182), or null. */
export function controlCharacterProblem(text: string): string | null {
  const found = CONTROL.exec(text);
  if (!found) return null;
  const code = `U+${found[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
  const position = [...text.slice(0, found.index)].length + 1;
  return `Text may not hold a control character (${code}, character ${position}): type it again without it.`;
}

/**
 * Free text in a request body (messages, comments, feedback, criteria, values) (PG-182): any
 * characters but the controls other than tab, line feed and carriage return. NUL in particular:
 * SQLite would store it, PostgreSQL refuses it, so a row holding it could never be moved to
 * PostgreSQL (a release message is inside the hash chain and cannot be edited). Refused as
 * `invalid_body` with the character and its place, on either database.
 */
export function plainText(): z.ZodString {
  return z.string().superRefine((text, ctx) => {
    const problem = controlCharacterProblem(text);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });
}
