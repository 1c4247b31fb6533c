import { SECTIONS } from './spec.ts';
import { normalizeContent } from './normalize.ts';
import type { WorkspaceContent } from './ydoc.ts';

// One definition, in a module with no imports (the release chain and the CLI use it too).
export { canonicalJson } from '../canonical-json.ts';

/** The content in its canonical shape: every section present, each item with exactly its fields. */
export function canonicalContent(content: WorkspaceContent): WorkspaceContent {
  const normal = normalizeContent(content);
  return Object.fromEntries(SECTIONS.map((s) => [s, normal[s]])) as WorkspaceContent;
}
