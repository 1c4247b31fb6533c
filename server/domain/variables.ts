import { AppError } from '#schema/errors.ts';
import { canonicalContent } from '#schema/content/canonical.ts';
import type { WorkspaceContent } from '#schema/content/ydoc.ts';
import { overrideProblem, valueFitsType } from '#schema/content/values.ts';
import type { LocalStore } from '../store/local.ts';
import type { ProjectStore } from '../store/projects.ts';
import type { Principal } from './accounts.ts';
import type { Composition } from './composition.ts';
import { requireEnvironment } from './require.ts';
import type { VariableView } from '#schema/api.ts';
import { mapInOrder } from '../lib/in-order.ts';

/**
 * Variable overrides: an environment's own values for the content's variables. Environment-local:
 * never part of a snapshot, never touched by a promotion.
 */
export function createVariables(deps: {
  projects: ProjectStore;
  store: LocalStore;
  composition: Composition;
}) {
  const { store, composition } = deps;

  /** Variables with their values here; `from` = another content of this environment (a pinned snapshot). */
  async function variables(envId: string, given?: WorkspaceContent): Promise<VariableView[]> {
    const from = given ?? (await composition.content(envId));
    const overrides = new Map((await store.overrides(envId)).map((o) => [o.name, o]));
    const out: VariableView[] = Object.values(canonicalContent(from).variables).map((v) => {
      const o = overrides.get(v.name as string);
      overrides.delete(v.name as string);
      // Judged against this content's type: an override set for a string breaks nothing when a Sync makes it a number.
      const invalidOverride = o ? overrideProblem(v.type as string, o.value) : null;
      return {
        name: v.name as string,
        type: v.type as string,
        description: v.description as string,
        defaultValue: v.defaultValue as string,
        override: o
          ? {
              value: o.value,
              updatedBy: o.updatedBy,
              updatedAt: new Date(o.updatedAt).toISOString(),
            }
          : null,
        effectiveValue: o && !invalidOverride ? o.value : (v.defaultValue as string),
        orphaned: false,
        invalidOverride,
      };
    });
    for (const o of overrides.values()) {
      out.push({
        name: o.name,
        type: 'string',
        description: '',
        defaultValue: '',
        override: {
          value: o.value,
          updatedBy: o.updatedBy,
          updatedAt: new Date(o.updatedAt).toISOString(),
        },
        effectiveValue: o.value,
        orphaned: true,
        invalidOverride: null,
      });
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  return {
    variables: async (envId: string, from?: WorkspaceContent) => await variables(envId, from),

    /**
     * The variables whose override here no longer fits their type, in what the environment's
     * pointers hold (production: current and live). Names only: for the board.
     */
    async invalidOverrides(envId: string): Promise<string[]> {
      if ((await store.overrides(envId)).length === 0) return [];
      const keys = (
        await mapInOrder(await composition.pointedContents(envId), async ({ content: c }) =>
          (await variables(envId, c)).filter((v) => v.invalidOverride).map((v) => v.name),
        )
      ).flat();
      return [...new Set(keys)].sort();
    },

    async setOverride(
      by: Principal,
      envId: string,
      name: string,
      value: string,
    ): Promise<VariableView> {
      const v = (await variables(envId)).find((x) => x.name === name && !x.orphaned);
      if (!v) throw new AppError('variable_not_found');
      if (value !== '' && !valueFitsType(v.type, value))
        throw new AppError('invalid_value', `“${value.slice(0, 40)}” is not a valid ${v.type}.`);
      await store.setOverride({
        environmentId: envId,
        name,
        value,
        updatedBy: by.user.id,
        updatedAt: Date.now(),
      });
      return (await variables(envId)).find((x) => x.name === name)!;
    },

    async deleteOverride(envId: string, name: string): Promise<void> {
      await requireEnvironment(deps.projects, envId);
      if (!(await store.deleteOverride(envId, name)))
        throw new AppError('variable_not_found', 'This variable has no override here.');
    },
  };
}

export type Variables = ReturnType<typeof createVariables>;
