import { AppError } from '#schema/errors.ts';
import { SECTIONS, type Section } from '#schema/content/spec.ts';
import { canonicalContent, canonicalJson } from '#schema/content/canonical.ts';
import { normalizeItem } from '#schema/content/normalize.ts';
import { memoOnFrozen } from '#schema/content/frozen.ts';
import { problemsJson, validateContent } from '#schema/content/validate.ts';
import { treeOf, type Tree } from '#schema/content/diff.ts';
import { emptyContent, type ItemJson, type WorkspaceContent } from '#schema/content/ydoc.ts';
import { emptySection } from '#schema/content/ids.ts';
import type { SnapshotStore, SnapshotRow } from '../store/snapshots.ts';
import { hashItem, hashTree } from '../lib/hash.ts';
import type { SnapshotMeta } from '#schema/api.ts';

export const metaOf = (r: SnapshotRow): SnapshotMeta => ({
  id: r.id,
  kind: r.kind,
  parentId: r.parentId,
  sourceDraftId: r.sourceDraftId,
  message: r.message,
  createdBy: r.createdBy,
  createdAt: new Date(r.createdAt).toISOString(),
});

/** An item's canonical JSON and blob id; computed once per frozen (live draft) item version. */
const addressed = memoOnFrozen((item: ItemJson) => {
  const json = canonicalJson(item);
  return { json, blobId: hashItem(json) };
});

/** Content address of one (already normalized) item. */
export const addressOf = (section: Section, item: ItemJson): string =>
  addressed(normalizeItem(section, '', item)).blobId;

/** An item as the blob it would be stored as: `{id, json}` (memoized for live draft items). */
export const itemBlob = (section: Section, item: ItemJson): { id: string; json: string } => {
  const { json, blobId } = addressed(normalizeItem(section, '', item));
  return { id: blobId, json };
};

export function createSnapshots(store: SnapshotStore) {
  async function loadRow(projectId: string, id: string): Promise<SnapshotRow> {
    const row = await store.getSnapshot(projectId, id);
    if (!row) throw new AppError('snapshot_not_found');
    return row;
  }

  /** The snapshot's tree, after checking that it hashes to the snapshot's id. */
  async function tree(projectId: string, id: string): Promise<Tree> {
    const row = await loadRow(projectId, id);
    if (hashTree(row.tree) !== row.id) throw new AppError('snapshot_corrupt');
    return JSON.parse(row.tree) as Tree;
  }

  /** Reads blobs by id, checking each against its address. */
  async function readItems(ids: readonly string[]): Promise<Map<string, ItemJson>> {
    const raw = await store.getBlobs([...new Set(ids)]);
    const out = new Map<string, ItemJson>();
    for (const id of new Set(ids)) {
      const json = raw.get(id);
      if (json === undefined || hashItem(json) !== id) throw new AppError('snapshot_corrupt');
      out.set(id, JSON.parse(json) as ItemJson);
    }
    return out;
  }

  return {
    tree,
    readItems,

    /**
     * Freezes content: validate (problems block) → canonical form → one blob per item, stored
     * only if new → a tree whose hash is the snapshot id. Equal content gives the same id.
     */
    async freeze(
      projectId: string,
      content: WorkspaceContent,
      meta: {
        kind: string;
        parentId: string | null;
        sourceDraftId: string | null;
        message: string | null;
        createdBy: string;
      },
      opts: { validate?: boolean } = {},
    ): Promise<string> {
      const problems = opts.validate === false ? [] : validateContent(content);
      if (problems.length > 0)
        throw new AppError(
          'draft_has_problems',
          `The draft has ${problems.length} problem${problems.length === 1 ? '' : 's'}: fix them before it can leave this environment.`,
          problemsJson(problems),
        );
      const canonical = canonicalContent(content);
      const blobs = new Map<string, string>();
      const t = {} as Tree;
      for (const s of SECTIONS) {
        t[s] = emptySection();
        for (const id of Object.keys(canonical[s]).sort()) {
          const { json, blobId } = addressed(canonical[s][id]!);
          blobs.set(blobId, json);
          t[s][id] = blobId;
        }
      }
      const treeJson = canonicalJson(t);
      const id = hashTree(treeJson);
      if (!(await store.getSnapshot(projectId, id))) {
        // Every blob of the tree: the store looks which are there inside its own transaction
        // (PG-19), so a retention commit since any earlier look cannot leave one out, even when
        // this freeze runs outside `atomically` and nothing would run it again.
        await store.putSnapshot(
          {
            projectId,
            id,
            tree: treeJson,
            kind: meta.kind,
            parentId: meta.parentId,
            sourceDraftId: meta.sourceDraftId,
            message: meta.message,
            createdBy: meta.createdBy,
            createdAt: Date.now(),
          },
          [...blobs].map(([b, json]) => ({ id: b, json })),
        );
      }
      return id;
    },

    /**
     * One section's items as a snapshot of their own (history records of replications and pulls:
     * the section before and after). Not validated: a half-written article still flows.
     */
    async freezeSection(
      projectId: string,
      section: Section,
      items: Record<string, ItemJson>,
      meta: {
        kind: string;
        sourceDraftId: string | null;
        message: string | null;
        createdBy: string;
      },
    ): Promise<string> {
      const content = emptyContent();
      content[section] = items;
      return await this.freeze(
        projectId,
        content,
        { ...meta, parentId: null },
        { validate: false },
      );
    },

    /** The id this content would freeze to, without storing anything. */
    idOf(content: WorkspaceContent): string {
      const canonical = canonicalContent(content);
      const t = {} as Tree;
      for (const s of SECTIONS) {
        t[s] = emptySection();
        for (const id of Object.keys(canonical[s]).sort())
          t[s][id] = addressed(canonical[s][id]!).blobId;
      }
      return hashTree(canonicalJson(t));
    },

    /** Whether the project stores this snapshot. */
    async exists(projectId: string, id: string): Promise<boolean> {
      return (await store.getSnapshot(projectId, id)) !== undefined;
    },

    async meta(projectId: string, id: string): Promise<SnapshotMeta> {
      return metaOf(await loadRow(projectId, id));
    },

    /** The content of a snapshot (only `sections`, if given: only their blobs are read), verified. */
    async content(
      projectId: string,
      id: string,
      sections: readonly Section[] = SECTIONS,
    ): Promise<WorkspaceContent> {
      const t = await tree(projectId, id);
      const items = await readItems(sections.flatMap((s) => Object.values(t[s] ?? {})));
      const out = emptyContent();
      for (const s of sections)
        for (const [itemId, blobId] of Object.entries(t[s] ?? {}))
          out[s][itemId] = items.get(blobId)!;
      return out;
    },

    /** The tree a piece of live content would have (for diffs against a draft). */
    treeOfContent(content: WorkspaceContent): Tree {
      return treeOf(content, addressOf);
    },
  };
}

export type Snapshots = ReturnType<typeof createSnapshots>;
