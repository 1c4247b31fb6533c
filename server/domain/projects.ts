import * as Y from 'yjs';
import { AppError } from '#schema/errors.ts';
import { applyContent } from '#schema/content/ydoc.ts';
import { SAMPLE_AUDIENCES, sampleContent } from '#schema/content/sample.ts';
import { PRESETS } from '#schema/presets.ts';
import type { CreateProjectInput, EnvironmentView, ProjectView } from '#schema/api.ts';
import type { ProjectRecord, ProjectStore } from '../store/projects.ts';
import type { Principal } from './accounts.ts';
import { newId } from './ids.ts';

export function projectView(r: ProjectRecord): ProjectView {
  const draftByEnv = new Map(r.drafts.filter((d) => d.kind === 'authoring').map((d) => [d.environmentId, d.id]));
  return {
    id: r.project.id,
    name: r.project.name,
    preset: r.project.preset,
    createdAt: new Date(r.project.createdAt).toISOString(),
    environments: r.environments.map((e): EnvironmentView => {
      const draftId = draftByEnv.get(e.id);
      const isProduction = e.position === r.environments.length - 1;
      return {
        id: e.id,
        name: e.name,
        kind: e.kind,
        position: e.position,
        color: e.color,
        ...(draftId ? { draftId } : {}),
        snapshotId: e.snapshotId,
        ...(isProduction ? { liveSnapshotId: e.liveSnapshotId } : {}),
      };
    }),
  };
}

/** The sample workspace as a Yjs state, written as the new draft's first state row. */
function sampleState(): Uint8Array {
  const doc = new Y.Doc();
  applyContent(doc, sampleContent());
  const state = Y.encodeStateAsUpdate(doc);
  doc.destroy();
  return state;
}

export function createProjects(store: ProjectStore) {
  return {
    /** A project from a preset (or custom stages): its environments in order, and one draft for the authoring (first) one. */
    create(by: Principal, input: CreateProjectInput): ProjectView {
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
      const authoring = envs[0]!;
      const draftId = newId('dft');
      const record: ProjectRecord = {
        project: { id: projectId, name: input.name, preset: input.preset, createdBy: by.user.id, createdAt: now },
        environments: envs,
        drafts: [{ id: draftId, projectId, environmentId: authoring.id, kind: 'authoring', createdAt: now, createdBy: by.user.id, baseSnapshotId: null, closedAt: null }],
      };
      const sampleAudiences = input.sample
        ? envs.flatMap((e) => SAMPLE_AUDIENCES.map((a) => ({ id: newId('aud'), environmentId: e.id, name: a.name, nameKey: a.name.toLowerCase(), description: a.description, rules: JSON.stringify(a.rules), updatedBy: by.user.id, updatedAt: now })))
        : [];
      store.insertProject(record, input.sample ? [{ draftId, state: sampleState() }] : [], sampleAudiences);
      return projectView(record);
    },

    list(): ProjectView[] {
      return store.listProjects().map(projectView);
    },

    get(id: string): ProjectView {
      const r = store.getProject(id);
      if (!r) throw new AppError('project_not_found');
      return projectView(r);
    },

    environment(id: string) {
      const r = store.getEnvironment(id);
      if (!r) throw new AppError('environment_not_found');
      return r;
    },

    /** A draft, open or closed. */
    draftRecord(id: string) {
      const r = store.getDraft(id);
      if (!r) throw new AppError('draft_not_found');
      return r;
    },

    /** A draft that takes connections: it exists and is not closed. */
    draft(id: string) {
      const r = store.getDraft(id);
      if (!r) throw new AppError('draft_not_found');
      if (r.draft.closedAt !== null) throw new AppError('draft_closed');
      return r;
    },
  };
}

export type Projects = ReturnType<typeof createProjects>;
