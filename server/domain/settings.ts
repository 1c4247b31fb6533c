import { DEFAULT_SETTINGS, EnvironmentSettings } from '#schema/local.ts';
import type { LocalStore } from '../store/local.ts';
import type { ProjectStore } from '../store/projects.ts';
import type { Principal } from './accounts.ts';
import { requireEnvironment } from './require.ts';

/** An environment's guardrails and evaluators: environment-local, never in a snapshot. */
export function createSettings(deps: { projects: ProjectStore; store: LocalStore }) {
  const { projects, store } = deps;
  return {
    async settings(envId: string): Promise<EnvironmentSettings> {
      await requireEnvironment(projects, envId);
      const row = await store.settings(envId);
      return row ? EnvironmentSettings.parse(row.json) : DEFAULT_SETTINGS;
    },

    /** As stored (validated when it was set), for the delivery answer. */
    async stored(envId: string): Promise<EnvironmentSettings> {
      const row = await store.settings(envId);
      return row ? row.json : DEFAULT_SETTINGS;
    },

    async setSettings(
      by: Principal,
      envId: string,
      settings: EnvironmentSettings,
    ): Promise<EnvironmentSettings> {
      await requireEnvironment(projects, envId);
      await store.setSettings({
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
