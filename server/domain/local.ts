import type { LocalStore } from '../store/local.ts';
import type { ProjectStore } from '../store/projects.ts';
import type { Composition } from './composition.ts';
import { createDelivery } from './delivery.ts';
import { createRuntimeKeys } from './runtime-keys.ts';
import { createRuntimeReports } from './runtime-reports.ts';
import type { Sealer } from './sealer.ts';
import { createSecrets } from './secrets.ts';
import { createSettings } from './settings.ts';
import { createVariables } from './variables.ts';
import { announcer, type Atomically, type Emit, type NewProjectEvent } from './events.ts';
import type { Principal } from './accounts.ts';
import { isProduction } from '#schema/pipeline.ts';
import type { RuntimesView } from '#schema/api.ts';
import { requireEnvironment } from './require.ts';

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
  audiences: Parameters<typeof createDelivery>[0]['audiences'];
  limits: { maxSecretsPerEnvironment: number; deliveryRuntimesPerEnvironment: number };
  /** Release records, for pinned delivery reads and when the served snapshot arrived. */
  releases: Parameters<typeof createDelivery>[0]['releases'];
  /** The project event log: a `local` event of the stage, in each change's transaction (never a secret's name). */
  emit: Emit;
  atomically: Atomically;
}) {
  const { projects, store, composition } = deps;
  const variables = createVariables({ projects, store, composition });
  const secrets = createSecrets({
    projects,
    store,
    composition,
    sealer: deps.sealer,
    limits: deps.limits,
    atomically: deps.atomically,
  });
  const settings = createSettings({ projects, store });
  const runtimeKeys = createRuntimeKeys({ projects, store, atomically: deps.atomically });
  const delivery = createDelivery({
    projects,
    composition,
    variables,
    settings,
    runtimeKeys,
    audiences: deps.audiences,
    releases: deps.releases,
  });

  const runtimes = createRuntimeReports({
    maxPerEnvironment: deps.limits.deliveryRuntimesPerEnvironment,
    // Production's runtimes are on the board: a `runtimes` event makes open boards refetch.
    changed: async (envId) => {
      try {
        const found = await projects.getEnvironment(envId);
        if (!found) return;
        const { environment: env } = found;
        const project = await projects.getProject(env.projectId);
        if (!project || !isProduction(env, project)) return;
        await deps.emit({
          projectId: env.projectId,
          environmentId: envId,
          kind: 'runtimes',
          actorId: null,
        });
      } catch {
        // The database refused (full, locked, closed at shutdown): boards show it at their next refetch.
      }
    },
  });

  const announce = announcer(deps.atomically, deps.emit);
  /** The `local` event of a change in `envId` (the area only: no names, no values). */
  const local =
    (envId: string, by: Principal | null, area: string) => async (): Promise<NewProjectEvent> => ({
      projectId: (await projects.getEnvironment(envId))!.environment.projectId,
      environmentId: envId,
      kind: 'local',
      actorId: by?.user.id ?? null,
      subject: { area },
    });

  return {
    content: composition.content,
    pointedContents: composition.pointedContents,
    problems: composition.problems,
    contentWith: composition.contentWith,

    variables: variables.variables,
    invalidOverrides: variables.invalidOverrides,
    setOverride: async (by: Principal, envId: string, name: string, value: string) =>
      await announce(
        async () => await variables.setOverride(by, envId, name, value),
        local(envId, by, 'variables'),
      ),
    deleteOverride: async (envId: string, name: string, by: Principal | null = null) =>
      await announce(
        async () => await variables.deleteOverride(envId, name),
        local(envId, by, 'variables'),
      ),

    sharedWithProduction: secrets.sharedWithProduction,
    missingSecretsWith: secrets.missingSecretsWith,
    missingSecretNames: secrets.missingSecretNames,
    secrets: secrets.secrets,
    setSecret: async (by: Principal, envId: string, name: string, value: string) =>
      await announce(
        async () => await secrets.setSecret(by, envId, name, value),
        local(envId, by, 'secrets'),
      ),
    deleteSecret: async (envId: string, name: string, by: Principal | null = null) =>
      await announce(
        async () => await secrets.deleteSecret(envId, name),
        local(envId, by, 'secrets'),
      ),
    revealSecret: secrets.revealSecret,

    settings: settings.settings,
    setSettings: async (
      by: Principal,
      envId: string,
      value: Parameters<typeof settings.setSettings>[2],
    ) =>
      await announce(
        async () => await settings.setSettings(by, envId, value),
        local(envId, by, 'settings'),
      ),

    createRuntimeKey: async (by: Principal, envId: string, name: string) =>
      await announce(
        async () => await runtimeKeys.createRuntimeKey(by, envId, name),
        local(envId, by, 'runtime-keys'),
      ),
    runtimeKeys: runtimeKeys.runtimeKeys,
    deleteRuntimeKey: async (envId: string, id: string, by: Principal | null = null) =>
      await announce(
        async () => await runtimeKeys.deleteRuntimeKey(envId, id),
        local(envId, by, 'runtime-keys'),
      ),

    delivery,
    /** What the environment's runtime instances report they serve (RTC-8). */
    async runtimesServing(envId: string): Promise<RuntimesView> {
      const { environment: env } = await requireEnvironment(projects, envId);
      const production = isProduction(env, (await projects.getProject(env.projectId))!);
      const served = (production ? env.liveSnapshotId : env.snapshotId) ?? null;
      const move = await deps.releases.lastMove(env.id, production ? 'live' : 'current');
      const publishedAt = move && move.toSnapshotId === served ? move.createdAt : null;
      const iso = (ms: number) => new Date(ms).toISOString();
      return {
        runtimes: runtimes.list(envId).map((r) => ({
          instance: r.instance,
          snapshotId: r.snapshotId,
          lastSeenAt: iso(r.lastSeenAt),
          pickedUpAt: served !== null && r.snapshotId === served ? iso(r.pickedUpAt) : null,
          streaming: r.streaming,
        })),
        liveSnapshotId: served,
        publishedAt: publishedAt === null ? null : iso(publishedAt),
      };
    },
    /** What runtimes report they serve (`Stagecoach-Runtime`), for the board. */
    runtimes,
  };
}

export type LocalData = ReturnType<typeof createLocalData>;
