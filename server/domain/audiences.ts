import { AppError } from '#schema/errors.ts';
import { SECTIONS, SPECS, type Section } from '#schema/content/spec.ts';
import type { WorkspaceContent } from '#schema/content/ydoc.ts';
import type { AudienceBody, AudienceRule } from '#schema/local.ts';
import type { Principal } from './accounts.ts';
import type { ProjectStore } from '../store/projects.ts';
import type { AudienceRow, AudienceStore } from '../store/audiences.ts';
import type { Snapshots } from './snapshots.ts';
import { newId } from './ids.ts';
import { LIMITS, requireBelow } from './limits.ts';
import { requireEnvironment } from './require.ts';
import type { AudienceView } from '#schema/api.ts';
import { announcer, type Atomically, type Emit, type NewProjectEvent } from './events.ts';

const view = (r: AudienceRow): AudienceView => ({
  id: r.id,
  name: r.name,
  description: r.description,
  rules: r.rules,
  updatedBy: r.updatedBy,
  updatedAt: new Date(r.updatedAt).toISOString(),
});

/** References match names case-insensitively (and ignoring surrounding space). */
export const audienceKey = (name: string): string => name.trim().toLowerCase();

/** Every audience name the content refers to (items' `audiences` lists), once each, in first-seen spelling. */
export function referencedAudiences(content: WorkspaceContent): string[] {
  const names = new Map<string, string>();
  for (const s of SECTIONS) {
    for (const item of Object.values(content[s])) {
      const list = item.audiences;
      if (!Array.isArray(list)) continue;
      for (const n of list)
        if (typeof n === 'string' && n.trim() !== '' && !names.has(audienceKey(n)))
          names.set(audienceKey(n), n.trim());
    }
  }
  return [...names.values()];
}

/** Where content names an audience: which pointer's content, which item, which field. */
export interface AudienceUse {
  /**
   * `current`: what the environment holds now (the draft, in the authoring one); `live`:
   * production's published snapshot, where it differs.
   */
  pointer: 'current' | 'live';
  section: Section;
  itemId: string;
  name: string;
  field: 'audiences';
}

/** Every item of `content` whose `audiences` list names `key` (compared as audience names are). */
export function audienceUses(
  content: WorkspaceContent,
  key: string,
  pointer: AudienceUse['pointer'],
): AudienceUse[] {
  const uses: AudienceUse[] = [];
  for (const section of SECTIONS) {
    for (const [itemId, item] of Object.entries(content[section])) {
      const list = item.audiences;
      if (
        !Array.isArray(list) ||
        !list.some((n) => typeof n === 'string' && audienceKey(n) === key)
      )
        continue;
      uses.push({
        pointer,
        section,
        itemId,
        name: String(item[SPECS[section].nameField] ?? '') || itemId,
        field: 'audiences',
      });
    }
  }
  return uses;
}

/**
 * Audiences: environment-local (same name everywhere, own id in each environment). A
 * promotion into an environment that lacks an audience its content refers to is refused
 * with the missing names; the delivery API resolves names to that environment's ids.
 */
