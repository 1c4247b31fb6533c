import { goto } from '$app/navigation';
import type { BoardView } from '#schema/api.ts';
import type { HotfixChange } from '#schema/content/hotfix.ts';
import { SECTIONS } from '#schema/content/spec.ts';
import { upSections } from '#schema/flow.ts';
import { api, ApiError } from './api.ts';
import { allows, loadProjectAdmins } from './access.ts';

/**
 * A failed action, shown under the stage it started from; what the person can do about it, when
 * something can be done.
 */
export interface ActionError {
  envId: string;
  message: string;
  /** The target lacks audiences the content refers to: create them, then `retry`. */
  missingAudiences?: { environmentId: string; names: string[]; retry: () => Promise<void> };
  /** The board was stale: offer a reload. */
  stale?: boolean;
  /** The target lacks secrets the content's integrations use: `goAhead` confirms the move without them. */
  missingSecrets?: { environmentId: string; names: string[]; goAhead: () => Promise<void> };
}

/**
 * The pipeline board's state and actions (the page only shows them): the board as the server
 * built it, the action under way (`busy`: `<label>:<envId>`), the last refusal, the Sync notes,
 * and the dialogs being confirmed. Every Sync, Publish and request sends back what this board
 * showed, so a stale board cannot move content nobody reviewed.
 */
export class BoardState {
  board = $state<BoardView | null>(null);
  error = $state<string | null>(null);
  busy = $state<string | null>(null);
  /** The last failed action per source environment. */
  actionError = $state<ActionError | null>(null);
  messages = $state<Record<string, string>>({});
  /** Who grants roles, named where something is out of reach. */
  admins = $state<string[]>([]);
  confirming = $state<{
    action: 'Sync' | 'Publish';
    envId: string;
    changes: HotfixChange[];
  } | null>(null);
  /** The Publish being confirmed: what the board showed live and synced, so what moves is what was seen. */
  publishing = $state<{
    envId: string;
    name: string;
    liveSnapshotId: string | null;
    snapshotId: string;
  } | null>(null);

  readonly envs = $derived(this.board?.project.environments ?? []);
  /** Flow rules: what a Sync carries (the other sections flow by replication). */
  readonly carried = $derived(this.board ? upSections(this.board.project.flowRules) : []);
  readonly carriesAll = $derived(this.carried.length === SECTIONS.length);

  readonly #projectId: () => string | undefined;

  constructor(projectId: () => string | undefined) {
    this.#projectId = projectId;
  }

  async load(): Promise<void> {
    const projectId = this.#projectId();
    if (!projectId) return;
    try {
      this.board = await api<BoardView>(`/projects/${projectId}/board`);
    } catch (err) {
      this.error = (err as Error).message;
    }
  }

  /** The board again, after a change someone made (the project's event stream); no reload of the page. */
  refresh = (): Promise<void> => this.load();

  async loadAdmins(projectId: string): Promise<void> {
    this.admins = await loadProjectAdmins(projectId);
  }

  who = (id: string | undefined) =>
    id && this.board ? (this.board.users[id] ?? 'someone') : 'someone';

