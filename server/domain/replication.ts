import * as Y from 'yjs';
import { AppError } from '#schema/errors.ts';
import { SECTIONS, SPECS, type Section } from '#schema/content/spec.ts';
import { draftSections as draftSectionsOf, flowRules, type FlowRules } from '#schema/flow.ts';
import { itemFieldChanges, type FieldChange } from '#schema/content/diff.ts';
import { newItem, patchItem, sectionMap, type ItemJson } from '#schema/content/ydoc.ts';
import { canonicalJson } from '#schema/content/canonical.ts';
import { normalizeItem } from '#schema/content/normalize.ts';
import type { ProjectStore, DraftRow, EnvironmentRow } from '../store/projects.ts';
import type { ReleaseStore } from '../store/releases.ts';
import type { BaseRow, ReplicationStore } from '../store/replication.ts';
import { hashItem } from '../lib/hash.ts';
import { emptyContent, type WorkspaceContent } from '#schema/content/ydoc.ts';
import type { Snapshots } from './snapshots.ts';

export interface ConflictView {
  section: Section;
  itemId: string;
  name: string;
  /** The version upstream (null: deleted upstream). */
  upstream: ItemJson | null;
  /** This environment's version (null: deleted here). */
  local: ItemJson | null;
}

export interface PullItem {
  itemId: string;
  name: string;
  /** What taking it would do here. */
  kind: 'added' | 'changed' | 'same';
  fields: FieldChange[];
}

const DELETED = 'deleted';

/**
 * Replication of `down` sections (flow rules). Each environment below a section's source takes
 * the version of the environment just above it: Production → UAT → Staging in the three-stage
 * preset. A receiving draft that edits the section itself (UAT) gets a three-way merge against
 * the upstream version it last took: items only it has stay, items only upstream changed are
 * taken, items changed on both sides become conflicts (kept local, listed to resolve). A
 * receiving draft that may not edit the section (Staging) simply equals upstream. Runs a
 * short while after a change (batched), never touches environment-local data.
 */
