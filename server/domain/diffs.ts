import { AppError } from '#schema/errors.ts';
import {
  buildDiff,
  diffTrees,
  onlySections,
  type ContentDiff,
  type Tree,
} from '#schema/content/diff.ts';
import { SECTIONS, SPECS, type Section } from '#schema/content/spec.ts';
import { fieldSpec, referencedIds, type Names } from '#schema/content/present.ts';
import { canonicalJson } from '#schema/content/canonical.ts';
import type { ItemJson } from '#schema/content/ydoc.ts';
import { heldSections } from '#schema/flow.ts';
import type { DraftRow, EnvironmentRow, ProjectStore } from '../store/projects.ts';
import type { SnapshotStore } from '../store/snapshots.ts';
import type { Drafts } from './ports.ts';
import type { Snapshots } from './snapshots.ts';
import { hashTree } from '../lib/hash.ts';
import { requireDraft, requireEnvironment } from './require.ts';
import { composeShown } from '#schema/composition.ts';
import { isAuthoring } from '#schema/pipeline.ts';

/**
 * A side of a diff: `snapshot:<id>`, `env:<envId>` (its current snapshot, with the sections it
 * holds itself live from its draft; the authoring environment's is its live draft),
 * `live:<envId>` (production's live snapshot, composed the same way), or `draft:<draftId>`.
 */
interface Side {
  ref: string;
  projectId: string;
  snapshotId: string | null;
  label: string;
  /** The environment's name (env, live and draft sides). */
  environment: string | null;
  tree: Tree;
  /** The tree's address when known without hashing (a plain snapshot side: its id). */
  treeId: string | null;
  read(section: Section, id: string): Promise<ItemJson>;
}

const EMPTY_TREE: Tree = {
  agents: {},
  workflows: {},
  knowledge: {},
  integrations: {},
  channels: {},
  variables: {},
};

/** Counts per (from tree, to tree) pair; a bound keeps a busy instance's cache small. */
const COUNT_CACHE_MAX = 1024;