  /** `withoutSecrets`: the same action again, confirming it may go ahead although the target lacks secrets. */
  async act(
    envId: string,
    label: string,
    run: () => Promise<unknown>,
    action?: 'Sync' | 'Publish',
    withoutSecrets?: () => Promise<void>,
  ): Promise<void> {
    this.busy = `${label}:${envId}`;
    this.actionError = null;
    try {
      await run();
      this.messages[envId] = '';
      await this.load();
    } catch (err) {
      if (err instanceof ApiError && err.id === 'would_undo_hotfix' && action) {
        this.confirming = { action, envId, changes: (err.details ?? []) as HotfixChange[] };
      } else if (err instanceof ApiError && err.id === 'audience_missing') {
        const d = err.details as { environmentId: string; missing: string[] };
        this.actionError = {
          envId,
          message: err.message,
          missingAudiences: {
            environmentId: d.environmentId,
            names: d.missing,
            retry: () => this.act(envId, label, run, action),
          },
        };
      } else if (err instanceof ApiError && err.id === 'secrets_missing' && withoutSecrets) {
        const d = err.details as { environmentId: string; missing: string[] };
        this.actionError = {
          envId,
          message: this.secretsMessage(d.environmentId, d.missing, action ?? 'Sync'),
          missingSecrets: {
            environmentId: d.environmentId,
            names: d.missing,
            goAhead: withoutSecrets,
          },
        };
      } else if (
        err instanceof ApiError &&
        (err.id === 'source_moved' || err.id === 'target_moved')
      ) {
        this.actionError = { envId, message: this.staleMessage(envId, err.id), stale: true };
      } else this.actionError = { envId, message: (err as Error).message };
    } finally {
      this.busy = null;
    }
  }

  /** Creates the missing audiences (same names, no rules yet) in the target, then tries the action again. */
  createAudiences = async (
    envId: string,
    missing: { environmentId: string; names: string[]; retry: () => Promise<void> },
  ) => {
    this.busy = `audiences:${envId}`;
    try {
      for (const name of missing.names)
        await api(`/environments/${missing.environmentId}/audiences`, {
          method: 'POST',
          body: { name, description: 'Created for a Sync; add its rules.' },
        });
    } catch (err) {
      this.actionError = { envId, message: (err as Error).message };
      this.busy = null;
      return;
    }
    this.busy = null;
    await missing.retry();
  };

  /**
   * What this board showed for the move out of `envId`, sent with every Sync and request so a
   * stale board cannot move content nobody reviewed. A stage the caller may not read has no ids
   * here (null would claim "empty"): that side goes unchecked.
   */
  seen(envId: string): {
    expectedSourceSnapshotId?: string;
    expectedTargetSnapshotId?: string | null;
  } {
    const move = this.board?.pending.find((m) => m.fromEnvironmentId === envId);
    if (!move) return {};
    const readable = (id: string) =>
      this.board?.stages.find((s) => s.environmentId === id)?.readable === true;
    return {
      ...(readable(move.fromEnvironmentId) && move.fromSnapshotId
        ? { expectedSourceSnapshotId: move.fromSnapshotId }
        : {}),
      ...(readable(move.toEnvironmentId) ? { expectedTargetSnapshotId: move.toSnapshotId } : {}),
    };
  }

  staleMessage(envId: string, id: 'source_moved' | 'target_moved'): string {
    const move = this.board?.pending.find((m) => m.fromEnvironmentId === envId);
    const name = (stage: string | undefined) =>
      this.envs.find((e) => e.id === stage)?.name ?? 'A stage';
    // No move out of production: a Publish, whose stage itself moved.
    if (!move)
      return `${name(envId)} changed since you loaded this board: someone synced, published or rolled back meanwhile. Nothing went live; reload to review what would go live now.`;
    return id === 'source_moved'
      ? `${name(envId)} changed since you loaded this board: what would move now is not what you saw. Nothing moved; reload to review it first.`
      : `${name(move?.toEnvironmentId)} changed since you loaded this board: someone moved it meanwhile. Nothing moved; reload to see what it holds now.`;
  }

  secretsMessage(envId: string, names: string[], action: 'Sync' | 'Publish'): string {
    const name = this.envs.find((e) => e.id === envId)?.name ?? 'Production';
    const n = names.length;
    return `${name} lacks ${n === 1 ? 'a secret' : `${n} secrets`} this content’s integrations use: ${names.join(', ')}. Nothing moved. Add ${n === 1 ? 'it' : 'them'} in ${name} first, or ${action === 'Sync' ? 'Sync' : 'Publish'} without ${n === 1 ? 'it' : 'them'}: those integrations will fail until ${n === 1 ? 'it is' : 'they are'} added.`;
  }

