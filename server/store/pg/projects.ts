import { and, asc, desc, eq, inArray, isNull, ne } from 'drizzle-orm';
import { audiences, draftStates, drafts, environments, projects } from '#schema/db/pg-tables.ts';
import { AppError } from '#schema/errors.ts';
import { parseFlowRules } from '#schema/flow.ts';
import type { Section } from '#schema/content/spec.ts';
import type { createProjectStore } from '../projects.ts';
import {
  firstDraftState,
  groupProjects,
  type DraftRow,
  type ProjectRecord,
  type ProjectRow,
} from '../project-records.ts';
import type { Async } from '../port.ts';
import type { Postgres } from './db.ts';

/**
 * The project store on PostgreSQL (PG-21). Transactions span several stores through the domain's
 * Transactor, so `atomically` is not part of this store.
 */
export function createPgProjectStore(pgx: Postgres) {
  async function load(rows: ProjectRow[]): Promise<ProjectRecord[]> {
    if (rows.length === 0) return [];
    const ids = rows.map((p) => p.id);
    const envs = await pgx
      .db()
      .select()
      .from(environments)
      .where(inArray(environments.projectId, ids))
      .orderBy(asc(environments.position));
    // SQLite answers these in insertion order (a table scan); PostgreSQL's heap order changes
    // when a row is updated, so the order is spelled out.
    const draftRows = await pgx
      .db()
      .select()
      .from(drafts)
      .where(inArray(drafts.projectId, ids))
      .orderBy(asc(drafts.createdAt), asc(drafts.id));
    return groupProjects(rows, envs, draftRows);
  }

  return {
    insertProject(
      record: ProjectRecord,
      initialStates: readonly { draftId: string; state: Uint8Array }[] = [],
      initialAudiences: readonly (typeof audiences.$inferInsert)[] = [],
    ) {
      return pgx.atomically(async () => {
        await pgx.db().insert(projects).values(record.project);
        await pgx.db().insert(environments).values(record.environments);
        if (initialAudiences.length > 0)
          await pgx
            .db()
            .insert(audiences)
            .values([...initialAudiences]);
        if (record.drafts.length > 0) await pgx.db().insert(drafts).values(record.drafts);
        if (initialStates.length > 0)
          await pgx
            .db()
            .insert(draftStates)
            .values(
              initialStates.map((s) =>
                firstDraftState(s.draftId, s.state, record.project.createdAt),
              ),
            );
      });
    },
    async listProjects() {
      return load(await pgx.db().select().from(projects).orderBy(desc(projects.createdAt)));
    },
    async getProject(id: string) {
      return (await load(await pgx.db().select().from(projects).where(eq(projects.id, id))))[0];
    },
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
    ) {
      return pgx.atomically(async () => {
        // Compare-and-swap on the rules the plan was made from: a conditional UPDATE, so of two
        // racing changes PostgreSQL re-checks the second against the first's commit (409).
        const swapped = await pgx
          .db()
          .update(projects)
          .set({ flowRules: rulesJson })
          .where(and(eq(projects.id, projectId), eq(projects.flowRules, expectedJson)));
        if (swapped.rowCount !== 1) throw new AppError('rules_moved');
        for (const d of change.sections)
          await pgx
            .db()
            .update(drafts)
            .set({ sections: d.sections })
            .where(eq(drafts.id, d.draftId));
        for (const { row, state } of change.added) {
          await pgx.db().insert(drafts).values(row);
          await pgx
            .db()
            .insert(draftStates)
            .values(firstDraftState(row.id, state, now));
        }
        if (change.closed.length > 0)
          await pgx
            .db()
            .update(drafts)
            .set({ closedAt: now })
            .where(inArray(drafts.id, change.closed));
      });
    },
    async flowRules(id: string) {
      const [row] = await pgx
        .db()
        .select({ flowRules: projects.flowRules })
        .from(projects)
        .where(eq(projects.id, id));
      return parseFlowRules(row?.flowRules);
    },
    async updateEnvironment(id: string, patch: { name?: string; kind?: string; color?: string }) {
      await pgx.db().update(environments).set(patch).where(eq(environments.id, id));
    },
    async getEnvironment(id: string) {
      const [environment] = await pgx
        .db()
        .select()
        .from(environments)
        .where(eq(environments.id, id));
      if (!environment) return undefined;
      // The environment's open draft (authoring or section), not a hotfix.
      const [draft] = await pgx
        .db()
        .select()
        .from(drafts)
        .where(
          and(eq(drafts.environmentId, id), ne(drafts.kind, 'hotfix'), isNull(drafts.closedAt)),
        )
        .orderBy(asc(drafts.createdAt), asc(drafts.id))
        .limit(1);
      return { environment, draft };
    },
    async getDraft(id: string) {
      const [row] = await pgx
        .db()
        .select({ draft: drafts, environment: environments })
        .from(drafts)
        .innerJoin(environments, eq(environments.id, drafts.environmentId))
        .where(eq(drafts.id, id));
      return row;
    },
  } satisfies Omit<Async<ReturnType<typeof createProjectStore>>, 'atomically'>;
}
