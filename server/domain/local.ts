import { AppError } from '#schema/errors.ts';
import { SECTIONS } from '#schema/content/spec.ts';
import { canonicalContent, canonicalJson } from '#schema/content/canonical.ts';
import { sha256 } from '../lib/hash.ts';
import { emptyContent, type WorkspaceContent } from '#schema/content/ydoc.ts';
import { overrideProblem, typedValue, valueFitsType } from '#schema/content/values.ts';
import { DEFAULT_SETTINGS, EnvironmentSettings, SECRET_NAME } from '#schema/local.ts';
import type { LocalStore } from '../store/local.ts';
import type { DraftRow, EnvironmentRow, ProjectStore } from '../store/projects.ts';
import { heldSections, sectionsNotArrived } from '#schema/flow.ts';
import { validateContent, type Problem } from '#schema/content/validate.ts';
import type { Principal } from './accounts.ts';
import type { Drafts } from './ports.ts';
import { addressOf, type Snapshots } from './snapshots.ts';
import type { Sealer } from './sealer.ts';
import { hashToken, newId, newSecretToken } from './ids.ts';
import { LIMITS, requireBelow } from './limits.ts';

export interface VariableView {
  name: string;
  type: string;
  description: string;
  defaultValue: string;
  override: { value: string; updatedBy: string; updatedAt: string } | null;
  /** The override's value when it fits the variable's type, else the default. */
  effectiveValue: string;
  /** An override whose variable is no longer in this environment's content. */
  orphaned: boolean;
  /** Why the override no longer fits the variable's type (a Sync changed it), in words; null when it fits or there is none. */
  invalidOverride: string | null;
}

/**
 * Environment-local data: variable overrides, secrets, guardrails and evaluators, runtime
 * keys, and the delivery view. None of it is ever part of a snapshot or touched by a promotion.
 */
