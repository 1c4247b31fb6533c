import { sampleContent } from '#schema/content/sample.ts';
import type { WorkspaceContent } from '#schema/content/ydoc.ts';

/** Hostile content for the linear-validation and bounded-diff tests (SEC-5, SEC-6). */
const MB = 1 << 20;
/** `unit` repeated to (about) `bytes`. */
const fill = (unit: string, bytes: number) => unit.repeat(Math.ceil(bytes / unit.length));

/**
 * Texts of about `bytes` that made the old patterns backtrack: a `{{` followed by a long run of
 * spaces (the `\s*…\s*` of the template pattern), runs of braces, unclosed references.
 */
export function adversarialTexts(bytes = MB): Record<string, string> {
  return {
    'braces then spaces': `{{${fill(' ', bytes)}`,
    'braces and spaces, repeated': fill(`{{${' '.repeat(4000)}x`, bytes),
    'spaces, a name, spaces, no close': `{{${' '.repeat(bytes / 2)}name${' '.repeat(bytes / 2)}}`,
    'runs of braces': fill('{{{{', bytes),
    'unclosed references': fill('{{a ', bytes),
    'closing braces': fill('}}', bytes),
  };
}

/** Addresses of about `bytes` with long runs for the email patterns. */
export function adversarialAddresses(bytes = MB): Record<string, string> {
  return {
    'dots after the at': `a@${fill('.', bytes)}@`,
    'a@a.a…': `a@${fill('a.', bytes)}`,
    'local part of dots': `${fill('a.', bytes)}@`,
  };
}

/**
 * The sample content with an agent's instructions and behavior, an article's body, its tags, an
 * email channel's address and a widget's domains set to hostile text.
 */
export function hostileContent(text: string, address: string): WorkspaceContent {
  const c = sampleContent();
  const agent = Object.values(c.agents)[0]!;
  agent.instructions = text;
  agent.behavior = text;
  const article = Object.values(c.knowledge)[0]!;
  article.body = text;
  article.tags = [address];
  Object.values(c.channels).find((ch) => ch.type === 'email')!.address = address;
  Object.values(c.channels).find((ch) => ch.type === 'web_widget')!.allowedDomains = [address];
  return c;
}

/** `count` numbered lines, each starting with `tag` (two tags share no line). */
export const numberedLines = (tag: string, count: number) =>
  Array.from({ length: count }, (_, i) => `${tag} line ${i}`).join('\n');

/** How long `run` takes (ms), and what it gave. */
export async function timed<T>(run: () => T | Promise<T>): Promise<{ ms: number; result: T }> {
  const t = performance.now();
  const result = await run();
  return { ms: performance.now() - t, result };
}
