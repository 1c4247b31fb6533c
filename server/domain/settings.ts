import { DEFAULT_SETTINGS, EnvironmentSettings } from '#schema/local.ts';
import type { LocalStore } from '../store/local.ts';
import type { ProjectStore } from '../store/projects.ts';
import type { Principal } from './accounts.ts';
import { requireEnvironment } from './require.ts';

/** An environment's guardrails and evaluators: environment-local, never in a snapshot. */
export function createSettings(deps: { projects: ProjectStore; store: LocalStore }) {
  const { projects, store } = deps;
  return {
    settings(envId: string): EnvironmentSettings {
      requireEnvironment(projects, envId);
      const row = store.settings(envId);
      return row ? EnvironmentSettings.parse(row.json) : DEFAULT_SETTINGS;
    },

    /** As stored (validated when it was set), for the delivery answer. */
    stored(envId: string): EnvironmentSettings {
      const row = store.settings(envId);
      return row ? row.json : DEFAULT_SETTINGS;
    },

    setSettings(by: Principal, envId: string, settings: EnvironmentSettings): EnvironmentSettings {
      requireEnvironment(projects, envId);
      store.setSettings({
        environmentId: envId,
        json: settings,
        updatedBy: by.user.id,
        updatedAt: Date.now(),
      });
      return settings;
    },
  };
}

export type Settings = ReturnType<typeof createSettings>;