export function createReplication(deps: { projects: ProjectStore; releases: ReleaseStore; snapshots: Snapshots; store: ReplicationStore; drafts: { read(draftId: string): WorkspaceContent; edit(draftId: string, reason: string, change: (doc: Y.Doc) => void): boolean }; delayMs: number; log: (msg: string, err?: unknown) => void }) {
  const timers = new Map<string, NodeJS.Timeout>();
  let running = false;
  let stopped = false;

  const blobOf = (section: Section, item: ItemJson) => {
    const json = canonicalJson(normalizeItem(section, '', item));
    return { id: hashItem(json), json };
  };

  function chain(rules: FlowRules, section: Section, envs: EnvironmentRow[], drafts: DraftRow[]) {
    const rule = rules[section];
    const source = envs.find((e) => e.id === rule.sourceEnvId);
    if (rule.direction !== 'down' || !source) return [];
    const draftOf = (e: EnvironmentRow) => drafts.find((d) => d.environmentId === e.id && d.closedAt === null && (d.kind === 'authoring' || d.kind === 'section'));
    // From the source down: each with its draft (every stage of a preset that receives a down section has one).
    return envs
      .filter((e) => e.position <= source.position)
      .sort((a, b) => b.position - a.position)
      .map((e) => ({ env: e, draft: draftOf(e) }))
      .filter((x): x is { env: EnvironmentRow; draft: DraftRow } => x.draft !== undefined);
  }

  /** Makes `draft`'s `section` follow `upstream`; returns how many items changed. */
  function receive(draft: DraftRow, section: Section, upstream: Record<string, ItemJson>, editsHere: boolean, now: number): number {
    const local = deps.drafts.read(draft.id)[section];
    const bases = new Map(deps.store.bases(draft.id, section).map((b) => [b.itemId, b]));
    const take = new Map<string, ItemJson | null>();
    const rows: BaseRow[] = [];
    const newBlobs: { id: string; json: string }[] = [];
    const ids = new Set([...Object.keys(upstream), ...Object.keys(local), ...bases.keys()]);
    for (const itemId of ids) {
      const up = upstream[itemId] ? blobOf(section, upstream[itemId]) : null;
      const lo = local[itemId] ? blobOf(section, local[itemId]) : null;
      const base = bases.get(itemId);
      const ba = base?.baseBlobId ?? null;
      const row = (baseBlobId: string | null, conflictBlobId: string | null): BaseRow => ({ draftId: draft.id, section, itemId, baseBlobId, conflictBlobId, updatedAt: now });
      if ((up?.id ?? null) === (lo?.id ?? null)) {
        if (base && (base.baseBlobId !== (up?.id ?? null) || base.conflictBlobId)) rows.push(row(up?.id ?? null, null));
        else if (!base && up) rows.push(row(up.id, null));
        continue;
      }
      if (!editsHere || (lo?.id ?? null) === ba) {
        // Unchanged here since the last replication (or not editable here): upstream wins.
        take.set(itemId, upstream[itemId] ?? null);
        rows.push(row(up?.id ?? null, null));
        continue;
      }
      if ((up?.id ?? null) === ba) continue; // only changed here: keep local work
      // Changed on both sides since the last replication: a conflict, local kept.
      if (up) newBlobs.push(up);
      if (base?.conflictBlobId !== (up?.id ?? DELETED)) rows.push(row(ba, up?.id ?? DELETED));
    }
    if (take.size > 0) {
      deps.drafts.edit(draft.id, 'replicate', (doc: Y.Doc) => {
        const map = sectionMap(doc, section);
        for (const [itemId, json] of take) {
          if (json === null) map.delete(itemId);
          else {
            const existing = map.get(itemId);
            if (existing instanceof Y.Map) patchItem(section, existing, json);
            else map.set(itemId, newItem(section, json));
          }
        }
      });
    }
    deps.releases.putBlobs(newBlobs);
    deps.store.put(rows);
    return take.size;
  }

  /** The environment's history gets a `replicate` record: a snapshot of the section as it now is there. */
  function record(projectId: string, env: EnvironmentRow, from: EnvironmentRow, draft: DraftRow, section: Section, items: number): void {
    const content = emptyContent();
    content[section] = deps.drafts.read(draft.id)[section];
    // Not validated: a half-written article upstream still replicates (it is not released by this).
    const snapshotId = deps.snapshots.freeze(projectId, content, { kind: 'replicate', parentId: null, sourceDraftId: draft.id, message: null, createdBy: 'system' }, { validate: false });
    const previous = deps.releases.history(env.id, 50).find((r) => r.kind === 'replicate');
    deps.releases.recordReplication(
      { projectId, environmentId: env.id, kind: 'replicate', toSnapshotId: snapshotId, fromSnapshotId: previous?.toSnapshotId ?? null, sourceEnvironmentId: from.id, actorId: 'system', message: `${items} ${SPECS[section].noun}${items === 1 ? '' : 's'} from ${from.name}`, detail: { section, items } },
      Date.now(),
    );
  }

  /** Pull is within a project, for a `down` section, from a lower environment that edits it into one above that edits it too. */
  function pullSides(envId: string, fromEnvId: string, section: Section) {
    const to = deps.projects.getEnvironment(envId);
    const from = deps.projects.getEnvironment(fromEnvId);
    if (!to || !from) throw new AppError('environment_not_found');
    if (to.environment.projectId !== from.environment.projectId) throw new AppError('invalid_body', 'Pulls never cross projects: export a snapshot and import it instead.');
    const project = deps.projects.getProject(to.environment.projectId)!;
    const rule = flowRules(JSON.parse(project.project.flowRules) as Partial<FlowRules>)[section];
    const edits = (e: { environment: EnvironmentRow; draft: DraftRow | undefined }) => e.draft && (rule.editableEnvIds ?? []).includes(e.environment.id) && draftSectionsOf(e.draft).includes(section);
    if (rule.direction !== 'down' || !edits(to) || !edits(from)) throw new AppError('invalid_body', `Only a section that flows down can be pulled, between environments that both edit it.`);
    if (from.environment.position >= to.environment.position) throw new AppError('invalid_body', 'Pull from an environment below this one.');
    return { target: { env: to.environment, draft: to.draft! }, source: { env: from.environment, draft: from.draft! } };
  }

  function replicateNow(projectId: string): void {
    const project = deps.projects.getProject(projectId);
    if (!project) return;
    const rules = flowRules(JSON.parse(project.project.flowRules) as Partial<FlowRules>);
    for (const section of SECTIONS) {
      const steps = chain(rules, section, project.environments, project.drafts);
      const editable = new Set(rules[section].editableEnvIds ?? []);
      for (let i = 1; i < steps.length; i++) {
        const upstream = deps.drafts.read(steps[i - 1]!.draft.id)[section];
        const { draft, env } = steps[i]!;
        const changed = receive(draft, section, upstream, editable.has(env.id), Date.now());
        if (changed > 0) record(project.project.id, env, steps[i - 1]!.env, draft, section, changed);
      }
    }
  }

  return {
    /** Replicates a project's `down` sections a little later, once for a burst of changes. */
    schedule(projectId: string): void {
      if (stopped || timers.has(projectId)) return;
      timers.set(
        projectId,
        setTimeout(() => {
          timers.delete(projectId);
          if (running) return void this.schedule(projectId);
          running = true;
          try {
            replicateNow(projectId);
          } catch (err) {
            deps.log(`replication of ${projectId} failed; it is retried on the next change`, err);
          } finally {
            running = false;
          }
        }, deps.delayMs).unref(),
      );
    },

    replicateNow,

    /** Shutdown: pending replications are dropped (the next change after a restart schedules them again). */
    stop(): void {
      for (const t of timers.values()) clearTimeout(t);
      timers.clear();
      stopped = true;
    },

    /**
     * Pull (flow rules): the chosen items of a `down` section from a lower environment's draft
     * (UAT) into this environment's own draft (Production). Preview first: what each item
     * would change here.
     */
    pullPreview(envId: string, fromEnvId: string, section: Section, itemIds?: readonly string[]): PullItem[] {
      const { target, source } = pullSides(envId, fromEnvId, section);
      const mine = deps.drafts.read(target.draft.id)[section];
      const theirs = deps.drafts.read(source.draft.id)[section];
      const ids = itemIds ?? Object.keys(theirs).filter((id) => !mine[id] || blobOf(section, mine[id]).id !== blobOf(section, theirs[id]!).id);
      return ids.map((itemId) => {
        const after = theirs[itemId];
        if (!after) throw new AppError('not_found', `${source.env.name} has no ${SPECS[section].noun} ${itemId}.`);
        const before = mine[itemId];
        const nameField = SPECS[section].nameField;
        const fields = itemFieldChanges(section, before ?? {}, after).filter((f) => before || (f.after !== undefined && f.after !== '' && canonicalJson(f.after) !== '[]'));
        return { itemId, name: String(after[nameField] ?? itemId), kind: !before ? 'added' : fields.length === 0 ? 'same' : 'changed', fields };
      });
    },

    /** Takes exactly the chosen items; nothing else moves. Recorded in this environment's history as `pull`. */
    pull(actorId: string, envId: string, fromEnvId: string, section: Section, itemIds: readonly string[], message: string | null): { pulled: number } {
      const { target, source } = pullSides(envId, fromEnvId, section);
      const theirs = deps.drafts.read(source.draft.id)[section];
      const missing = itemIds.filter((id) => !theirs[id]);
      if (missing.length > 0) throw new AppError('not_found', `${source.env.name} has no ${SPECS[section].noun} ${missing.join(', ')}.`);
      if (!deps.drafts.edit(target.draft.id, 'pull', (doc: Y.Doc) => {
        const map = sectionMap(doc, section);
        for (const id of itemIds) {
          const existing = map.get(id);
          if (existing instanceof Y.Map) patchItem(section, existing, theirs[id]!);
          else map.set(id, newItem(section, theirs[id]!));
        }
      })) throw new AppError('storage_unavailable');
      const content = emptyContent();
      content[section] = Object.fromEntries(itemIds.map((id) => [id, theirs[id]!]));
      const snapshotId = deps.snapshots.freeze(target.env.projectId, content, { kind: 'pull', parentId: null, sourceDraftId: source.draft.id, message, createdBy: actorId }, { validate: false });
      const noun = `${itemIds.length} ${SPECS[section].noun}${itemIds.length === 1 ? '' : 's'}`;
      deps.releases.recordReplication(
        { projectId: target.env.projectId, environmentId: target.env.id, kind: 'pull', toSnapshotId: snapshotId, fromSnapshotId: null, sourceEnvironmentId: source.env.id, actorId, message: message ?? `Pulled ${noun} from ${source.env.name}`, detail: { section, itemIds } },
        Date.now(),
      );
      return { pulled: itemIds.length };
    },

    /** Items changed both upstream and in this environment since the last replication. */
    conflicts(envId: string): ConflictView[] {
      const found = deps.projects.getEnvironment(envId);
      if (!found) throw new AppError('environment_not_found');
      if (!found.draft) return [];
      const rows = deps.store.conflicts(found.draft.id);
      const blobs = deps.releases.getBlobs(rows.map((r) => r.conflictBlobId!).filter((id) => id !== DELETED));
      const local = deps.drafts.read(found.draft.id);
      return rows.map((r) => {
        const section = r.section as Section;
        const upstream = r.conflictBlobId === DELETED ? null : (JSON.parse(blobs.get(r.conflictBlobId!) ?? 'null') as ItemJson | null);
        const mine = local[section][r.itemId] ?? null;
        const nameField = SPECS[section].nameField;
        return { section, itemId: r.itemId, name: String((mine ?? upstream)?.[nameField] ?? r.itemId), upstream, local: mine };
      });
    },

    /** Resolves a conflict: take the upstream version, or keep this environment's. */
    resolve(envId: string, section: Section, itemId: string, take: 'upstream' | 'local'): void {
      const found = deps.projects.getEnvironment(envId);
      const row = found?.draft ? deps.store.conflicts(found.draft.id).find((r) => r.section === section && r.itemId === itemId) : undefined;
      if (!found?.draft || !row) throw new AppError('not_found', 'There is no such conflict here.');
      const upstreamId = row.conflictBlobId === DELETED ? null : row.conflictBlobId;
      if (take === 'upstream') {
        const json = upstreamId ? (JSON.parse(deps.releases.getBlobs([upstreamId]).get(upstreamId)!) as ItemJson) : null;
        deps.drafts.edit(found.draft.id, 'replicate', (doc: Y.Doc) => {
          const map = sectionMap(doc, section);
          if (json === null) map.delete(itemId);
          else {
            const existing = map.get(itemId);
            if (existing instanceof Y.Map) patchItem(section, existing, json);
            else map.set(itemId, newItem(section, json));
          }
        });
      }
      // Either way the upstream version is now the base: later upstream changes merge again.
      deps.store.put([{ ...row, baseBlobId: upstreamId, conflictBlobId: null, updatedAt: Date.now() }]);
    },
  };
}

export type Replication = ReturnType<typeof createReplication>;
