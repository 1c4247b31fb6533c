import { SECTIONS, SPECS, STEP_VARIANTS, fieldsOf, type Section, type StepType } from './spec.ts';
import { canonicalContent } from './canonical.ts';
import { validateContent, type Problem } from './validate.ts';
import type { WorkspaceContent } from './ydoc.ts';
import { ITEM_ID, isPrototypeName } from './ids.ts';

/** The export file: the draft's canonical content with a small envelope. */
export const FILE_FORMAT = 'stagecoach.workspace';
export const FILE_VERSION = 1;

export interface WorkspaceFile {
  format: typeof FILE_FORMAT;
  version: typeof FILE_VERSION;
  exportedAt: string;
  source?: { project?: string; environment?: string };
  content: WorkspaceContent;
}

export function toWorkspaceFile(
  content: WorkspaceContent,
  source: WorkspaceFile['source'],
  now = new Date(),
): WorkspaceFile {
  return {
    format: FILE_FORMAT,
    version: FILE_VERSION,
    exportedAt: now.toISOString(),
    source,
    content: canonicalContent(content),
  };
}

export type ParsedFile =
  { ok: true; content: WorkspaceContent; problems: Problem[] } | { ok: false; errors: string[] };

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Reads an export file (or bare content) strictly: unknown sections or fields and values of
 * the wrong type are errors, so nothing in a file is silently dropped. Content problems
 * (missing fields, broken references) are returned for the user to see; they do not block.
 */
export function parseWorkspaceFile(data: unknown): ParsedFile {
  const errors: string[] = [];
  if (!isObject(data)) return { ok: false, errors: ['The file does not hold a JSON object.'] };
  let content: unknown = data;
  if ('format' in data || 'content' in data) {
    if (data.format !== FILE_FORMAT)
      errors.push(`This is not a Stagecoach workspace file (format should be "${FILE_FORMAT}").`);
    if (data.version !== FILE_VERSION)
      errors.push(
        `Unsupported file version ${JSON.stringify(data.version)} (this Stagecoach reads version ${FILE_VERSION}).`,
      );
    content = data.content;
  }
  if (!isObject(content))
    return { ok: false, errors: [...errors, 'The file has no workspace content.'] };
  for (const key of Object.keys(content))
    if (!SECTIONS.includes(key as Section)) errors.push(`Unknown section "${key}".`);
  for (const section of SECTIONS) {
    const items = content[section] ?? {};
    if (!isObject(items)) {
      errors.push(`Section ${section} must be an object of items keyed by id.`);
      continue;
    }
    for (const [id, item] of Object.entries(items)) {
      if (!ITEM_ID.test(id))
        errors.push(
          `${section}: item id "${id.slice(0, 70)}" must be 1–64 letters, digits, _ or -.`,
        );
      else if (isPrototypeName(id)) errors.push(`${section}: item id "${id}" is a reserved name.`);
      if (!isObject(item)) {
        errors.push(`${section}/${id} is not an object.`);
        continue;
      }
      const known = fieldsOf(SPECS[section], item);
      for (const key of Object.keys(item))
        if (!Object.hasOwn(known, key)) errors.push(`${section}/${id}: unknown field "${key}".`);
      if (section === 'workflows' && Array.isArray(item.steps)) {
        item.steps.forEach((step: unknown, i) => {
          if (!isObject(step)) return;
          if (typeof step.type !== 'string' || !Object.hasOwn(STEP_VARIANTS, step.type)) return;
          const variant = STEP_VARIANTS[step.type as StepType];
          for (const key of Object.keys(step))
            if (key !== 'id' && key !== 'type' && !Object.hasOwn(variant.fields, key))
              errors.push(`${section}/${id}: step ${i + 1} has an unknown field "${key}".`);
        });
      }
    }
  }
  if (errors.length > 0) return { ok: false, errors };
  const full = Object.fromEntries(
    SECTIONS.map((s) => [s, (content as Record<string, unknown>)[s] ?? {}]),
  ) as WorkspaceContent;
  const problems = validateContent(full);
  const malformed = problems.filter((p) => p.code === 'type');
  if (malformed.length > 0)
    return { ok: false, errors: malformed.map((p) => `${p.section}/${p.itemId}: ${p.message}`) };
  return { ok: true, content: canonicalContent(full), problems };
}
