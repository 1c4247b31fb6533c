import { Hono } from 'hono';
import { CreateProjectBody } from '#schema/api.ts';
import { AppError } from '#schema/errors.ts';
import { ALL_ROLES, can } from '#schema/permissions.ts';
import { emptyContent } from '#schema/workspace.ts';
import type { AppDeps, AppEnv } from '../context.ts';
import { readJson } from '../validate.ts';

export function projectRoutes(deps: AppDeps) {
  return new Hono<AppEnv>()
    .post('/projects', async (c) => {
      const body = await readJson(c, CreateProjectBody);
      return c.json(deps.projects.create(c.get('principal'), body), 201);
    })
    .get('/projects', (c) => c.json({ projects: deps.projects.list() }))
    .get('/projects/:id', (c) => c.json(deps.projects.get(c.req.param('id'))))
    .get('/environments/:envId/content', (c) => {
      const { environment, draft } = deps.projects.environment(c.req.param('envId'));
      if (!can(ALL_ROLES, 'content.read', { hasDraft: draft !== undefined })) throw new AppError('forbidden');
      // Later stages get their content from snapshots (issue 4); until one arrives they are empty.
      const content = draft ? deps.rooms.content(draft.id) : emptyContent();
      return c.json(content, 200, { 'X-Environment-Id': environment.id });
    });
}
