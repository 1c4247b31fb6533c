import { getContext, setContext } from 'svelte';
import type { MembersView, MemberView, MyRolesView, ProjectView } from '#schema/api.ts';
import { can, type Role } from '#schema/permissions.ts';
import { api } from './api.ts';
import { Pending } from './pending.svelte.ts';

/**
 * What every part of a project's team pages (People, Stages, Rules) reads: the project, its
 * members and whether the signed-in person is a project admin (only they are offered changes).
 * The team layout loads it once and provides it; each part's forms reload it after a save.
 */
export class TeamState {
  project = $state<ProjectView | null>(null);
  members = $state<MemberView[]>([]);
  isAdmin = $state(false);
  /** The signed-in person's roles per environment id ("*": every environment). */
  myRoles = $state<Record<string, Role[]>>({});
  readonly pending = new Pending();
  readonly #projectId: () => string | undefined;

  constructor(projectId: () => string | undefined) {
    this.#projectId = projectId;
  }

  get projectId(): string | undefined {
    return this.#projectId();
  }

  load = (): Promise<void> => {
    const projectId = this.#projectId();
    if (!projectId) return Promise.resolve();
    return this.pending.load(async () => {
      const [project, members, mine] = await Promise.all([
        api<ProjectView>(`/projects/${projectId}`),
        api<MembersView>(`/projects/${projectId}/members`),
        api<MyRolesView>(`/projects/${projectId}/my-roles`),
      ]);
      this.project = project;
      this.members = members.members;
      this.isAdmin = mine.isProjectAdmin;
      this.myRoles = mine.roles;
      this.pending.error = null;
    });
  };

  /** Whether the person may read a stage (its gate, among others). */
  mayRead = (envId: string): boolean =>
    this.isAdmin ||
    can([...(this.myRoles[envId] ?? []), ...(this.myRoles['*'] ?? [])], 'content.read', {
      hasDraft: true,
    });

  envName = (id: string): string =>
    id === '*'
      ? 'every stage'
      : (this.project?.environments.find((e) => e.id === id)?.name ?? 'a removed stage');
}

const KEY = Symbol('team');
export const provideTeam = (t: TeamState) => setContext(KEY, t);
export const useTeam = () => getContext<TeamState>(KEY);

/**
 * One form's save: `pending` for busy and its error, `said` for what the last save did. Both are
 * shown next to the form's one save button (SaveRow), not at the top of the page.
 */
export class FormFeedback {
  said = $state<string | null>(null);
  readonly pending: Pending;

  constructor(after: () => Promise<unknown>) {
    this.pending = new Pending(after);
  }

  /** Runs `write`; once it (and the reload after it) worked, says `done`. */
  async save(write: () => Promise<unknown>, done: string): Promise<boolean> {
    this.said = null;
    const ok = await this.pending.run(write);
    if (ok) this.said = done;
    return ok;
  }

  /** The form was edited after a save: "Saved" no longer describes what it shows. */
  touched = () => {
    this.said = null;
  };
}