  /** Clears the refusal only once the fresh board is in, so nothing acts on the stale one meanwhile. */
  reload = async () => {
    await this.load();
    this.actionError = null;
  };

  sync = (envId: string, confirmUndoHotfix = false, confirmMissingSecrets = false): Promise<void> =>
    this.act(
      envId,
      'sync',
      () =>
        api(`/environments/${envId}/sync`, {
          method: 'POST',
          body: {
            ...this.seen(envId),
            message: this.messages[envId] || undefined,
            confirmUndoHotfix,
            confirmMissingSecrets,
          },
        }),
      'Sync',
      () => this.sync(envId, confirmUndoHotfix, true),
    );
  /** Live as this board showed it: a Publish after someone else's answers target_moved (offer a reload). */
  seenLive = (envId: string) =>
    this.board?.stages.find((s) => s.environmentId === envId)?.live?.snapshot?.id ?? null;
  seenSynced = (envId: string) =>
    this.board?.stages.find((s) => s.environmentId === envId)?.current?.snapshot?.id;
  publish = (
    envId: string,
    confirmUndoHotfix = false,
    confirmMissingSecrets = false,
  ): Promise<void> =>
    this.act(
      envId,
      'publish',
      () =>
        api(`/environments/${envId}/publish`, {
          method: 'POST',
          body: {
            expectedSourceSnapshotId: this.seenSynced(envId),
            expectedLiveSnapshotId: this.seenLive(envId),
            message: this.messages[envId] || undefined,
            confirmUndoHotfix,
            confirmMissingSecrets,
          },
        }),
      'Publish',
      () => this.publish(envId, confirmUndoHotfix, true),
    );
  /**
   * The confirmed reason is the release record's message; it stays for a follow-up "Publish anyway"
   * or "Go ahead without them".
   */
  publishConfirmed = (reason: string) => {
    if (!this.publishing) return;
    const { envId } = this.publishing;
    this.publishing = null;
    this.messages[envId] = reason;
    void this.publish(envId);
  };
  startHotfix = (envId: string) =>
    this.act(envId, 'hotfix', async () => {
      await api(`/environments/${envId}/hotfix`, { method: 'POST' });
      await goto(`/projects/${this.#projectId()}/environments/${envId}`);
    });
  applyToDev = (envId: string) =>
    this.act(envId, 'apply', () =>
      api(`/environments/${envId}/hotfix/apply-to-dev`, { method: 'POST' }),
    );
  requestApproval = (envId: string) =>
    this.act(envId, 'request', () =>
      api(`/environments/${envId}/requests`, {
        method: 'POST',
        body: {
          expectedSourceSnapshotId: this.seen(envId).expectedSourceSnapshotId,
          message: this.messages[envId] || undefined,
        },
      }),
    );
  decide = (envId: string, requestId: string, decision: 'approve' | 'reject', comment: string) =>
    this.act(envId, 'decide', () =>
      api(`/requests/${requestId}/${decision}`, {
        method: 'POST',
        body: { comment: comment || undefined },
      }),
    );
  may = (envId: string, action: Parameters<typeof allows>[2]) =>
    allows(this.board?.myRoles, envId, action);
  // A hotfix request (production) approves publishing the hotfix, never a Publish.
  requestFor = (source: string, target: string) =>
    this.board?.requests.find(
      (r) =>
        r.sourceEnvironmentId === source && r.targetEnvironmentId === target && r.kind !== 'hotfix',
    );
  gateOf = (envId: string) => this.board?.gates[envId]?.requiredApprovals ?? 0;
  gateOpen = (source: string, target: string) =>
    this.gateOf(target) === 0 || this.requestFor(source, target)?.approved === true;

  /** The person confirmed undoing the hotfix: the same action again, saying so. */
  confirmed = () => {
    if (!this.confirming) return;
    const { action, envId } = this.confirming;
    this.confirming = null;
    void (action === 'Sync' ? this.sync(envId, true) : this.publish(envId, true));
  };
}
