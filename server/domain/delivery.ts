import { AppError } from '#schema/errors.ts';
import { SECTIONS } from '#schema/content/spec.ts';
import { canonicalContent, canonicalJson } from '#schema/content/canonical.ts';
import { typedValue, valueFitsType } from '#schema/content/values.ts';
import { isProduction } from '#schema/pipeline.ts';
import type { DeliveryBody } from '#schema/api.ts';
import type { WorkspaceContent } from '#schema/content/ydoc.ts';
import type { AudienceRule } from '#schema/local.ts';
import type { ProjectStore } from '../store/projects.ts';
import type { ReleaseStore } from '../store/releases.ts';
import { sha256 } from '../lib/hash.ts';
import type { Composition } from './composition.ts';
import { requireEnvironment } from './require.ts';
import type { RuntimeKeys } from './runtime-keys.ts';
import type { Settings } from './settings.ts';
import { addressOf } from './snapshots.ts';
import type { Variables } from './variables.ts';

/**
 * What the runtime reads: production's live snapshot (elsewhere the current one), with
 * variables at their effective values. Secret values are never part of it.
 */
export function createDelivery(deps: {
  projects: ProjectStore;
  composition: Composition;
  variables: Pick<Variables, 'variables'>;
  settings: Pick<Settings, 'stored'>;
  runtimeKeys: Pick<RuntimeKeys, 'environmentOf'>;
  /** Release records: which snapshots were ever served here (pinned reads), and when the served one arrived. */
  releases: Pick<ReleaseStore, 'wasEverAt' | 'lastMove'>;
  /** Names → this environment's audience ids, for the delivery API. */
  audiences: {
    resolved(
      envId: string,
    ): Promise<Record<string, { id: string; description: string; rules: AudienceRule[] }>>;
  };
}) {
  const { projects, composition } = deps;
  /** Delivery answers by environment, valid while their ETag is. */
  const deliveryCache = new Map<string, { etag: string; body: Uint8Array<ArrayBuffer> }>();
  /** Pinned answers (`?snapshot=`): one per environment, apart from the current one. */
  const pinnedCache = new Map<string, { etag: string; body: Uint8Array<ArrayBuffer> }>();

  /**
   * The answer for `envId` (its ETag at once; the body only when asked). `pinned`: a snapshot that is
   * or was served here (production: its live pointer's history; other stages: their current
   * pointer's), with today's overlay; any other id is `404 snapshot_not_found`, unknown or not.
   */
  return async function delivery(envId: string, runtimeKey: string | undefined, pinned?: string) {
    const keyEnv = runtimeKey ? await deps.runtimeKeys.environmentOf(runtimeKey) : undefined;
    if (!keyEnv || keyEnv !== envId)
      throw new AppError(
        'unauthenticated',
        'Send a runtime key of this environment as "Authorization: Bearer <key>".',
      );
    const { environment: env, draft } = await requireEnvironment(projects, envId);
    const production = isProduction(env, (await projects.getProject(env.projectId))!);
    const pointer = production ? 'live' : 'current';
    const servedId = production ? env.liveSnapshotId : env.snapshotId;
    if (
      pinned !== undefined &&
      pinned !== servedId &&
      (pinned.length > 200 || !(await deps.releases.wasEverAt(env.id, pointer, pinned)))
    )
      throw new AppError('snapshot_not_found', `That snapshot was never served by ${env.name}.`);
    const snapshotId = pinned ?? servedId;
    if (!snapshotId)
      throw new AppError(
        production ? 'nothing_live' : 'nothing_to_sync',
        production ? 'Nothing is live in production yet.' : `${env.name} has no snapshot yet.`,
      );
    // Flow rules: the sections it holds itself are served live from its draft, and their
    // content address joins the ETag (addresses are memoized per unchanged draft item).
    const { held, live } = await composition.ownSections(env, draft);
    const ownTag = live
      ? `.${sha256(canonicalJson(Object.fromEntries(held.map((s) => [s, Object.fromEntries(Object.entries(live[s]).map(([id, item]) => [id, addressOf(s, item)]))])))).slice(0, 16)}`
      : '';
    const etag = `"${snapshotId}.${env.overlayRevision}${ownTag}"`;
    const build = async () => {
      const c = await composition.composeAt(env, draft, snapshotId);
      const vars = (await deps.variables.variables(envId, c)).filter((v) => !v.orphaned);
      return {
        environment: { id: env.id, name: env.name, kind: env.kind },
        snapshotId,
        overlayRevision: env.overlayRevision,
        // A default that does not parse (a variable held live in an environment, never validated by
        // a freeze) is served as no value, never a 500.
        variables: Object.fromEntries(
          vars.map((v) => [
            v.name,
            {
              type: v.type,
              value: valueFitsType(v.type, v.effectiveValue)
                ? typedValue(v.type, v.effectiveValue)
                : null,
            },
          ]),
        ),
        /**
         * Overrides served at the snapshot's default because they no longer fit: names and reasons,
         * never the value.
         */
        invalidOverrides: vars.flatMap((v) =>
          v.invalidOverride ? [{ key: v.name, reason: v.invalidOverride }] : [],
        ),
        audiences: await deps.audiences.resolved(envId),
        settings: await deps.settings.stored(envId),
        content: Object.fromEntries(
          SECTIONS.map((s) => [s, canonicalContent(c)[s]]),
        ) as WorkspaceContent,
      } satisfies DeliveryBody;
    };
    const cache = pinned === undefined ? deliveryCache : pinnedCache;
    return {
      etag,
      projectId: env.projectId,
      snapshotId,
      overlayRevision: env.overlayRevision,
      /** When the snapshot served now arrived (the newest move of the pointer; null: no record). */
      publishedAt: async (): Promise<number | null> => {
        const move = await deps.releases.lastMove(env.id, pointer);
        return move?.toSnapshotId === servedId ? move.createdAt : null;
      },
      /** The serialized answer; built once per ETag (snapshot + overlay revision), then served from memory. */
      body: async (): Promise<Uint8Array<ArrayBuffer>> => {
        const cached = cache.get(envId);
        if (cached?.etag === etag) return cached.body;
        const body = new TextEncoder().encode(JSON.stringify(await build()));
        cache.set(envId, { etag, body });
        return body;
      },
    };
  };
}

export type Delivery = ReturnType<typeof createDelivery>;