export function createLocalData(deps: {
  projects: ProjectStore;
  store: LocalStore;
  snapshots: Snapshots;
  drafts: Pick<Drafts, 'read'>;
  sealer: Sealer;
  /** Names → this environment's audience ids, for the delivery API. */
  audiences: { resolved(envId: string): Record<string, { id: string; description: string; rules: unknown[] }> };
  limits: { maxSecretsPerEnvironment: number };
}) {
  const { projects, store, snapshots, sealer } = deps;
  /** Delivery answers by environment, valid while their ETag is. */
  const deliveryCache = new Map<string, { etag: string; body: Uint8Array<ArrayBuffer> }>();

  function environment(envId: string) {
    const found = projects.getEnvironment(envId);
    if (!found) throw new AppError('environment_not_found');
    return found;
  }

  /** Flow rules: the sections this project's environments hold themselves (`down`, `local`). */
  const heldIn = (projectId: string) => heldSections(projects.flowRules(projectId));

  /**
   * An environment's content with `snapshotId` in place: the snapshot's `up` sections plus the
   * sections it holds itself, live from its own draft (empty where it has none).
   */
  function compose(env: EnvironmentRow, draft: DraftRow | undefined, snapshotId: string | null): WorkspaceContent {
    const held = heldIn(env.projectId);
    const up = SECTIONS.filter((s) => !held.includes(s));
    const out = snapshotId ? snapshots.content(env.projectId, snapshotId, up) : emptyContent();
    if (draft && held.length > 0) {
      const live = deps.drafts.read(draft.id);
      for (const s of held) out[s] = live[s];
    }
    return out;
  }

  /** What this environment holds now: the whole draft (authoring), else its current snapshot composed as above. */
  function content(envId: string): WorkspaceContent {
    const { environment: env, draft } = environment(envId);
    if (env.position === 0 && draft) return deps.drafts.read(draft.id);
    return compose(env, draft, env.snapshotId);
  }

  function variables(envId: string, from: WorkspaceContent = content(envId)): VariableView[] {
    const overrides = new Map(store.overrides(envId).map((o) => [o.name, o]));
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
        override: o ? { value: o.value, updatedBy: o.updatedBy, updatedAt: new Date(o.updatedAt).toISOString() } : null,
        effectiveValue: o && !invalidOverride ? o.value : (v.defaultValue as string),
        orphaned: false,
        invalidOverride,
      };
    });
    for (const o of overrides.values()) {
      out.push({ name: o.name, type: 'string', description: '', defaultValue: '', override: { value: o.value, updatedBy: o.updatedBy, updatedAt: new Date(o.updatedAt).toISOString() }, effectiveValue: o.value, orphaned: true, invalidOverride: null });
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  /** What the environment's pointers hold: current, and (production) live where it is another snapshot. */
  function pointedContents(envId: string): { pointer: 'current' | 'live'; content: WorkspaceContent }[] {
    const { environment: env, draft } = environment(envId);
    const out: { pointer: 'current' | 'live'; content: WorkspaceContent }[] = [{ pointer: 'current', content: content(envId) }];
    if (env.liveSnapshotId && env.liveSnapshotId !== env.snapshotId) out.push({ pointer: 'live', content: compose(env, draft, env.liveSnapshotId) });
    return out;
  }

  /** Secrets the content's integrations use by name, and which are not set here. */
  function missingSecrets(envId: string, from: WorkspaceContent): { name: string; usedBy: { itemId: string; name: string }[] }[] {
    const set = new Set(store.secrets(envId).map((s) => s.name));
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
    content,
    pointedContents,
    /** The problems of what this environment holds now; before its first Sync, references into what only a Sync brings wait for it. */
    problems(envId: string): Problem[] {
      const { environment: env } = environment(envId);
      return validateContent(content(envId), { notArrived: sectionsNotArrived(projects.flowRules(env.projectId), env.position, env.snapshotId) });
    },
    /** This environment's content with another of its snapshots in place (a pinned share link). */
    contentWith(envId: string, snapshotId: string | null): WorkspaceContent {
      const { environment: env, draft } = environment(envId);
      return compose(env, draft, snapshotId);
    },
    /** Variables with their values here; `from` = another content of this environment (a pinned snapshot). */
    variables: (envId: string, from?: WorkspaceContent) => variables(envId, from),

    /**
     * The variables whose override here no longer fits their type, in what the environment's
     * pointers hold (production: current and live). Names only: for the board.
     */
    invalidOverrides(envId: string): string[] {
      if (store.overrides(envId).length === 0) return [];
      const keys = pointedContents(envId).flatMap(({ content: c }) => variables(envId, c).filter((v) => v.invalidOverride).map((v) => v.name));
      return [...new Set(keys)].sort();
    },

    setOverride(by: Principal, envId: string, name: string, value: string): VariableView {
      const v = variables(envId).find((x) => x.name === name && !x.orphaned);
      if (!v) throw new AppError('variable_not_found');
      if (value !== '' && !valueFitsType(v.type, value)) throw new AppError('invalid_value', `“${value.slice(0, 40)}” is not a valid ${v.type}.`);
      store.setOverride({ environmentId: envId, name, value, updatedBy: by.user.id, updatedAt: Date.now() });
      return variables(envId).find((x) => x.name === name)!;
    },

    deleteOverride(envId: string, name: string): void {
      environment(envId);
      if (!store.deleteOverride(envId, name)) throw new AppError('variable_not_found', 'This variable has no override here.');
    },

    /**
     * Secrets of lower environments whose value equals one of production's (compared by keyed
     * hash in memory; no value or hash leaves the server): a test bot must not hold production
     * credentials.
     */
    sharedWithProduction(projectId: string): { environmentId: string; name: string; productionName: string }[] {
      const envs = projects.getProject(projectId)?.environments ?? [];
      const prod = envs[envs.length - 1];
      if (!prod) return [];
      const prints = (envId: string) =>
        store.secrets(envId).flatMap((s) => {
          try {
            return [{ name: s.name, print: sealer.fingerprint(sealer.open(s.sealed, `${envId}/${s.name}`)) }];
          } catch {
            return []; // a row that does not open is reported by the secrets view, not here
          }
        });
      const production = new Map(prints(prod.id).map((p) => [p.print, p.name]));
      if (production.size === 0) return [];
      return envs
        .slice(0, -1)
        .flatMap((e) => prints(e.id).flatMap((p) => (production.has(p.print) ? [{ environmentId: e.id, name: p.name, productionName: production.get(p.print)! }] : [])));
    },

    /** Secret names the environment's content (with `snapshotId` in place) uses and it lacks: names only, never values. */
    missingSecretsWith(envId: string, snapshotId: string): string[] {
      const { environment: env, draft } = environment(envId);
      return missingSecrets(envId, compose(env, draft, snapshotId)).map((m) => m.name).sort();
    },
    /** The same for what the environment holds now (production: its current and live content). */
    missingSecretNames(envId: string): string[] {
      const names = new Set(pointedContents(envId).flatMap((p) => missingSecrets(envId, p.content).map((m) => m.name)));
      return [...names].sort();
    },

    /** Names and dates only: a value is never returned once saved. */
    secrets(envId: string) {
      environment(envId);
      return {
        secrets: store.secrets(envId).map((s) => ({ name: s.name, updatedBy: s.updatedBy, updatedAt: new Date(s.updatedAt).toISOString() })).sort((a, b) => a.name.localeCompare(b.name)),
        missing: missingSecrets(envId, content(envId)),
      };
    },

    setSecret(by: Principal, envId: string, name: string, value: string) {
      const { environment: env } = environment(envId);
      if (!SECRET_NAME.test(name)) throw new AppError('invalid_body', 'A secret name is UPPER_SNAKE_CASE, like ORDERS_API_TOKEN.');
      // Replacing a value is always allowed; only a new name counts against the limit.
      const max = deps.limits.maxSecretsPerEnvironment;
      if (!store.hasSecret(envId, name)) requireBelow('MAX_SECRETS_PER_ENVIRONMENT', max, store.secretCount(envId), `${env.name} already has ${max} secrets: delete one first.`);
      const now = Date.now();
      store.setSecret({ environmentId: envId, name, sealed: sealer.seal(value, `${envId}/${name}`), updatedBy: by.user.id, updatedAt: now });
      return { name, updatedBy: by.user.id, updatedAt: new Date(now).toISOString() };
    },

    deleteSecret(envId: string, name: string): void {
      environment(envId);
      if (!store.deleteSecret(envId, name)) throw new AppError('not_found', 'No secret with this name here.');
    },

    /** For the runtime's integration calls later; never sent through the HTTP API. */
    revealSecret(envId: string, name: string): string | null {
      const row = store.secrets(envId).find((s) => s.name === name);
      return row ? sealer.open(row.sealed, `${envId}/${name}`) : null;
    },

    settings(envId: string): EnvironmentSettings {
      environment(envId);
      const row = store.settings(envId);
      return row ? EnvironmentSettings.parse(JSON.parse(row.json)) : DEFAULT_SETTINGS;
    },

    setSettings(by: Principal, envId: string, settings: EnvironmentSettings): EnvironmentSettings {
      environment(envId);
      store.setSettings({ environmentId: envId, json: JSON.stringify(settings), updatedBy: by.user.id, updatedAt: Date.now() });
      return settings;
    },

    createRuntimeKey(by: Principal, envId: string, name: string) {
      const { environment: env } = environment(envId);
      const max = LIMITS.MAX_RUNTIME_KEYS_PER_ENVIRONMENT;
      requireBelow('MAX_RUNTIME_KEYS_PER_ENVIRONMENT', max, store.runtimeKeyCount(envId), `${env.name} already has ${max} runtime keys: delete one first.`);
      const key = newSecretToken('scr');
      const id = newId('rtk');
      store.insertRuntimeKey({ id, environmentId: envId, name, keyHash: hashToken(key), createdBy: by.user.id, createdAt: Date.now() });
      return { id, name, key };
    },
    runtimeKeys(envId: string) {
      environment(envId);
      return store.runtimeKeys(envId).map((k) => ({ id: k.id, name: k.name, createdAt: new Date(k.createdAt).toISOString() }));
    },
    deleteRuntimeKey(envId: string, id: string): void {
      if (!store.deleteRuntimeKey(envId, id)) throw new AppError('not_found', 'No such runtime key here.');
    },

    /**
     * What the runtime reads: production's live snapshot (elsewhere the current one), with
     * variables at their effective values. Secret values are never part of it.
     */
    delivery(envId: string, runtimeKey: string | undefined) {
      const keyEnv = runtimeKey ? store.runtimeKeyEnvironment(hashToken(runtimeKey)) : undefined;
      if (!keyEnv || keyEnv !== envId) throw new AppError('unauthenticated', 'Send a runtime key of this environment as "Authorization: Bearer <key>".');
      const { environment: env, draft } = environment(envId);
      const all = projects.getProject(env.projectId)!.environments;
      const isProduction = env.position === all.length - 1;
      const snapshotId = isProduction ? env.liveSnapshotId : env.snapshotId;
      if (!snapshotId) throw new AppError(isProduction ? 'nothing_live' : 'nothing_to_sync', isProduction ? 'Nothing is live in production yet.' : `${env.name} has no snapshot yet.`);
      // Flow rules: the sections it holds itself are served live from its draft, and their
      // content address joins the ETag (addresses are memoized per unchanged draft item).
      const held = draft ? heldIn(env.projectId) : [];
      const live = held.length > 0 ? deps.drafts.read(draft!.id) : null;
      const ownTag = live ? `.${sha256(canonicalJson(Object.fromEntries(held.map((s) => [s, Object.fromEntries(Object.entries(live[s]).map(([id, item]) => [id, addressOf(s, item)]))])))).slice(0, 16)}` : '';
      const etag = `"${snapshotId}.${env.overlayRevision}${ownTag}"`;
      const build = () => {
        const c = compose(env, draft, snapshotId);
        const vars = variables(envId, c).filter((v) => !v.orphaned);
        return {
          environment: { id: env.id, name: env.name, kind: env.kind },
          snapshotId,
          overlayRevision: env.overlayRevision,
          // A default that does not parse (a variable held live in an environment, never validated by a freeze) is served as no value, never a 500.
          variables: Object.fromEntries(vars.map((v) => [v.name, { type: v.type, value: valueFitsType(v.type, v.effectiveValue) ? typedValue(v.type, v.effectiveValue) : null }])),
          /** Overrides served at the snapshot's default because they no longer fit: names and reasons, never the value. */
          invalidOverrides: vars.flatMap((v) => (v.invalidOverride ? [{ key: v.name, reason: v.invalidOverride }] : [])),
          audiences: deps.audiences.resolved(envId),
          settings: (() => {
            const row = store.settings(envId);
            return row ? (JSON.parse(row.json) as EnvironmentSettings) : DEFAULT_SETTINGS;
          })(),
          content: Object.fromEntries(SECTIONS.map((s) => [s, canonicalContent(c)[s]])),
        };
      };
      return {
        etag,
        /** The serialized answer; built once per ETag (snapshot + overlay revision), then served from memory. */
        body: (): Uint8Array<ArrayBuffer> => {
          const cached = deliveryCache.get(envId);
          if (cached?.etag === etag) return cached.body;
          const body = new TextEncoder().encode(JSON.stringify(build()));
          deliveryCache.set(envId, { etag, body });
          return body;
        },
      };
    },
  };
}

export type LocalData = ReturnType<typeof createLocalData>;
