/** `{{name}}` references in templates. Spaces inside the braces are allowed: `{{ name }}`. */
const REFERENCE = /\{\{\s*([^{}\s]*)\s*\}\}/g;

export function templateReferences(text: string): string[] {
  return [...text.matchAll(REFERENCE)].map((m) => m[1]!);
}

/** True when a `{{` has no closing `}}` (or the reverse), e.g. `Hello {{name`. */
export function hasUnbalancedBraces(text: string): boolean {
  const stripped = text.replace(REFERENCE, '');
  return stripped.includes('{{') || stripped.includes('}}');
}
