import { AppError } from '#schema/errors.ts';
import { contentState } from '#schema/content/ydoc.ts';
import { SAMPLE_AUDIENCES, sampleContent } from '#schema/content/sample.ts';
import { PRESETS, presetFlow } from '#schema/presets.ts';
import { SECTIONS, type Section } from '#schema/content/spec.ts';
import {
  draftSections,
  ownedAt,
  parseFlowRules,
  receivesAt,
  rulesFromTemplates,
  storedSections,
} from '#schema/flow.ts';
import {
  flowTemplatesOf,
  type CreateProjectInput,
  type EnvironmentView,
  type ProjectView,
} from '#schema/api.ts';
import { nameKey, sameNameMessage } from '#schema/names.ts';
import type { ProjectRecord, ProjectStore } from '../store/projects.ts';
import type { Principal } from './accounts.ts';
import type { Atomically, Emit } from './events.ts';
import { newId } from './ids.ts';
import { sha256 } from '../lib/hash.ts';
import { requireDraft, requireEnvironment, requireProject } from './require.ts';
import { authoringOf, isProduction } from '#schema/pipeline.ts';

/** The version of a project's stored flow rules: their content's hash (equal rules, equal version). */
export const flowRulesVersion = (rulesJson: string): string => sha256(rulesJson).slice(0, 16);

export function projectView(r: ProjectRecord): ProjectView {
  // Editable drafts per environment: the authoring one, and `section` drafts (`down` sections
  // edited there, `local` ones); not receive-only ones.
  const draftByEnv = new Map(
    r.drafts
      .filter(
        (d) =>
          d.closedAt === null &&
          (d.kind === 'authoring' || (d.kind === 'section' && draftSections(d).length > 0)),
      )
      .map((d) => [d.environmentId, d]),
  );
  return {
    id: r.project.id,
    name: r.project.name,
    preset: r.project.preset,
    createdAt: new Date(r.project.createdAt).toISOString(),
    flowRules: parseFlowRules(r.project.flowRules),
    flowRulesVersion: flowRulesVersion(r.project.flowRules),
    environments: r.environments.map((e): EnvironmentView => {
      const draft = draftByEnv.get(e.id);
      const production = isProduction(e, r);
      return {
        id: e.id,
        name: e.name,
        kind: e.kind,
        position: e.position,
        color: e.color,
        ...(draft ? { draftId: draft.id, draftSections: draftSections(draft) } : {}),
        snapshotId: e.snapshotId,
        ...(production ? { liveSnapshotId: e.liveSnapshotId } : {}),
      };
    }),
  };
}

/** The sample workspace (only `sections` of it) as a Yjs state, written as a new draft's first state row. */
function sampleState(sections: readonly Section[]): Uint8Array {
  const sample = sampleContent();
  for (const s of SECTIONS) if (!sections.includes(s)) sample[s] = {};
  return contentState(sample);
}

export function createProjects(
  store: ProjectStore,
  /** The project event log: a `stages` event (rename, recolor, kind) in the change's transaction. */
  opts: { emit?: Emit; atomically?: Atomically } = {},
) {
  return {
    /**
     * A project from a preset (or custom stages): its environments in order, and one draft for the
     * authoring (first) one.
     */
    async create(by: Principal, input: CreateProjectInput): Promise<ProjectView> {
      const now = Date.now();
      const projectId = newId('prj');
      const stages = input.preset === 'custom' ? input.stages! : PRESETS[input.preset].stages;
      const envs = stages.map((stage, position) => ({
        id: newId('env'),
        projectId,
        name: stage.name,
        kind: stage.kind,
        color: stage.color,
        position,
        snapshotId: null,
        liveSnapshotId: null,
        overlayRevision: 0,
      }));
      const authoring = authoringOf(envs)!;
      // Flow rules by stage position (a preset's, or the custom pipeline's, checked at the edge).
      const templates =
        input.preset === 'custom'
          ? flowTemplatesOf(input.stages!, input.flowRules ?? {}).templates
          : presetFlow(input.preset);
      const stored = rulesFromTemplates(
        templates,
        envs.map((e) => e.id),
      );
      // A draft per stage that edits something (its owned sections) or receives a `down` section
      // (a receive-only draft owns nothing: replication alone writes it). The first stage's is the authoring draft.
      const draft = (environmentId: string, kind: string, sections: Section[]) => ({
        id: newId('dft'),
        projectId,
        environmentId,
        kind,
        createdAt: now,
        createdBy: by.user.id,
        baseSnapshotId: null,
        closedAt: null,
        sections: storedSections(sections),
      });
      const drafts = [draft(authoring.id, 'authoring', ownedAt(templates, 0))];
      for (const e of envs.slice(1)) {
        const owned = ownedAt(templates, e.position);
        if (owned.length > 0 || receivesAt(templates, e.position))
          drafts.push(draft(e.id, 'section', owned));
      }
      const record: ProjectRecord = {
        project: {
          id: projectId,
          name: input.name,
          preset: input.preset,
          flowRules: JSON.stringify(stored),
          createdBy: by.user.id,
          createdAt: now,
        },
        environments: envs,
        drafts,
      };
      const sampleAudiences = input.sample
        ? envs.flatMap((e) =>
            SAMPLE_AUDIENCES.map((a) => ({
              id: newId('aud'),
              environmentId: e.id,
              name: a.name,
              nameKey: a.name.toLowerCase(),
              description: a.description,
              rules: a.rules,
              updatedBy: by.user.id,
              updatedAt: now,
            })),
          )
        : [];
      const states = input.sample
        ? drafts.map((d) => ({ draftId: d.id, state: sampleState(draftSections(d)) }))
        : [];
      await store.insertProject(record, states, sampleAudiences);
      return projectView(record);
    },

    async list(): Promise<ProjectView[]> {
      return (await store.listProjects()).map(projectView);
    },

    async get(id: string): Promise<ProjectView> {
      return projectView(await requireProject(store, id));
    },

    environment: async (id: string) => await requireEnvironment(store, id),

    /** A draft, open or closed. */
    draftRecord: async (id: string) => await requireDraft(store, id),

    /** Renames, recolors or re-kinds a stage; names stay distinct within the project. */
    async updateStage(
      envId: string,
      patch: { name?: string; kind?: string; color?: string },
      by?: Principal,
    ): Promise<ProjectView> {
      const found = await requireEnvironment(store, envId);
      const project = (await store.getProject(found.environment.projectId))!;
      if (
        patch.name &&
        project.environments.some((e) => e.id !== envId && nameKey(e.name) === nameKey(patch.name!))
      ) {
        const message = sameNameMessage(patch.name);
        throw new AppError('invalid_body', message, [{ path: 'name', message }]);
      }
      await (opts.atomically ?? (async (fn) => await fn()))(async () => {
        await store.updateEnvironment(envId, patch);
        await opts.emit?.({
          projectId: project.project.id,
          environmentId: envId,
          kind: 'stages',
          actorId: by?.user.id ?? null,
        });
      });
      return projectView((await store.getProject(project.project.id))!);
    },

    /** A draft that takes connections: it exists and is not closed. */
    async draft(id: string) {
      const r = await requireDraft(store, id);
      if (r.draft.closedAt !== null) throw new AppError('draft_closed');
      return r;
    },
  };
}

export type Projects = ReturnType<typeof createProjects>;
