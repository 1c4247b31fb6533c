import { Hono } from 'hono';
import { CreateProjectBody } from '#schema/api.ts';
import { AppError } from '#schema/errors.ts';
import { ALL_ROLES, can } from '#schema/permissions.ts';
import { applyContent, type WorkspaceContent } from '#schema/content/ydoc.ts';
import { problemsJson, validateContent } from '#schema/content/validate.ts';
import { parseWorkspaceFile } from '#schema/content/file.ts';
import type { AppDeps, AppEnv } from '../context.ts';
import { readJson } from '../validate.ts';

export function projectRoutes(deps: AppDeps) {
  const routes = new Hono<AppEnv>()
    .post('/projects', async (c) => {
      const body = await readJson(c, CreateProjectBody);
      return c.json(deps.projects.create(c.get('principal'), body), 201);
    })
    .get('/projects', (c) => c.json({ projects: deps.projects.list() }))
    .get('/projects/:id', (c) => c.json(deps.projects.get(c.req.param('id'))))
    .get('/environments/:envId/content', (c) => c.json(readContent(c.req.param('envId'))))
    .get('/environments/:envId/problems', (c) => c.json(problemsJson(validateContent(readContent(c.req.param('envId'))))))
    .put('/environments/:envId/content', async (c) => {
      const { environment, draft } = deps.projects.environment(c.req.param('envId'));
      if (!draft || environment.position !== 0) throw new AppError('read_only_environment');
      if (!can(ALL_ROLES, 'content.edit', { hasDraft: true })) throw new AppError('forbidden');
      let body: unknown;
      try {
        body = await c.req.json();
      } catch {
        throw new AppError('invalid_json');
      }
      const parsed = parseWorkspaceFile(body);
      if (!parsed.ok) throw new AppError('invalid_workspace', `This is not a valid workspace: ${parsed.errors.slice(0, 3).join(' ')}${parsed.errors.length > 3 ? ' …' : ''} Nothing was changed.`, parsed.errors);
      if (!deps.rooms.edit(draft.id, 'import', (doc) => applyContent(doc, parsed.content))) throw new AppError('internal', 'The draft could not be stored. Try again.');
      return c.json({ problems: problemsJson(parsed.problems) });
    });

  /** An environment's content: the live draft for the authoring one, else its current snapshot (empty before the first Sync). */
  function readContent(envId: string): WorkspaceContent {
    const { environment } = deps.projects.environment(envId);
    if (!can(ALL_ROLES, 'content.read', { hasDraft: environment.position === 0 })) throw new AppError('forbidden');
    return deps.localData.content(envId);
  }

  return routes;
}
