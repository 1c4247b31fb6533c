import { Hono } from 'hono';
import {
  CreateProjectBody,
  FlowRulesBody,
  PullBody,
  ResolveConflictBody,
  StagePatchBody,
} from '#schema/api.ts';
import type {
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

export function projectRoutes(deps: AppDeps) {
  const routes = new Hono<AppEnv>()
    .post('/projects', async (c) => {
      deps.access.requireInstanceAdmin(c.get('principal'));
      const body = await readJson(c, CreateProjectBody);
      const project = deps.projects.create(c.get('principal'), body);
      deps.access.addCreator(c.get('principal'), project.id);
      // Flow rules: the sample's items, alike in every stage that edits a `down` section, are its
      // merge bases from the start; lower environments take their `down` sections shortly.
      deps.replication.settle(project.id);
      deps.replication.schedule(project.id);
      return c.json(project satisfies ProjectView, 201);
    })
    .get('/projects', (c) => {
      const visible = deps.access.visibleProjectIds(c.get('principal'));
      return c.json({
        projects: deps.projects
          .list()
          .filter((p) => visible === 'all' || visible.has(p.id))
          .map((p) => deps.visibility.projectFor(c.get('principal'), p)),
      } satisfies ProjectsView);
    })
    .get('/projects/:id', (c) => {
      deps.access.requireMember(c.get('principal'), c.req.param('id'));
      return c.json(
        deps.visibility.projectFor(
          c.get('principal'),
          deps.projects.get(c.req.param('id')),
        ) satisfies ProjectView,
      );
    })
    .get('/projects/:id/my-roles', (c) => {
      deps.access.requireMember(c.get('principal'), c.req.param('id'));
      return c.json({
        roles: deps.access.myRoles(c.get('principal'), c.req.param('id')),
        isProjectAdmin: deps.access.isProjectAdmin(c.get('principal'), c.req.param('id')),
      } satisfies MyRolesView);
    })
    .put('/projects/:id/flow-rules', async (c) => {
      deps.access.requireProjectAdmin(c.get('principal'), c.req.param('id'));
      const body = await readJson(c, FlowRulesBody);
      return c.json(
        deps.flowRules.change(
          c.get('principal'),
          c.req.param('id'),
          body.flowRules,
          body.expectedVersion,
        ) satisfies ProjectView,
      );
    })
    .patch('/environments/:envId', async (c) => {
      const { environment } = deps.projects.environment(c.req.param('envId'));
      deps.access.requireProjectAdmin(c.get('principal'), environment.projectId);
      return c.json(
        deps.projects.updateStage(
          environment.id,
          await readJson(c, StagePatchBody),
          c.get('principal'),
        ),
      );
    })
    .get('/environments/:envId/conflicts', (c) => {
      deps.access.authorize(c.get('principal'), 'content.read', c.req.param('envId'));
      return c.json({
        conflicts: deps.replication.conflicts(c.req.param('envId')),
      } satisfies ConflictsView);
    })
    .post('/environments/:envId/conflicts/resolve', async (c) => {
      deps.access.authorize(c.get('principal'), 'content.edit', c.req.param('envId'));
      const body = await readJson(c, ResolveConflictBody);
      deps.replication.resolve(
        c.req.param('envId'),
        body.section,
        body.itemId,
        body.take,
        c.get('principal').user.id,
      );
      return c.json({
        conflicts: deps.replication.conflicts(c.req.param('envId')),
      } satisfies ConflictsView);
    })
    .get('/environments/:envId/pull', (c) => {
      const envId = c.req.param('envId');
      const from = c.req.query('from') ?? '';
      const section = (c.req.query('section') ?? 'knowledge') as Section;
      if (!SECTIONS.includes(section))
        throw new AppError('invalid_body', `Unknown section “${section}”.`);
      deps.access.authorize(c.get('principal'), 'content.read', envId);
      deps.access.authorize(c.get('principal'), 'content.read', from);
      const items = c.req.query('items')?.split(',').filter(Boolean);
      return c.json({
        items: deps.pulls.preview(envId, from, section, items),
      } satisfies PullPreview);
    })
    .post('/environments/:envId/pull', async (c) => {
      const envId = c.req.param('envId');
      const body = await readJson(c, PullBody);
      deps.access.authorize(c.get('principal'), 'content.edit', envId);
      deps.access.authorize(c.get('principal'), 'content.read', body.fromEnvironmentId);
      return c.json(
        deps.pulls.pull(
          c.get('principal').user.id,
          envId,
          body.fromEnvironmentId,
          body.section,
          body.itemIds,
          { message: body.message ?? null, confirmOverwrite: body.confirmOverwrite ?? false },
        ) satisfies PullResult,
      );
    })
    .get('/environments/:envId/content', (c) => {
      // `?snapshot=<id>` (one of this project's) or `?pointer=live` (production): that snapshot in
      // place of the current one, with the sections the environment holds itself as they are now.
      const envId = c.req.param('envId');
      const snapshot = c.req.query('snapshot');
      const pointer = c.req.query('pointer');
      if (snapshot === undefined && pointer === undefined)
        return c.json(readContent(c.get('principal'), envId));
      deps.access.authorize(c.get('principal'), 'content.read', envId);
      const { environment } = deps.projects.environment(envId);
      if (pointer !== undefined && pointer !== 'live' && pointer !== 'current')
        throw new AppError('invalid_body', 'pointer is current or live.');
      const snapshotId =
        snapshot ?? (pointer === 'live' ? environment.liveSnapshotId : environment.snapshotId);
      // Someone else's content (a production hotfix asked for through DEV) is answered like an unknown id.
      if (
        snapshot !== undefined &&
        !deps.visibility.canReadSnapshot(c.get('principal'), environment.projectId, snapshot)
      )
        throw new AppError('snapshot_not_found');
      return c.json(deps.localData.contentWith(envId, snapshotId ?? null));
    })
    .get('/environments/:envId/problems', (c) => {
      deps.access.authorize(c.get('principal'), 'content.read', c.req.param('envId'));
      return c.json(problemsJson(deps.localData.problems(c.req.param('envId'))));
    })
    .put('/environments/:envId/content', async (c) => {
      deps.access.authorize(c.get('principal'), 'content.read', c.req.param('envId'));
      const { environment, draft } = deps.projects.environment(c.req.param('envId'));
      if (!draft) throw new AppError('read_only_environment');
      deps.access.authorize(c.get('principal'), 'content.edit', environment.id);
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
      if (!deps.rooms.edit(draft.id, 'import', (doc) => applyContent(doc, parsed.content), true))
        throw new AppError('storage_unavailable');
      // Imported items a neighbouring stage already holds alike get their merge base now (flow rules).
      deps.replication.settle(environment.projectId);
      return c.json({ problems: problemsJson(parsed.problems) });
    });

  /**
   * An environment's content: the live draft for the authoring one, else its current snapshot
   * (empty before the first Sync).
   */
  function readContent(p: Principal, envId: string): WorkspaceContent {
    deps.access.authorize(p, 'content.read', envId);
    return deps.localData.content(envId);
  }

  return routes;
}
