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
import { op } from '../describe.ts';

/** Environment-local data: variable overrides, secrets, guardrails/evaluators, runtime keys, audiences. */
export function localRoutes(deps: AppDeps) {
  const local = deps.localData;
  const read = async (c: Context<AppEnv>) =>
    await deps.access.authorize(c.get('principal'), 'content.read', c.req.param('envId')!);
  const admin = async (c: Context<AppEnv>) =>
    await deps.access.authorize(c.get('principal'), 'env.admin', c.req.param('envId')!);
  /** Readers may read; changes (and secrets, keys, whatever their method) need the environment admin. */
  const guard = (mode: 'read' | 'read-on-get' | 'admin') =>
    async function authorizeLocal(c: Context<AppEnv>, next: () => Promise<void>) {
      if (mode === 'read' || (mode === 'read-on-get' && c.req.method === 'GET')) await read(c);
      else await admin(c);
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
      .get(
        '/environments/:envId/audiences',
        op({
          id: 'listAudiences',
          tag: 'Local',
          summary: 'An environment’s audiences',
          answers: { 200: 'AudiencesView' },
          errors: ['environment_not_found'],
        }),
        async (c) =>
          c.json({
            audiences: await deps.audiences.list(c.req.param('envId')),
          } satisfies AudiencesView),
      )
      .post(
        '/environments/:envId/audiences',
        op({
          id: 'createAudience',
          tag: 'Local',
          summary: 'Create an audience',
          body: AudienceBody,
          answers: { 201: 'AudienceView' },
          errors: ['environment_not_found', 'audience_exists', 'limit_reached'],
        }),
        async (c) =>
          c.json(
            (await deps.audiences.create(
              c.get('principal'),
              c.req.param('envId'),
              await readJson(c, AudienceBody),
            )) satisfies AudienceView,
            201,
          ),
      )
      .put(
        '/environments/:envId/audiences/:id',
        op({
          id: 'updateAudience',
          tag: 'Local',
          summary: 'Change an audience',
          body: AudienceBody,
          answers: { 200: 'AudienceView' },
          errors: ['environment_not_found', 'audience_not_found', 'audience_exists'],
        }),
        async (c) =>
          c.json(
            (await deps.audiences.update(
              c.get('principal'),
              c.req.param('envId'),
              c.req.param('id'),
              await readJson(c, AudienceBody),
            )) satisfies AudienceView,
          ),
      )
      .delete(
        '/environments/:envId/audiences/:id',
        op({
          id: 'deleteAudience',
          tag: 'Local',
          summary: 'Delete an audience no content uses',
          answers: { 204: null },
          errors: ['environment_not_found', 'audience_not_found', 'audience_in_use'],
        }),
        async (c) => {
          await deps.audiences.delete(c.req.param('envId'), c.req.param('id'), c.get('principal'));
          return c.body(null, 204);
        },
      )
      .get(
        '/environments/:envId/variables',
        op({
          id: 'listVariables',
          tag: 'Local',
          summary: 'An environment’s variables and their overrides',
          answers: { 200: 'VariablesView' },
          errors: ['environment_not_found'],
        }),
        async (c) =>
          c.json({
            variables: await local.variables(c.req.param('envId')),
          } satisfies VariablesView),
      )
      .put(
        '/environments/:envId/variables/:name',
        op({
          id: 'setVariable',
          tag: 'Local',
          summary: 'Override a variable in this environment',
          body: VariableOverrideBody,
          answers: { 200: 'VariableView' },
          errors: ['environment_not_found', 'variable_not_found', 'invalid_value'],
        }),
        async (c) => {
          const { value } = await readJson(c, VariableOverrideBody);
          return c.json(
            (await local.setOverride(
              c.get('principal'),
              c.req.param('envId'),
              c.req.param('name'),
              value,
            )) satisfies VariableView,
          );
        },
      )
      .delete(
        '/environments/:envId/variables/:name',
        op({
          id: 'deleteVariableOverride',
          tag: 'Local',
          summary: 'Remove a variable’s override',
          answers: { 204: null },
          errors: ['environment_not_found', 'variable_not_found'],
        }),
        async (c) => {
          await local.deleteOverride(c.req.param('envId'), c.req.param('name'), c.get('principal'));
          return c.body(null, 204);
        },
      )
      .get(
        '/environments/:envId/secrets',
        op({
          id: 'listSecrets',
          tag: 'Local',
          summary: 'An environment’s secrets (names and dates, never values)',
          answers: { 200: 'SecretsView' },
          errors: ['environment_not_found'],
        }),
        async (c) => c.json((await local.secrets(c.req.param('envId'))) satisfies SecretsView),
      )
      .put(
        '/environments/:envId/secrets/:name',
        op({
          id: 'setSecret',
          tag: 'Local',
          summary: 'Set a secret’s value',
          body: SecretBody,
          answers: { 200: 'SecretView' },
          errors: ['environment_not_found', 'limit_reached'],
        }),
        async (c) => {
          const { value } = await readJson(c, SecretBody);
          return c.json(
            (await local.setSecret(
              c.get('principal'),
              c.req.param('envId'),
              c.req.param('name'),
              value,
            )) satisfies SecretView,
          );
        },
      )
      .delete(
        '/environments/:envId/secrets/:name',
        op({
          id: 'deleteSecret',
          tag: 'Local',
          summary: 'Delete a secret',
          answers: { 204: null },
          errors: ['environment_not_found', 'not_found'],
        }),
        async (c) => {
          await local.deleteSecret(c.req.param('envId'), c.req.param('name'), c.get('principal'));
          return c.body(null, 204);
        },
      )
      .get(
        '/environments/:envId/settings',
        op({
          id: 'getSettings',
          tag: 'Local',
          summary: 'An environment’s guardrails and evaluators',
          answers: { 200: EnvironmentSettings },
          errors: ['environment_not_found'],
        }),
        async (c) => c.json(await local.settings(c.req.param('envId'))),
      )
      .put(
        '/environments/:envId/settings',
        op({
          id: 'setSettings',
          tag: 'Local',
          summary: 'Change an environment’s guardrails and evaluators',
          body: EnvironmentSettings,
          answers: { 200: EnvironmentSettings },
          errors: ['environment_not_found'],
        }),
        async (c) =>
          c.json(
            await local.setSettings(
              c.get('principal'),
              c.req.param('envId'),
              await readJson(c, EnvironmentSettings),
            ),
          ),
      )
      .post(
        '/environments/:envId/runtime-keys',
        op({
          id: 'createRuntimeKey',
          tag: 'Local',
          summary: 'Create a runtime key (its value is shown once)',
          body: RuntimeKeyBody,
          answers: { 201: 'RuntimeKeyCreated' },
          errors: ['environment_not_found', 'limit_reached'],
        }),
        async (c) => {
          const { name } = await readJson(c, RuntimeKeyBody);
          return c.json(
            (await local.createRuntimeKey(
              c.get('principal'),
              c.req.param('envId'),
              name,
            )) satisfies RuntimeKeyCreated,
            201,
          );
        },
      )
      // RTC-8: what the runtimes report they serve, to readers of the environment (names they chose and
      // snapshot ids readers see anyway; never a key).
      .get(
        '/environments/:envId/runtimes',
        op({
          id: 'listRuntimes',
          tag: 'Delivery',
          summary: 'What the runtimes of an environment report they serve, and since when',
          answers: { 200: 'RuntimesView' },
          errors: ['environment_not_found'],
        }),
        async (c) => {
          await read(c);
          return c.json((await local.runtimesServing(c.req.param('envId'))) satisfies RuntimesView);
        },
      )
      .get(
        '/environments/:envId/runtime-keys',
        op({
          id: 'listRuntimeKeys',
          tag: 'Local',
          summary: 'An environment’s runtime keys (never their values)',
          answers: { 200: 'RuntimeKeysView' },
          errors: ['environment_not_found'],
        }),
        async (c) =>
          c.json({ keys: await local.runtimeKeys(c.req.param('envId')) } satisfies RuntimeKeysView),
      )
      .delete(
        '/environments/:envId/runtime-keys/:id',
        op({
          id: 'deleteRuntimeKey',
          tag: 'Local',
          summary: 'Revoke a runtime key',
          answers: { 204: null },
          errors: ['environment_not_found', 'not_found'],
        }),
        async (c) => {
          await local.deleteRuntimeKey(c.req.param('envId'), c.req.param('id'), c.get('principal'));
          return c.body(null, 204);
        },
      )
  );
}
