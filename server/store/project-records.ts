import type { draftStates, drafts, environments, projects } from '#schema/db/tables.ts';

/** What the SQLite and PostgreSQL project and hotfix stores share (PG-21): rows to records. */

export type ProjectRow = typeof projects.$inferSelect;
export type EnvironmentRow = typeof environments.$inferSelect;
export type DraftRow = typeof drafts.$inferSelect;

export interface ProjectRecord {
  project: ProjectRow;
  environments: EnvironmentRow[];
  drafts: DraftRow[];
}

/** Each project with its environments and drafts (both read for all the projects at once). */
export function groupProjects(
  rows: ProjectRow[],
  envs: EnvironmentRow[],
  draftRows: DraftRow[],
): ProjectRecord[] {
  return rows.map((project) => ({
    project,
    environments: envs.filter((e) => e.projectId === project.id),
    drafts: draftRows.filter((d) => d.projectId === project.id),
  }));
}

/** A new draft's first state (nothing of its update log folded in yet). */
export function firstDraftState(
  draftId: string,
  state: Uint8Array,
  at: number,
): typeof draftStates.$inferInsert {
  return { draftId, state: Buffer.from(state), uptoSeq: 0, updatedAt: at };
}
