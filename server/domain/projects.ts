import * as Y from 'yjs';
import { AppError } from '#schema/errors.ts';
import { applyContent } from '#schema/content/ydoc.ts';
import { SAMPLE_AUDIENCES, sampleContent } from '#schema/content/sample.ts';
import { PRESETS } from '#schema/presets.ts';
import { SECTIONS, type Section } from '#schema/content/spec.ts';
import { draftSections, flowRules, parseFlowRules, sectionsEditableIn, upSections, type FlowRules, type FlowTemplate } from '#schema/flow.ts';
import type { CreateProjectInput, EnvironmentView, ProjectView } from '#schema/api.ts';
import type { ProjectRecord, ProjectStore } from '../store/projects.ts';
import type { Principal } from './accounts.ts';
import { newId } from './ids.ts';

export function projectView(r: ProjectRecord): ProjectView {
  // Editable drafts per environment: the authoring one, and `section` drafts of `down` sections.
  const draftByEnv = new Map(r.drafts.filter((d) => (d.kind === 'authoring' || d.kind === 'section') && d.closedAt === null).map((d) => [d.environmentId, d]));
  return {
    id: r.project.id,
    name: r.project.name,
    preset: r.project.preset,
    createdAt: new Date(r.project.createdAt).toISOString(),
    flowRules: parseFlowRules(r.project.flowRules),
    environments: r.environments.map((e): EnvironmentView => {
      const draft = draftByEnv.get(e.id);
      const isProduction = e.position === r.environments.length - 1;
      return {
        id: e.id,
        name: e.name,
        kind: e.kind,
        position: e.position,
        color: e.color,
        ...(draft ? { draftId: draft.id, draftSections: draftSections(draft) } : {}),
        snapshotId: e.snapshotId,
        ...(isProduction ? { liveSnapshotId: e.liveSnapshotId } : {}),
      };
    }),
  };
}

/** The sample workspace (only `sections` of it) as a Yjs state, written as a new draft's first state row. */
function sampleState(sections: readonly Section[]): Uint8Array {
  const doc = new Y.Doc();
  const sample = sampleContent();
  for (const s of SECTIONS) if (!sections.includes(s)) sample[s] = {};
  applyContent(doc, sample);
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
      // Flow rules: the preset's `down` sections get a draft in each environment that edits them.
      const templates: Partial<Record<Section, FlowTemplate>> = input.preset !== 'custom' && 'flow' in PRESETS[input.preset] ? (PRESETS[input.preset] as { flow: Partial<Record<Section, FlowTemplate>> }).flow : {};
      const stored: Partial<FlowRules> = {};
      for (const [section, t] of Object.entries(templates) as [Section, FlowTemplate][]) {
        stored[section] = { direction: 'down', sourceEnvId: envs[t.sourcePosition]!.id, editableEnvIds: t.editablePositions.map((p) => envs[p]!.id) };
      }
      const rules = flowRules(stored);
      const owned = upSections(rules);
      const draft = (id: string, environmentId: string, kind: string, sections: Section[] | null) => ({ id, projectId, environmentId, kind, createdAt: now, createdBy: by.user.id, baseSnapshotId: null, closedAt: null, sections: sections ? JSON.stringify(sections) : null });
      const drafts = [draft(draftId, authoring.id, 'authoring', owned.length === SECTIONS.length ? null : owned)];
      for (const e of envs.slice(1)) {
        const sections = sectionsEditableIn(rules, e.id);
        if (sections.length > 0) drafts.push(draft(newId('dft'), e.id, 'section', sections));
      }
      const record: ProjectRecord = {
        project: { id: projectId, name: input.name, preset: input.preset, flowRules: JSON.stringify(stored), createdBy: by.user.id, createdAt: now },
        environments: envs,
        drafts,
      };
      const sampleAudiences = input.sample
        ? envs.flatMap((e) => SAMPLE_AUDIENCES.map((a) => ({ id: newId('aud'), environmentId: e.id, name: a.name, nameKey: a.name.toLowerCase(), description: a.description, rules: JSON.stringify(a.rules), updatedBy: by.user.id, updatedAt: now })))
        : [];
      const states = input.sample ? drafts.map((d) => ({ draftId: d.id, state: sampleState(draftSections(d)) })) : [];
      store.insertProject(record, states, sampleAudiences);
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
    /** Renames, recolors or re-kinds a stage; names stay distinct within the project. */
    updateStage(envId: string, patch: { name?: string; kind?: string; color?: string }): ProjectView {
      const found = store.getEnvironment(envId);
      if (!found) throw new AppError('environment_not_found');
      const project = store.getProject(found.environment.projectId)!;
      if (patch.name && project.environments.some((e) => e.id !== envId && e.name.toLowerCase() === patch.name!.toLowerCase())) {
        throw new AppError('invalid_body', `This project already has a stage named “${patch.name}”.`);
      }
      store.updateEnvironment(envId, patch);
      return projectView(store.getProject(project.project.id)!);
    },

    draft(id: string) {
      const r = store.getDraft(id);
      if (!r) throw new AppError('draft_not_found');
      if (r.draft.closedAt !== null) throw new AppError('draft_closed');
      return r;
    },
  };
}

export type Projects = ReturnType<typeof createProjects>;
