import * as Y from 'yjs';
import { SECTIONS, SPECS, type Section } from './spec.ts';
import { canonicalJson } from './canonical.ts';
import { normalizeItem } from './normalize.ts';
import {
  itemJson,
  newItem,
  patchItem,
  sectionMap,
  type ItemJson,
  type WorkspaceContent,
} from './ydoc.ts';
import { own } from './ids.ts';

/**
 * One change a hotfix made in production, at field level: an item added or removed, or one
 * field of an item set to a new value. Tracked as divergence until DEV holds the same value.
 */
export interface HotfixChange {
  section: Section;
  itemId: string;
  name: string;
  kind: 'added' | 'removed' | 'changed';
  /** The changed field (kind `changed`). */
  field: string | null;
  /** The hotfix's value: the whole item (added), the field's value (changed), null (removed). */
  value: unknown;
}

const norm = (s: Section, id: string, item: ItemJson | undefined) =>
  item ? normalizeItem(s, id, item) : undefined;
const same = (a: unknown, b: unknown) => canonicalJson(a ?? null) === canonicalJson(b ?? null);

/** What a hotfix changed: `fixed` compared with the live snapshot it was forked from. */
export function hotfixChanges(base: WorkspaceContent, fixed: WorkspaceContent): HotfixChange[] {
  const out: HotfixChange[] = [];
  for (const section of SECTIONS) {
    const nameField = SPECS[section].nameField;
    const ids = new Set([...Object.keys(base[section]), ...Object.keys(fixed[section])]);
    for (const itemId of [...ids].sort()) {
      const before = norm(section, itemId, own(base[section], itemId));
      const after = norm(section, itemId, own(fixed[section], itemId));
      if (!before && after)
        out.push({
          section,
          itemId,
          name: String(after[nameField]),
          kind: 'added',
          field: null,
          value: after,
        });
      else if (before && !after)
        out.push({
          section,
          itemId,
          name: String(before[nameField]),
          kind: 'removed',
          field: null,
          value: null,
        });
      else if (before && after) {
        for (const field of new Set([...Object.keys(before), ...Object.keys(after)])) {
          if (!same(before[field], after[field]))
            out.push({
              section,
              itemId,
              name: String(after[nameField]),
              kind: 'changed',
              field,
              value: after[field] ?? null,
            });
        }
      }
    }
  }
  return out;
}

/** Does `content` hold what the change set? */
export function contains(content: WorkspaceContent, c: HotfixChange): boolean {
  const item = norm(c.section, c.itemId, own(content[c.section], c.itemId));
  if (c.kind === 'removed') return item === undefined;
  if (!item) return false;
  if (c.kind === 'added') return same(item, c.value);
  return same(item[c.field!], c.value);
}

/** The changes `content` does not hold: divergence against DEV, or what a promotion would undo. */
export const missingFrom = (
  content: WorkspaceContent,
  changes: readonly HotfixChange[],
): HotfixChange[] => changes.filter((c) => !contains(content, c));

/** Applies exactly these changes to a draft, in ONE transaction ("Apply to DEV"). */
export function applyHotfixChanges(
  doc: Y.Doc,
  changes: readonly HotfixChange[],
  origin: unknown = null,
): void {
  doc.transact(() => {
    for (const c of changes) {
      const items = sectionMap(doc, c.section);
      const existing = items.get(c.itemId);
      if (c.kind === 'removed') items.delete(c.itemId);
      else if (c.kind === 'added') {
        if (existing instanceof Y.Map) patchItem(c.section, existing, c.value as ItemJson);
        else items.set(c.itemId, newItem(c.section, c.value as ItemJson));
      } else if (existing instanceof Y.Map) {
        patchItem(c.section, existing, { ...itemJson(existing), [c.field!]: c.value });
      }
      // A field change to an item DEV has since removed cannot be applied; it stays listed.
    }
  }, origin);
}
