import { AppError } from '#schema/errors.ts';
import type { LocalStore } from '../store/local.ts';
import type { ProjectStore } from '../store/projects.ts';
import type { Principal } from './accounts.ts';
import type { Atomically } from './events.ts';
import { hashToken, newId, newSecretToken } from './ids.ts';
import { LIMITS, requireBelow } from './limits.ts';
import { requireEnvironment } from './require.ts';
import type { RuntimeKeyView } from '#schema/api.ts';

/** The keys a runtime reads an environment's delivery with: shown once, stored as a hash. */
export function createRuntimeKeys(deps: {
  projects: ProjectStore;
  store: LocalStore;
  atomically: Atomically;
}) {
  const { projects, store } = deps;
  return {
    async createRuntimeKey(by: Principal, envId: string, name: string) {
      const { environment: env } = await requireEnvironment(projects, envId);
      const max = LIMITS.MAX_RUNTIME_KEYS_PER_ENVIRONMENT;
      const key = newSecretToken('scr');
      const id = newId('rtk');
      // The count and the insert are one transaction: racing creates cannot pass it together (PG-136).
      await deps.atomically(async () => {
        requireBelow(
          'MAX_RUNTIME_KEYS_PER_ENVIRONMENT',
          max,
          await store.runtimeKeyCount(envId),
          `${env.name} already has ${max} runtime keys: delete one first.`,
        );
        await store.insertRuntimeKey({
          id,
          environmentId: envId,
          name,
          keyHash: hashToken(key),
          createdBy: by.user.id,
          createdAt: Date.now(),
        });
      });
      return { id, name, key };
    },
    async runtimeKeys(envId: string): Promise<RuntimeKeyView[]> {
      await requireEnvironment(projects, envId);
      return (await store.runtimeKeys(envId)).map((k) => ({
        id: k.id,
        name: k.name,
        createdAt: new Date(k.createdAt).toISOString(),
      }));
    },
    async deleteRuntimeKey(envId: string, id: string): Promise<void> {
      if (!(await store.deleteRuntimeKey(envId, id)))
        throw new AppError('not_found', 'No such runtime key here.');
    },
    /** The environment a runtime key opens (undefined: no such key). */
    environmentOf: async (runtimeKey: string): Promise<string | undefined> =>
      await store.runtimeKeyEnvironment(hashToken(runtimeKey)),
  };
}

export type RuntimeKeys = ReturnType<typeof createRuntimeKeys>;
