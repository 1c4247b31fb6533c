import type { LocalStore } from '../store/local.ts';
import type { ProjectStore } from '../store/projects.ts';
import type { Composition } from './composition.ts';
import { createDelivery } from './delivery.ts';
import { createRuntimeKeys } from './runtime-keys.ts';
import type { Sealer } from './sealer.ts';
import { createSecrets } from './secrets.ts';
import { createSettings } from './settings.ts';
import { createVariables } from './variables.ts';

/**
 * Environment-local data, one object for the routes and the board: what the environment shows
 * (composition.ts), variable overrides (variables.ts), secrets (secrets.ts), guardrails and
 * evaluators (settings.ts), runtime keys (runtime-keys.ts) and the delivery view (delivery.ts).
 * None of it is ever part of a snapshot or touched by a promotion. Only wiring lives here.
 */
export function createLocalData(deps: {
  projects: ProjectStore;
  store: LocalStore;
  composition: Composition;
  sealer: Sealer;
  /** Names → this environment's audience ids, for the delivery API. */
  audiences: {
    resolved(envId: string): Record<string, { id: string; description: string; rules: unknown[] }>;
  };
  limits: { maxSecretsPerEnvironment: number };
}) {
  const { projects, store, composition } = deps;
  const variables = createVariables({ projects, store, composition });
  const secrets = createSecrets({
    projects,
    store,
    composition,
    sealer: deps.sealer,
    limits: deps.limits,
  });
  const settings = createSettings({ projects, store });
  const runtimeKeys = createRuntimeKeys({ projects, store });
  const delivery = createDelivery({
    projects,
    composition,
    variables,
    settings,
    runtimeKeys,
    audiences: deps.audiences,
  });

  return {
    content: composition.content,
    pointedContents: composition.pointedContents,
    problems: composition.problems,
    contentWith: composition.contentWith,

    variables: variables.variables,
    invalidOverrides: variables.invalidOverrides,
    setOverride: variables.setOverride,
    deleteOverride: variables.deleteOverride,

    sharedWithProduction: secrets.sharedWithProduction,
    missingSecretsWith: secrets.missingSecretsWith,
    missingSecretNames: secrets.missingSecretNames,
    secrets: secrets.secrets,
    setSecret: secrets.setSecret,
    deleteSecret: secrets.deleteSecret,
    revealSecret: secrets.revealSecret,

    settings: settings.settings,
    setSettings: settings.setSettings,

    createRuntimeKey: runtimeKeys.createRuntimeKey,
    runtimeKeys: runtimeKeys.runtimeKeys,
    deleteRuntimeKey: runtimeKeys.deleteRuntimeKey,

    delivery,
  };
}

export type LocalData = ReturnType<typeof createLocalData>;