export function createDiffs(deps: {
  projects: ProjectStore;
  releases: SnapshotStore;
  snapshots: Snapshots;
  drafts: Pick<Drafts, 'read'>;
}) {
  const { projects, snapshots } = deps;

  async function snapshotSide(
    ref: string,
    projectId: string,
    snapshotId: string | null,
    label: string,
    environment: string | null = null,
  ): Promise<Side> {
    if (!snapshotId)
      return {
        ref,
        projectId,
        snapshotId: null,
        label,
        environment,
        tree: EMPTY_TREE,
        treeId: 'empty',
        read: async () => ({}),
      };
    const tree = await snapshots.tree(projectId, snapshotId);
    let cache: Map<string, ItemJson> | null = null;
    return {
      ref,
      projectId,
      snapshotId,
      label,
      environment,
      tree,
      treeId: snapshotId,
      // Only the blobs that differ are ever read (buildDiff asks for exactly those).
      read: async (section, id) => {
        cache ??= new Map();
        const blobId = tree[section][id]!;
        if (!cache.has(blobId))
          for (const [k, v] of await snapshots.readItems([blobId])) cache.set(k, v);
        return cache.get(blobId)!;
      },
    };
  }

  async function draftSide(
    ref: string,
    projectId: string,
    draftId: string,
    label: string,
    environment: string,
  ): Promise<Side> {
    const content = await deps.drafts.read(draftId);
    return {
      ref,
      projectId,
      snapshotId: null,
      label,
      environment,
      tree: snapshots.treeOfContent(content),
      treeId: null,
      read: async (s, id) => content[s][id]!,
    };
  }

  /** An environment's side: what it shows (schema/composition.ts), as a tree of item addresses. */
  async function environmentSide(
    ref: string,
    env: EnvironmentRow,
    draft: DraftRow | undefined,
    snapshotId: string | null,
    label: string,
  ): Promise<Side> {
    const side = await snapshotSide(ref, env.projectId, snapshotId, label, env.name);
    const rules = await projects.flowRules(env.projectId);
    const held = heldSections(rules);
    if (held.length === 0) return side;
    const own = draft ? await draftSide(ref, env.projectId, draft.id, label, env.name) : null;
    const tree = composeShown(rules, side.tree, own?.tree ?? null, () => ({}));
    return {
      ...side,
      tree,
      treeId: null,
      read: async (s, id) => (held.includes(s) ? await own!.read(s, id) : await side.read(s, id)),
    };
  }

  function parse(ref: string): [string, string] {
    const [kind, id] = ref.split(':') as [string, string | undefined];
    if (!id)
      throw new AppError(
        'invalid_body',
        `“${ref}” is not a diff side: use snapshot:<id>, env:<envId>, live:<envId> or draft:<draftId>.`,
      );
    return [kind, id];
  }

  /** A side's project; a snapshot id alone does not say (equal content has one id in every project). */
  async function projectOf(ref: string): Promise<string | null> {
    const [kind, id] = parse(ref);
    if (kind === 'snapshot') return null;
    if (kind === 'draft') return (await projects.getDraft(id))?.draft.projectId ?? null;
    return (await projects.getEnvironment(id))?.environment.projectId ?? null;
  }

  async function resolve(ref: string, projectId: string): Promise<Side> {
    const [kind, id] = parse(ref);
    if (kind === 'snapshot') {
      if (!(await deps.releases.getSnapshot(projectId, id)))
        throw new AppError('snapshot_not_found');
      return await snapshotSide(ref, projectId, id, `snapshot ${id.slice(0, 8)}`);
    }
    if (kind === 'draft') {
      const d = await requireDraft(projects, id);
      return await draftSide(
        ref,
        d.draft.projectId,
        id,
        `${d.environment.name} draft`,
        d.environment.name,
      );
    }
    const { environment: env, draft } = await requireEnvironment(projects, id);
    if (kind === 'env') {
      if (isAuthoring(env) && draft)
        return await draftSide(ref, env.projectId, draft.id, `${env.name} (draft)`, env.name);
      return await environmentSide(ref, env, draft, env.snapshotId, env.name);
    }
    if (kind === 'live')
      return await environmentSide(ref, env, draft, env.liveSnapshotId, `${env.name} (live)`);
    throw new AppError('invalid_body', `Unknown diff side “${kind}”.`);
  }

  const countCache = new Map<string, Record<Section, number>>();
  /**
   * A composed or draft tree is addressed like a snapshot (hash of its canonical JSON): equal trees
   * share a cache entry.
   */
  const addressOfTree = (side: Side) => side.treeId ?? hashTree(canonicalJson(side.tree));

  return {
    projectOf,
    /**
     * How many items differ per section (added, removed or changed), from the trees alone: item
     * addresses are compared and no blob is read or line-diffed, so the board costs the same for
     * two 16,000-line texts as for two words. Cached per (from, to) tree pair.
     */
    async counts(
      fromRef: string,
      toRef: string,
      projectId: string,
      sections: readonly Section[] = SECTIONS,
    ): Promise<{ counts: Record<Section, number>; total: number }> {
      const from = await resolve(fromRef, projectId);
      const to = await resolve(toRef, projectId);
      if (from.projectId !== to.projectId)
        throw new AppError('invalid_body', 'Both sides of a diff must be in the same project.');
      const key = `${addressOfTree(from)}>${addressOfTree(to)}`;
      let all = countCache.get(key);
      if (!all) {
        const delta = diffTrees(from.tree, to.tree);
        all = Object.fromEntries(
          SECTIONS.map((s) => [
            s,
            delta[s].added.length + delta[s].removed.length + delta[s].changed.length,
          ]),
        ) as Record<Section, number>;
        if (countCache.size >= COUNT_CACHE_MAX) countCache.delete(countCache.keys().next().value!);
        countCache.set(key, all);
      }
      const counts = Object.fromEntries(
        SECTIONS.map((s) => [s, sections.includes(s) ? all[s] : 0]),
      ) as Record<Section, number>;
      return { counts, total: Object.values(counts).reduce((a, b) => a + b, 0) };
    },
    /**
     * A diff within `projectId` (snapshot sides are that project's), limited to `sections` when
     * given (what a Sync carries). `names`: the names of the items its changed fields reference,
     * each looked up on the side the value belongs to (an id found on neither is dangling): only
     * ids the diff's own fields hold, from sides the caller may already read.
     */
    async diff(
      fromRef: string,
      toRef: string,
      projectId: string,
      sections?: readonly Section[],
    ): Promise<{
      from: Omit<Side, 'tree' | 'read' | 'treeId'>;
      to: Omit<Side, 'tree' | 'read' | 'treeId'>;
      diff: ContentDiff;
      names: { before: Names; after: Names };
    }> {
      const from = await resolve(fromRef, projectId);
      const to = await resolve(toRef, projectId);
      if (from.projectId !== to.projectId)
        throw new AppError('invalid_body', 'Both sides of a diff must be in the same project.');
      // The items that differ, read before the (synchronous) diff is built from them.
      const delta = diffTrees(from.tree, to.tree);
      const items = { before: new Map<string, ItemJson>(), after: new Map<string, ItemJson>() };
      for (const s of SECTIONS) {
        const d = delta[s];
        for (const id of [...d.removed, ...d.changed])
          items.before.set(`${s}/${id}`, await from.read(s, id));
        for (const id of [...d.added, ...d.changed])
          items.after.set(`${s}/${id}`, await to.read(s, id));
      }
      const whole = buildDiff(delta, (side, s, id) => items[side].get(`${s}/${id}`)!);
      const diff = sections ? onlySections(whole, sections) : whole;
      const strip = ({ ref, projectId, snapshotId, label, environment }: Side) => ({
        ref,
        projectId,
        snapshotId,
        label,
        environment,
      });
      return { from: strip(from), to: strip(to), diff, names: await namesOf(diff, from, to) };
    },
  };
}

/** The names of the items a diff's fields reference, per side (see `diff`). */
async function namesOf(
  diff: ContentDiff,
  from: Side,
  to: Side,
): Promise<{ before: Names; after: Names }> {
  const before = new Map<Section, Set<string>>();
  const after = new Map<Section, Set<string>>();
  for (const s of SECTIONS)
    for (const item of diff.sections[s])
      for (const f of item.fields) {
        const spec = fieldSpec(s, f.field);
        referencedIds(spec, f.before, before);
        referencedIds(spec, f.after, after);
      }
  const look = async (side: Side, ids: Map<Section, Set<string>>): Promise<Names> => {
    const out: Names = {};
    for (const [s, set] of ids) {
      const names: Record<string, string> = {};
      for (const id of set)
        if (Object.hasOwn(side.tree[s], id))
          names[id] = String((await side.read(s, id))[SPECS[s].nameField] ?? '') || '(untitled)';
      out[s] = names;
    }
    return out;
  };
  return { before: await look(from, before), after: await look(to, after) };
}

export type Diffs = ReturnType<typeof createDiffs>;
