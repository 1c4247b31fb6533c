import { Hono, type Context } from 'hono';
import {
  AudienceBody,
  EnvironmentSettings,
  RuntimeKeyBody,
  SecretBody,
  VariableOverrideBody,
} from '#schema/local.ts';
import type {
  AudiencesView,
  AudienceView,
  RuntimeKeyCreated,
  RuntimeKeysView,
  RuntimesView,
  SecretsView,
  SecretView,
  VariablesView,
  VariableView,
} from '#schema/api.ts';
import type { AppDeps, AppEnv } from '../context.ts';
import { readJson } from '../validate.ts';

/** Environment-local data: variable overrides, secrets, guardrails/evaluators, runtime keys, audiences. */
export function localRoutes(deps: AppDeps) {
  const local = deps.localData;
  const read = (c: Context<AppEnv>) =>
    deps.access.authorize(c.get('principal'), 'content.read', c.req.param('envId')!);
  const admin = (c: Context<AppEnv>) =>
    deps.access.authorize(c.get('principal'), 'env.admin', c.req.param('envId')!);
  /** Readers may read; changes (and secrets, keys, whatever their method) need the environment admin. */
  const guard = (mode: 'read' | 'read-on-get' | 'admin') =>
    async function authorizeLocal(c: Context<AppEnv>, next: () => Promise<void>) {
      if (mode === 'read' || (mode === 'read-on-get' && c.req.method === 'GET')) read(c);
      else admin(c);
      await next();
    };
  return (
    new Hono<AppEnv>()
      .use('/environments/:envId/variables', guard('read'))
      .use('/environments/:envId/variables/*', guard('read-on-get'))
      .use('/environments/:envId/settings', guard('read-on-get'))
      .use('/environments/:envId/secrets', guard('admin'))
      .use('/environments/:envId/secrets/*', guard('admin'))
      .use('/environments/:envId/runtime-keys', guard('admin'))
      .use('/environments/:envId/runtime-keys/*', guard('admin'))
      .use('/environments/:envId/audiences', guard('read-on-get'))
      .use('/environments/:envId/audiences/*', guard('read-on-get'))
      .get('/environments/:envId/audiences', (c) =>
        c.json({ audiences: deps.audiences.list(c.req.param('envId')) } satisfies AudiencesView),
      )
      .post('/environments/:envId/audiences', async (c) =>
        c.json(
          deps.audiences.create(
            c.get('principal'),
            c.req.param('envId'),
            await readJson(c, AudienceBody),
          ) satisfies AudienceView,
          201,
        ),
      )
      .put('/environments/:envId/audiences/:id', async (c) =>
        c.json(
          deps.audiences.update(
            c.get('principal'),
            c.req.param('envId'),
            c.req.param('id'),
            await readJson(c, AudienceBody),
          ) satisfies AudienceView,
        ),
      )
      .delete('/environments/:envId/audiences/:id', (c) => {
        deps.audiences.delete(c.req.param('envId'), c.req.param('id'), c.get('principal'));
        return c.body(null, 204);
      })
      .get('/environments/:envId/variables', (c) =>
        c.json({ variables: local.variables(c.req.param('envId')) } satisfies VariablesView),
      )
      .put('/environments/:envId/variables/:name', async (c) => {
        const { value } = await readJson(c, VariableOverrideBody);
        return c.json(
          local.setOverride(
            c.get('principal'),
            c.req.param('envId'),
            c.req.param('name'),
            value,
          ) satisfies VariableView,
        );
      })
      .delete('/environments/:envId/variables/:name', (c) => {
        local.deleteOverride(c.req.param('envId'), c.req.param('name'), c.get('principal'));
        return c.body(null, 204);
      })
      .get('/environments/:envId/secrets', (c) =>
        c.json(local.secrets(c.req.param('envId')) satisfies SecretsView),
      )
      .put('/environments/:envId/secrets/:name', async (c) => {
        const { value } = await readJson(c, SecretBody);
        return c.json(
          local.setSecret(
            c.get('principal'),
            c.req.param('envId'),
            c.req.param('name'),
            value,
          ) satisfies SecretView,
        );
      })
      .delete('/environments/:envId/secrets/:name', (c) => {
        local.deleteSecret(c.req.param('envId'), c.req.param('name'), c.get('principal'));
        return c.body(null, 204);
      })
      .get('/environments/:envId/settings', (c) => c.json(local.settings(c.req.param('envId'))))
      .put('/environments/:envId/settings', async (c) =>
        c.json(
          local.setSettings(
            c.get('principal'),
            c.req.param('envId'),
            await readJson(c, EnvironmentSettings),
          ),
        ),
      )
      .post('/environments/:envId/runtime-keys', async (c) => {
        const { name } = await readJson(c, RuntimeKeyBody);
        return c.json(
          local.createRuntimeKey(
            c.get('principal'),
            c.req.param('envId'),
            name,
          ) satisfies RuntimeKeyCreated,
          201,
        );
      })
      // RTC-8: what the runtimes report they serve, to readers of the environment (names they chose and
      // snapshot ids readers see anyway; never a key).
      .get('/environments/:envId/runtimes', (c) => {
        read(c);
        return c.json(local.runtimesServing(c.req.param('envId')) satisfies RuntimesView);
      })
      .get('/environments/:envId/runtime-keys', (c) =>
        c.json({ keys: local.runtimeKeys(c.req.param('envId')) } satisfies RuntimeKeysView),
      )
      .delete('/environments/:envId/runtime-keys/:id', (c) => {
        local.deleteRuntimeKey(c.req.param('envId'), c.req.param('id'), c.get('principal'));
        return c.body(null, 204);
      })
  );
}
