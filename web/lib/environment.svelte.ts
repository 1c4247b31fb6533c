import { goto } from '$app/navigation';
import type { HotfixState, MyRolesView, ProjectView } from '#schema/api.ts';
import type { WorkspaceContent } from '#schema/content/ydoc.ts';
import type { Role } from '#schema/permissions.ts';
import { api } from './api.ts';
import { loadProjectAdmins } from './access.ts';

/**
 * An environment page's state and actions (the page picks the tab and shows them): the
 * project and the caller's roles in it, the content shown (not the authoring draft: that is a
 * DraftSession's), production's open hotfix, and the hotfix action under way (`busy`) or its
 * refusal (`actionError`). `error` is a failed load: the page shows only that.
 */
export class EnvironmentState {
  project = $state<ProjectView | null>(null);
  content = $state<WorkspaceContent | null>(null);
  hotfix = $state<HotfixState | null>(null);
  error = $state<string | null>(null);
  busy = $state<string | null>(null);
  actionError = $state<string | null>(null);
  /** Undefined until the roles are in: nothing of the environment is asked for before. */
  myRoles = $state<Record<string, Role[]> | undefined>(undefined);
  /** Who grants roles: named when this environment is out of reach. */
  admins = $state<string[]>([]);

  readonly #projectId: () => string | undefined;
  readonly #envId: () => string | undefined;

  /** Each read on its own, so an effect that loads the project does not also follow the environment. */
  constructor(projectId: () => string | undefined, envId: () => string | undefined) {
    this.#projectId = projectId;
    this.#envId = envId;
  }

  loadProject = async () => {
    const projectId = this.#projectId();
    if (!projectId) return;
    try {
      this.project = await api<ProjectView>(`/projects/${projectId}`);
      this.myRoles = (await api<MyRolesView>(`/projects/${projectId}/my-roles`)).roles;
    } catch (err) {
      this.error = (err as Error).message;
    }
  };

  loadAdmins(projectId: string): void {
    void loadProjectAdmins(projectId).then((names) => (this.admins = names));
  }

  loadHotfix(envId: string): void {
    api<HotfixState>(`/environments/${envId}/hotfix`).then(
      (h) => (this.hotfix = h),
      (err: Error) => (this.error = err.message),
    );
  }

  /** The environment's content with that snapshot in place: what Sync moved, plus the sections it holds itself. */
  loadContent(envId: string, snapshotId: string | null): void {
    this.content = null;
    const query = snapshotId ? `?snapshot=${encodeURIComponent(snapshotId)}` : '';
    api<WorkspaceContent>(`/environments/${envId}/content${query}`).then(
      (c) => (this.content = c),
      (err: Error) => (this.error = err.message),
    );
  }

  async #hotfixAction(label: string, run: () => Promise<unknown>): Promise<void> {
    const envId = this.#envId();
    this.busy = label;
    this.actionError = null;
    try {
      await run();
      this.hotfix = await api<HotfixState>(`/environments/${envId}/hotfix`);
      await this.loadProject();
      await goto('?tab=content');
    } catch (err) {
      this.actionError = (err as Error).message;
    } finally {
      this.busy = null;
    }
  }

  /** After a hotfix action: its state and the project's pointers again; a closed one leaves its tab. */
  hotfixChanged = async (closed: boolean) => {
    const envId = this.#envId();
    this.hotfix = await api<HotfixState>(`/environments/${envId}/hotfix`);
    await this.loadProject();
    if (closed) await goto('?tab=content');
  };

  startHotfix = () => {
    const envId = this.#envId();
    return this.#hotfixAction('start', async () => {
      await api(`/environments/${envId}/hotfix`, { method: 'POST' });
      this.hotfix = await api<HotfixState>(`/environments/${envId}/hotfix`);
      await goto('?tab=hotfix');
    });
  };
}
