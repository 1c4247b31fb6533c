import { Hono } from 'hono';
import {
  CreateProjectBody,
  FlowRulesBody,
  PullBody,
  ResolveConflictBody,
  StagePatchBody,
} from '#schema/api.ts';
import type {
  ContentView,
  ImportResult,
  ProblemsView,
  ConflictsView,
  MyRolesView,
  ProjectsView,
  ProjectView,
  PullPreview,
  PullResult,
} from '#schema/api.ts';
import { AppError } from '#schema/errors.ts';
import type { Principal } from '../../domain/accounts.ts';
import { applyContent, type WorkspaceContent } from '#schema/content/ydoc.ts';
import { problemsJson } from '#schema/content/validate.ts';
import { parseWorkspaceFile } from '#schema/content/file.ts';
import type { AppDeps, AppEnv } from '../context.ts';
import { SECTIONS, type Section } from '#schema/content/spec.ts';
import { draftSections } from '#schema/flow.ts';
import { readJson } from '../validate.ts';
import { op } from '../describe.ts';
import { mapInOrder } from '../../lib/in-order.ts';

export function projectRoutes(deps: AppDeps) {
  const routes = new Hono<AppEnv>()
    .post(
      '/projects',
      op({
        id: 'createProject',
        tag: 'Projects',
        summary: 'Create a project with its pipeline (instance admin)',
        body: CreateProjectBody,
        answers: { 201: 'ProjectView' },
      }),
      async (c) => {
        deps.access.requireInstanceAdmin(c.get('principal'));
        const body = await readJson(c, CreateProjectBody);
        const project = await deps.projects.create(c.get('principal'), body);
        await deps.access.addCreator(c.get('principal'), project.id);
        // Flow rules: the sample's items, alike in every stage that edits a `down` section, are its
        // merge bases from the start; lower environments take their `down` sections shortly.
        await deps.replication.settle(project.id);
        await deps.replication.schedule(project.id);
        return c.json(project satisfies ProjectView, 201);
      },
    )
    .get(
      '/projects',
      op({
        id: 'listProjects',
        tag: 'Projects',
        summary: 'The projects you may see',
        answers: { 200: 'ProjectsView' },
      }),
      async (c) => {
        const visible = await deps.access.visibleProjectIds(c.get('principal'));
        return c.json({
          projects: await mapInOrder(
            (await deps.projects.list()).filter((p) => visible === 'all' || visible.has(p.id)),
            async (p) => await deps.visibility.projectFor(c.get('principal'), p),
          ),
        } satisfies ProjectsView);
      },
    )
    .get(
      '/projects/:id',
      op({
        id: 'getProject',
        tag: 'Projects',
        summary: 'A project with its environments',
        answers: { 200: 'ProjectView' },
        errors: ['project_not_found'],
      }),
      async (c) => {
        await deps.access.requireMember(c.get('principal'), c.req.param('id'));
        return c.json(
          (await deps.visibility.projectFor(
            c.get('principal'),
            await deps.projects.get(c.req.param('id')),
          )) satisfies ProjectView,
        );
      },
    )
    .get(
      '/projects/:id/my-roles',
      op({
        id: 'getMyRoles',
        tag: 'Projects',
        summary: 'Your roles in a project',
        answers: { 200: 'MyRolesView' },
        errors: ['project_not_found'],
      }),
      async (c) => {
        await deps.access.requireMember(c.get('principal'), c.req.param('id'));
        return c.json({
          roles: await deps.access.myRoles(c.get('principal'), c.req.param('id')),
          isProjectAdmin: await deps.access.isProjectAdmin(c.get('principal'), c.req.param('id')),
        } satisfies MyRolesView);
      },
    )
    .put(
      '/projects/:id/flow-rules',
      op({
        id: 'setFlowRules',
        tag: 'Projects',
        summary: 'Change which sections flow up or down between stages (project admin)',
        body: FlowRulesBody,
        answers: { 200: 'ProjectView' },
        errors: ['project_not_found', 'rules_moved'],
      }),
      async (c) => {
        await deps.access.requireProjectAdmin(c.get('principal'), c.req.param('id'));
        const body = await readJson(c, FlowRulesBody);
        return c.json(
          (await deps.flowRules.change(
            c.get('principal'),
            c.req.param('id'),
            body.flowRules,
            body.expectedVersion,
          )) satisfies ProjectView,
        );
      },
    )
    .patch(
      '/environments/:envId',
      op({
        id: 'updateEnvironment',
        tag: 'Projects',
        summary: 'Rename an environment or change its stage settings (project admin)',
        body: StagePatchBody,
        answers: { 200: 'ProjectView' },
        errors: ['environment_not_found'],
      }),
      async (c) => {
        const { environment } = await deps.projects.environment(c.req.param('envId'));
        await deps.access.requireProjectAdmin(c.get('principal'), environment.projectId);
        return c.json(
          await deps.projects.updateStage(
            environment.id,
            await readJson(c, StagePatchBody),
            c.get('principal'),
          ),
        );
      },
    )
    .get(
      '/environments/:envId/conflicts',
      op({
        id: 'listConflicts',
        tag: 'Projects',
        summary: 'Items changed on both sides of a flow rule',
        answers: { 200: 'ConflictsView' },
        errors: ['environment_not_found'],
      }),
      async (c) => {
        await deps.access.authorize(c.get('principal'), 'content.read', c.req.param('envId'));
        return c.json({
          conflicts: await deps.replication.conflicts(c.req.param('envId')),
        } satisfies ConflictsView);
      },
    )
    .post(
      '/environments/:envId/conflicts/resolve',
      op({
        id: 'resolveConflict',
        tag: 'Projects',
        summary: 'Resolve a conflict by taking one side',
        body: ResolveConflictBody,
        answers: { 200: 'ConflictsView' },
        errors: ['environment_not_found', 'not_found'],
      }),
      async (c) => {
        await deps.access.authorize(c.get('principal'), 'content.edit', c.req.param('envId'));
        const body = await readJson(c, ResolveConflictBody);
        await deps.replication.resolve(
          c.req.param('envId'),
          body.section,
          body.itemId,
          body.take,
          c.get('principal').user.id,
        );
        return c.json({
          conflicts: await deps.replication.conflicts(c.req.param('envId')),
        } satisfies ConflictsView);
      },
    )
    .get(
      '/environments/:envId/pull',
      op({
        id: 'previewPull',
        tag: 'Projects',
        summary: 'What pulling items from another environment would change',
        query: {
          from: { description: 'The environment to pull from.', required: true },
          section: { description: 'The section (default knowledge).' },
          items: { description: 'Comma-separated item ids (default: all that differ).' },
        },
        answers: { 200: 'PullPreview' },
        errors: ['environment_not_found'],
      }),
      async (c) => {
        const envId = c.req.param('envId');
        const from = c.req.query('from') ?? '';
        const section = (c.req.query('section') ?? 'knowledge') as Section;
        if (!SECTIONS.includes(section))
          throw new AppError('invalid_body', `Unknown section “${section}”.`);
        await deps.access.authorize(c.get('principal'), 'content.read', envId);
        await deps.access.authorize(c.get('principal'), 'content.read', from);
        const items = c.req.query('items')?.split(',').filter(Boolean);
        return c.json({
          items: await deps.pulls.preview(envId, from, section, items),
        } satisfies PullPreview);
      },
    )
    .post(
      '/environments/:envId/pull',
      op({
        id: 'pullItems',
        tag: 'Projects',
        summary: 'Pull items from another environment into this draft',
        body: PullBody,
        answers: { 200: 'PullResult' },
        errors: [
          'environment_not_found',
          'read_only_environment',
          'section_read_only',
          'pull_overwrites_newer',
        ],
      }),
      async (c) => {
        const envId = c.req.param('envId');
        const body = await readJson(c, PullBody);
        await deps.access.authorize(c.get('principal'), 'content.edit', envId);
        await deps.access.authorize(c.get('principal'), 'content.read', body.fromEnvironmentId);
        return c.json(
          (await deps.pulls.pull(
            c.get('principal').user.id,
            envId,
            body.fromEnvironmentId,
            body.section,
            body.itemIds,
            { message: body.message ?? null, confirmOverwrite: body.confirmOverwrite ?? false },
          )) satisfies PullResult,
        );
      },
    )
    .get(
      '/environments/:envId/content',
      op({
        id: 'getContent',
        tag: 'Projects',
        summary: 'An environment’s content (the draft, or its snapshot)',
        query: {
          snapshot: {
            description: 'A snapshot id of this project: that snapshot instead of the current one.',
          },
          pointer: {
            description: 'current (default) or live (production’s live pointer).',
            schema: { type: 'string', enum: ['current', 'live'] },
          },
        },
        answers: { 200: 'ContentView' },
        errors: ['environment_not_found', 'snapshot_not_found'],
      }),
      async (c) => {
        // `?snapshot=<id>` (one of this project's) or `?pointer=live` (production): that snapshot in
        // place of the current one, with the sections the environment holds itself as they are now.
        const envId = c.req.param('envId');
        const snapshot = c.req.query('snapshot');
        const pointer = c.req.query('pointer');
        if (snapshot === undefined && pointer === undefined)
          return c.json((await readContent(c.get('principal'), envId)) satisfies ContentView);
        await deps.access.authorize(c.get('principal'), 'content.read', envId);
        const { environment } = await deps.projects.environment(envId);
        if (pointer !== undefined && pointer !== 'live' && pointer !== 'current')
          throw new AppError('invalid_body', 'pointer is current or live.');
        const snapshotId =
          snapshot ?? (pointer === 'live' ? environment.liveSnapshotId : environment.snapshotId);
        // Someone else's content (a production hotfix asked for through DEV) is answered like an unknown id.
        if (
          snapshot !== undefined &&
          !(await deps.visibility.canReadSnapshot(
            c.get('principal'),
            environment.projectId,
            snapshot,
          ))
        )
          throw new AppError('snapshot_not_found');
        return c.json(
          (await deps.localData.contentWith(envId, snapshotId ?? null)) satisfies ContentView,
        );
      },
    )
    .get(
      '/environments/:envId/problems',
      op({
        id: 'listProblems',
        tag: 'Projects',
        summary: 'Validation problems of an environment’s content',
        answers: { 200: 'ProblemsView' },
        errors: ['environment_not_found'],
      }),
      async (c) => {
        await deps.access.authorize(c.get('principal'), 'content.read', c.req.param('envId'));
        return c.json(
          problemsJson(await deps.localData.problems(c.req.param('envId'))) satisfies ProblemsView,
        );
      },
    )
    .put(
      '/environments/:envId/content',
      op({
        id: 'importContent',
        tag: 'Projects',
        summary: 'Replace a draft’s content with a workspace file',
        bodyJsonSchema: {
          type: 'object',
          description: 'A workspace file (the export of GET …/content).',
        },
        answers: { 200: 'ImportResult' },
        errors: [
          'environment_not_found',
          'read_only_environment',
          'invalid_workspace',
          'section_read_only',
          'invalid_json',
          'body_too_large',
          'unsupported_media_type',
        ],
      }),
      async (c) => {
        await deps.access.authorize(c.get('principal'), 'content.read', c.req.param('envId'));
        const { environment, draft } = await deps.projects.environment(c.req.param('envId'));
        if (!draft) throw new AppError('read_only_environment');
        await deps.access.authorize(c.get('principal'), 'content.edit', environment.id);
        let body: unknown;
        try {
          body = await c.req.json();
        } catch {
          throw new AppError('invalid_json');
        }
        const parsed = parseWorkspaceFile(body);
        if (!parsed.ok)
          throw new AppError(
            'invalid_workspace',
            `This is not a valid workspace: ${parsed.errors.slice(0, 3).join(' ')}${parsed.errors.length > 3 ? ' …' : ''} Nothing was changed.`,
            parsed.errors,
          );
        // Flow rules: a draft takes only the sections it owns; the others must be empty in the file.
        const owned = draftSections(draft);
        const foreign = SECTIONS.filter(
          (s) => !owned.includes(s) && Object.keys(parsed.content[s]).length > 0,
        );
        if (foreign.length > 0)
          throw new AppError(
            'section_read_only',
            `${foreign.join(', ')} ${foreign.length === 1 ? 'is' : 'are'} read-only in ${environment.name}: leave ${foreign.length === 1 ? 'it' : 'them'} out of the file. Nothing was changed.`,
            { sections: foreign },
          );
        for (const s of SECTIONS)
          if (!owned.includes(s)) delete (parsed.content as Partial<WorkspaceContent>)[s];
        // All or nothing: stored before anyone (a read, a peer) sees it; a failure changed nothing.
        if (
          !(await deps.drafts.edit(draft.id, 'import', (doc) => applyContent(doc, parsed.content)))
        )
          throw new AppError('storage_unavailable');
        // Imported items a neighbouring stage already holds alike get their merge base now (flow rules).
        await deps.replication.settle(environment.projectId);
        return c.json({ problems: problemsJson(parsed.problems) } satisfies ImportResult);
      },
    );

  /**
   * An environment's content: the live draft for the authoring one, else its current snapshot
   * (empty before the first Sync).
   */
  async function readContent(p: Principal, envId: string): Promise<WorkspaceContent> {
    await deps.access.authorize(p, 'content.read', envId);
    return await deps.localData.content(envId);
  }

  return routes;
}
