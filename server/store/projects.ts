import type { Async } from './port.ts';
import { and, asc, eq, inArray, isNull, desc, ne, sql } from 'drizzle-orm';
import { projects, environments, drafts, draftStates, audiences } from '#schema/db/tables.ts';
import { parseFlowRules, type FlowRules } from '#schema/flow.ts';
import { AppError } from '#schema/errors.ts';
import type { Section } from '#schema/content/spec.ts';
import type { Db } from './db.ts';
import {
  firstDraftState,
  groupProjects,
  type DraftRow,
  type EnvironmentRow,
  type ProjectRecord,
  type ProjectRow,
} from './project-records.ts';

export type { DraftRow, EnvironmentRow, ProjectRecord, ProjectRow } from './project-records.ts';

export function createProjectStore(db: Db) {
  const load = (rows: ProjectRow[]): ProjectRecord[] => {
    if (rows.length === 0) return [];
    const ids = rows.map((p) => p.id);
    const envs = db
      .select()
      .from(environments)
      .where(inArray(environments.projectId, ids))
      .orderBy(asc(environments.position))
      .all();
    const draftRows = db.select().from(drafts).where(inArray(drafts.projectId, ids)).all();
    return groupProjects(rows, envs, draftRows);
  };
  // One project, one environment, one draft: read by nearly every request, prepared once (drizzle
  // built each anew: ~25 % of a delivery request's time, bench:delivery D1).
  const id = sql.placeholder('id');
  const projectById = db.select().from(projects).where(eq(projects.id, id)).prepare();
  const environmentsOf = db
    .select()
    .from(environments)
    .where(eq(environments.projectId, id))
    .orderBy(asc(environments.position))
    .prepare();
  const draftsOf = db.select().from(drafts).where(eq(drafts.projectId, id)).prepare();
  const environmentById = db.select().from(environments).where(eq(environments.id, id)).prepare();
  // The environment's open draft (authoring or section), not a hotfix.
  const openDraftOf = db
    .select()
    .from(drafts)
    .where(and(eq(drafts.environmentId, id), ne(drafts.kind, 'hotfix'), isNull(drafts.closedAt)))
    .prepare();
  const draftById = db
    .select({ draft: drafts, environment: environments })
    .from(drafts)
    .innerJoin(environments, eq(environments.id, drafts.environmentId))
    .where(eq(drafts.id, id))
    .prepare();

  return {
    /** Writes the project, its environments, its authoring draft and the draft's first state in one transaction. */
    insertProject(
      record: ProjectRecord,
      initialStates: readonly { draftId: string; state: Uint8Array }[] = [],
      initialAudiences: readonly (typeof audiences.$inferInsert)[] = [],
    ): void {
      db.transaction((tx) => {
        tx.insert(projects).values(record.project).run();
        tx.insert(environments).values(record.environments).run();
        if (initialAudiences.length > 0)
          tx.insert(audiences)
            .values([...initialAudiences])
            .run();
        if (record.drafts.length > 0) tx.insert(drafts).values(record.drafts).run();
        for (const s of initialStates)
          tx.insert(draftStates)
            .values(firstDraftState(s.draftId, s.state, record.project.createdAt))
            .run();
      });
    },
    listProjects(): ProjectRecord[] {
      return load(db.select().from(projects).orderBy(desc(projects.createdAt)).all());
    },
    getProject(id: string): ProjectRecord | undefined {
      const project = projectById.get({ id });
      if (!project) return undefined;
      return groupProjects([project], environmentsOf.all({ id }), draftsOf.all({ id }))[0];
    },
    /**
     * New flow rules and the drafts they need, in one transaction: drafts whose sections
     * change, new drafts (with their first state), drafts no longer needed (closed).
     */
    changeFlowRules(
      projectId: string,
      expectedJson: string,
      rulesJson: string,
      change: {
        sections: { draftId: string; sections: Section[] | null }[];
        added: { row: DraftRow; state: Uint8Array }[];
        closed: string[];
      },
      now: number,
    ): void {
      db.transaction((tx) => {
        // Compare-and-swap on the rules the plan was made from: a change committed since answers 409.
        const swapped = tx
          .update(projects)
          .set({ flowRules: rulesJson })
          .where(and(eq(projects.id, projectId), eq(projects.flowRules, expectedJson)))
          .run();
        if (swapped.changes !== 1) throw new AppError('rules_moved');
        for (const d of change.sections)
          tx.update(drafts).set({ sections: d.sections }).where(eq(drafts.id, d.draftId)).run();
        for (const { row, state } of change.added) {
          tx.insert(drafts).values(row).run();
          tx.insert(draftStates)
            .values(firstDraftState(row.id, state, now))
            .run();
        }
        if (change.closed.length > 0)
          tx.update(drafts).set({ closedAt: now }).where(inArray(drafts.id, change.closed)).run();
      });
    },
    /** A project's flow rules, without loading its environments. */
    flowRules(id: string): FlowRules {
      return parseFlowRules(
        db.select({ flowRules: projects.flowRules }).from(projects).where(eq(projects.id, id)).get()
          ?.flowRules,
      );
    },
    updateEnvironment(id: string, patch: { name?: string; kind?: string; color?: string }): void {
      db.update(environments).set(patch).where(eq(environments.id, id)).run();
    },
    getEnvironment(
      id: string,
    ): { environment: EnvironmentRow; draft: DraftRow | undefined } | undefined {
      const environment = environmentById.get({ id });
      if (!environment) return undefined;
      return { environment, draft: openDraftOf.get({ id }) };
    },
    getDraft(id: string): { draft: DraftRow; environment: EnvironmentRow } | undefined {
      return draftById.get({ id });
    },
  };
}

/** The port the domain sees (PG-10). */
export type ProjectStore = Async<ReturnType<typeof createProjectStore>>;