export function createAudiences(deps: {
  store: AudienceStore;
  projects: ProjectStore;
  snapshots: Snapshots;
  /** What an environment's pointers hold: current (and live, in production, where it differs). */
  contents: (
    envId: string,
  ) => Promise<{ pointer: AudienceUse['pointer']; content: WorkspaceContent }[]>;
  /** The project event log: a `local` event of the stage, in each change's transaction. */
  emit: Emit;
  atomically: Atomically;
}) {
  const announce = announcer(deps.atomically, deps.emit);
  const changed = (envId: string, by: Principal | null) => async (): Promise<NewProjectEvent> => ({
    projectId: (await environment(envId)).projectId,
    environmentId: envId,
    kind: 'local',
    actorId: by?.user.id ?? null,
    subject: { area: 'audiences' },
  });
  const { store } = deps;
  /** Snapshots never change, so the names a snapshot refers to are computed once. */
  const namesBySnapshot = new Map<string, string[]>();

  async function environment(envId: string) {
    return (await requireEnvironment(deps.projects, envId)).environment;
  }

  async function namesOf(projectId: string, snapshotId: string): Promise<string[]> {
    let names = namesBySnapshot.get(snapshotId);
    if (!names) {
      names = referencedAudiences(await deps.snapshots.content(projectId, snapshotId));
      if (namesBySnapshot.size > 10_000) namesBySnapshot.clear();
      namesBySnapshot.set(snapshotId, names);
    }
    return names;
  }

  /**
   * Refuses (409 audience_in_use, with every use) to take away a name that the current or live
   * content of the environment refers to: a delivery would then lack it, and promotions into
   * the environment would answer audience_missing for content that is already there.
   */
  async function requireUnused(envId: string, row: AudienceRow): Promise<void> {
    const uses = (await deps.contents(envId)).flatMap(({ pointer, content }) =>
      audienceUses(content, row.nameKey, pointer),
    );
    if (uses.length === 0) return;
    const names = [...new Set(uses.map((u) => `“${u.name}”`))];
    const shown =
      names.length > 5
        ? `${names.slice(0, 5).join(', ')} and ${names.length - 5} more`
        : names.join(', ');
    throw new AppError(
      'audience_in_use',
      `The audience “${row.name}” is named by ${shown} in ${(await environment(envId)).name}: take it out of ${uses.length === 1 ? 'that item' : 'those items'} first.`,
      { audience: row.name, uses },
    );
  }

  async function save(
    by: Principal,
    envId: string,
    id: string,
    body: AudienceBody,
  ): Promise<AudienceView> {
    const key = audienceKey(body.name);
    const clash = await store.byName(envId, key);
    if (clash && clash.id !== id)
      throw new AppError(
        'audience_exists',
        `${(await environment(envId)).name} already has an audience named “${clash.name}”.`,
      );
    const row: AudienceRow = {
      id,
      environmentId: envId,
      name: body.name,
      nameKey: key,
      description: body.description,
      rules: body.rules,
      updatedBy: by.user.id,
      updatedAt: Date.now(),
    };
    await store.put(row);
    return view(row);
  }

  return {
    async list(envId: string): Promise<AudienceView[]> {
      await environment(envId);
      return (await store.list(envId)).map(view).sort((a, b) => a.name.localeCompare(b.name));
    },
    async create(by: Principal, envId: string, body: AudienceBody): Promise<AudienceView> {
      const env = await environment(envId);
      const max = LIMITS.MAX_AUDIENCES_PER_ENVIRONMENT;
      // The count and the insert are one transaction: concurrent creates cannot pass it together (PG-130).
      return await announce(
        async () => {
          requireBelow(
            'MAX_AUDIENCES_PER_ENVIRONMENT',
            max,
            await store.count(envId),
            `${env.name} already has ${max} audiences: delete one first.`,
          );
          return await save(by, envId, newId('aud'), body);
        },
        changed(envId, by),
      );
    },
    async update(
      by: Principal,
      envId: string,
      id: string,
      body: AudienceBody,
    ): Promise<AudienceView> {
      const row = await store.get(envId, id);
      if (!row) throw new AppError('audience_not_found');
      // A rename takes the old name away just as a delete does (a change of case does not).
      if (audienceKey(body.name) !== row.nameKey) await requireUnused(envId, row);
      return await announce(async () => await save(by, envId, id, body), changed(envId, by));
    },
    async delete(envId: string, id: string, by: Principal | null = null): Promise<void> {
      const row = await store.get(envId, id);
      if (!row) throw new AppError('audience_not_found');
      await requireUnused(envId, row);
      await announce(
        async () => {
          if (!(await store.delete(envId, id))) throw new AppError('audience_not_found');
        },
        changed(envId, by),
      );
    },

    /** Remembers the names of content just frozen (saves reading it back on the first Sync). */
    noteSnapshot(snapshotId: string, content: WorkspaceContent): void {
      if (!namesBySnapshot.has(snapshotId))
        namesBySnapshot.set(snapshotId, referencedAudiences(content));
    },

    /**
     * Refuses (409 audience_missing, with the names) to put a snapshot into an environment that
     * lacks audiences it refers to.
     */
    async requireFor(targetEnvId: string, projectId: string, snapshotId: string): Promise<void> {
      const names = await namesOf(projectId, snapshotId);
      if (names.length === 0) return;
      const have = new Set((await store.list(targetEnvId)).map((a) => a.nameKey));
      const missing = names.filter((n) => !have.has(audienceKey(n)));
      if (missing.length > 0) {
        const env = await environment(targetEnvId);
        throw new AppError(
          'audience_missing',
          `${env.name} has no audience${missing.length === 1 ? '' : 's'} named ${missing.map((n) => `“${n}”`).join(', ')}: create ${missing.length === 1 ? 'it' : 'them'} there, then try again.`,
          { environmentId: targetEnvId, missing },
        );
      }
    },

    /** For the delivery API: name → this environment's audience. */
    async resolved(
      envId: string,
    ): Promise<Record<string, { id: string; description: string; rules: AudienceRule[] }>> {
      return Object.fromEntries(
        (await store.list(envId)).map((r) => [
          r.name,
          { id: r.id, description: r.description, rules: r.rules },
        ]),
      );
    },
  };
}

export type Audiences = ReturnType<typeof createAudiences>;
