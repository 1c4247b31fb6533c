import { AppError } from '#schema/errors.ts';
import { canonicalContent } from '#schema/content/canonical.ts';
import type { Atomically } from './events.ts';
import type { WorkspaceContent } from '#schema/content/ydoc.ts';
import { SECRET_NAME } from '#schema/local.ts';
import { productionOf } from '#schema/pipeline.ts';
import type { LocalStore } from '../store/local.ts';
import type { ProjectStore } from '../store/projects.ts';
import type { Principal } from './accounts.ts';
import type { Composition } from './composition.ts';
import { requireEnvironment } from './require.ts';
import type { Sealer } from './sealer.ts';
import { requireBelow } from './limits.ts';
import type { SecretsView } from '#schema/api.ts';
import { mapInOrder } from '../lib/in-order.ts';

/**
 * An environment's secrets: sealed at rest, named by the content's integrations, never returned
 * once saved and never part of a snapshot.
 */
export function createSecrets(deps: {
  projects: ProjectStore;
  store: LocalStore;
  composition: Composition;
  sealer: Sealer;
  limits: { maxSecretsPerEnvironment: number };
  atomically: Atomically;
}) {
  const { projects, store, composition, sealer } = deps;

  /** Secrets the content's integrations use by name, and which are not set here. */
  async function missingSecrets(
    envId: string,
    from: WorkspaceContent,
  ): Promise<{ name: string; usedBy: { itemId: string; name: string }[] }[]> {
    const set = new Set((await store.secrets(envId)).map((s) => s.name));
    const used = new Map<string, { itemId: string; name: string }[]>();
    for (const [itemId, i] of Object.entries(canonicalContent(from).integrations)) {
      if (i.authType === 'none' || !i.authSecret) continue;
      const list = used.get(i.authSecret as string) ?? [];
      list.push({ itemId, name: i.name as string });
      used.set(i.authSecret as string, list);
    }
    return [...used].filter(([name]) => !set.has(name)).map(([name, usedBy]) => ({ name, usedBy }));
  }

  return {
    /**
     * Secrets of lower environments whose value equals one of production's (compared by keyed
     * hash in memory; no value or hash leaves the server): a test bot must not hold production
     * credentials.
     */
    async sharedWithProduction(
      projectId: string,
    ): Promise<{ environmentId: string; name: string; productionName: string }[]> {
      const envs = (await projects.getProject(projectId))?.environments ?? [];
      const prod = productionOf(envs);
      if (!prod) return [];
      const prints = async (envId: string) =>
        (await store.secrets(envId)).flatMap((s) => {
          try {
            return [
              {
                name: s.name,
                print: sealer.fingerprint(sealer.open(s.sealed, `${envId}/${s.name}`)),
              },
            ];
          } catch {
            return []; // a row that does not open is reported by the secrets view, not here
          }
        });
      const production = new Map((await prints(prod.id)).map((p) => [p.print, p.name]));
      if (production.size === 0) return [];
      return (
        await mapInOrder(envs.slice(0, -1), async (e) =>
          (await prints(e.id)).flatMap((p) =>
            production.has(p.print)
              ? [{ environmentId: e.id, name: p.name, productionName: production.get(p.print)! }]
              : [],
          ),
        )
      ).flat();
    },

    /**
     * Secret names the environment's content (with `snapshotId` in place) uses and it lacks: names
     * only, never values.
     */
    async missingSecretsWith(envId: string, snapshotId: string): Promise<string[]> {
      return (await missingSecrets(envId, await composition.contentWith(envId, snapshotId)))
        .map((m) => m.name)
        .sort();
    },
    /** The same for what the environment holds now (production: its current and live content). */
    async missingSecretNames(envId: string): Promise<string[]> {
      const names = new Set(
        (
          await mapInOrder(await composition.pointedContents(envId), async (p) =>
            (await missingSecrets(envId, p.content)).map((m) => m.name),
          )
        ).flat(),
      );
      return [...names].sort();
    },

    /** Names and dates only: a value is never returned once saved. */
    async secrets(envId: string): Promise<SecretsView> {
      await requireEnvironment(projects, envId);
      return {
        secrets: (await store.secrets(envId))
          .map((s) => ({
            name: s.name,
            updatedBy: s.updatedBy,
            updatedAt: new Date(s.updatedAt).toISOString(),
          }))
          .sort((a, b) => a.name.localeCompare(b.name)),
        missing: await missingSecrets(envId, await composition.content(envId)),
      };
    },

    async setSecret(by: Principal, envId: string, name: string, value: string) {
      const { environment: env } = await requireEnvironment(projects, envId);
      if (!SECRET_NAME.test(name))
        throw new AppError(
          'invalid_body',
          'A secret name is UPPER_SNAKE_CASE, like ORDERS_API_TOKEN.',
        );
      // Replacing a value is always allowed; only a new name counts against the limit.
      const max = deps.limits.maxSecretsPerEnvironment;
      const now = Date.now();
      const sealed = sealer.seal(value, `${envId}/${name}`);
      // The count and the write are one transaction: racing new names cannot pass it together (PG-136).
      await deps.atomically(async () => {
        if (!(await store.hasSecret(envId, name)))
          requireBelow(
            'MAX_SECRETS_PER_ENVIRONMENT',
            max,
            await store.secretCount(envId),
            `${env.name} already has ${max} secrets: delete one first.`,
          );
        await store.setSecret({
          environmentId: envId,
          name,
          sealed,
          updatedBy: by.user.id,
          updatedAt: now,
        });
      });
      return { name, updatedBy: by.user.id, updatedAt: new Date(now).toISOString() };
    },

    async deleteSecret(envId: string, name: string): Promise<void> {
      await requireEnvironment(projects, envId);
      if (!(await store.deleteSecret(envId, name)))
        throw new AppError('not_found', 'No secret with this name here.');
    },

    /** For the runtime's integration calls later; never sent through the HTTP API. */
    async revealSecret(envId: string, name: string): Promise<string | null> {
      const row = (await store.secrets(envId)).find((s) => s.name === name);
      return row ? sealer.open(row.sealed, `${envId}/${name}`) : null;
    },
  };
}

export type Secrets = ReturnType<typeof createSecrets>;
