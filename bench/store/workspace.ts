import * as Y from 'yjs';
import { sampleContent } from '#schema/content/sample.ts';
import { applyContent, type WorkspaceContent } from '#schema/content/ydoc.ts';

/** A workspace of `articles` knowledge articles (~2.4 KB each) on top of the sample: 2,000 make ~5 MB. */
export function bigWorkspace(articles: number): WorkspaceContent {
  const c = sampleContent();
  // Audiences are environment-local: the bench's projects have none, so the content names none.
  for (const s of ['agents', 'knowledge'] as const)
    for (const item of Object.values(c[s])) item.audiences = [];
  for (let i = 0; i < articles; i++) {
    c.knowledge[`kb_${String(i).padStart(5, '0')}`] = {
      title: `Article ${i}`,
      body: `# Article ${i}\n\n${`Line ${i}: the quick brown fox jumps over the lazy dog, then checks the refund policy twice. `.repeat(26)}`,
      tags: ['bench', `group-${i % 20}`],
      audiences: [],
    };
  }
  return c;
}

/** The same workspace as one Yjs update (what a client would hold). */
export function bigWorkspaceUpdate(articles: number): Uint8Array {
  const doc = new Y.Doc();
  applyContent(doc, bigWorkspace(articles));
  return Y.encodeStateAsUpdate(doc);
}
