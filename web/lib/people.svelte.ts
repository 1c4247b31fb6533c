import type {
  InvitationCreated,
  LockedMembersView,
  MemberView,
  PasswordResetLink,
} from '#schema/api.ts';
import { applyTemplate, type Role, type TemplateId } from '#schema/permissions.ts';
import { api } from './api.ts';
import { Pending } from './pending.svelte.ts';
import { FormFeedback, type TeamState } from './team.svelte.ts';

/**
 * The People part of a project's team: one member's roles being edited (one save), the
 * invitation form (one button), and the actions on a member's row — remove (project admins),
 * unlock and password-reset link (instance admins) — whose outcome is said on that row.
 */
export class PeopleState {
  /** The member whose roles are being edited, and the roles being ticked per environment id. */
  editing = $state<string | null>(null);
  grid = $state<Record<string, Role[]>>({});
  readonly roles: FormFeedback;

  invite = $state({ email: '', name: '', template: 'developer' as TemplateId });
  inviteUrl = $state<string | null>(null);
  /** Counts invitations created here, so the pending list reloads. */
  invited = $state(0);
  readonly inviting: FormFeedback;

  /** Confirmations being asked: removing a member, issuing a password-reset link. */
  removing = $state<MemberView | null>(null);
  resetting = $state<MemberView | null>(null);
  /** What the last action on a row did (by user id), and a reset link to hand over. */
  said = $state<{ id: string; text: string; url?: string; expiresAt?: string } | null>(null);
  /** Keyed by user id: that row's buttons wait and show its failure. */
  readonly rows: Pending<string>;
  /**
   * Instance admins: the members locked out of signing in now. Null until known (or if it could
   * not be read): then "Unlock" is offered on every row.
   */
  locked = $state<string[] | null>(null);

  readonly preview = $derived.by(() => {
    const project = this.#team.project;
    return project ? applyTemplate(this.invite.template, project.environments) : {};
  });

  readonly #team: TeamState;

  constructor(team: TeamState) {
    this.#team = team;
    this.roles = new FormFeedback(team.load);
    this.inviting = new FormFeedback(team.load);
    this.rows = new Pending<string>(async () => {
      await team.load();
      await this.loadLocked();
    });
  }

  /** Instance admins only (the route answers 403 to anyone else). */
  loadLocked = async (): Promise<void> => {
    try {
      this.locked = (
        await api<LockedMembersView>(`/projects/${this.#team.projectId}/locked-members`)
      ).userIds;
    } catch {
      this.locked = null;
    }
  };

  /** Whether to offer "Unlock" on a member's row. */
  mayBeLocked = (userId: string): boolean => this.locked === null || this.locked.includes(userId);

  edit = (m: MemberView) => {
    this.roles.said = null;
    this.roles.pending.error = null;
    this.editing = m.user.id;
    this.grid = Object.fromEntries(
      (this.#team.project?.environments ?? []).map((e) => [
        e.id,
        [...(m.roles[e.id] ?? []), ...(m.roles['*'] ?? [])].filter(
          (r, i, all) => all.indexOf(r) === i,
        ),
      ]),
    );
  };

  toggle = (envId: string, role: Role, on: boolean) => {
    const list = this.grid[envId] ?? [];
    this.grid[envId] = on ? [...list, role] : list.filter((r) => r !== role);
    this.roles.touched();
  };

  saveRoles = (event: SubmitEvent) => {
    event.preventDefault();
    const userId = this.editing;
    if (!userId) return;
    void this.roles.save(
      () =>
        api(`/projects/${this.#team.projectId}/members/${userId}`, {
          method: 'PUT',
          body: { roles: $state.snapshot(this.grid) },
        }),
      'Roles saved; their open sessions reconnect with the new rights.',
    );
  };

  remove = (m: MemberView) => {
    this.removing = null;
    this.said = null;
    void this.rows
      .run(
        () => api(`/projects/${this.#team.projectId}/members/${m.user.id}`, { method: 'DELETE' }),
        m.user.id,
      )
      .then((ok) => {
        // The row is gone: say it where the list is.
        if (ok) this.said = { id: '', text: `${m.user.name} was removed from the project.` };
      });
  };

  /** Instance admins: forget the failed sign-in attempts that lock an account. */
  unlock = (m: MemberView) => {
    this.said = null;
    void this.rows
      .run(() => api(`/users/${m.user.id}/unlock`, { method: 'POST' }), m.user.id)
      .then((ok) => {
        if (ok)
          this.said = {
            id: m.user.id,
            text: `${m.user.name} can sign in again: failed attempts are forgotten.`,
          };
      });
  };

  /** Instance admins: a single-use link to set a new password, shown once to hand over. */
  issueReset = (m: MemberView) => {
    this.resetting = null;
    this.said = null;
    void this.rows.run(async () => {
      const r = await api<PasswordResetLink>(`/users/${m.user.id}/password-reset`, {
        method: 'POST',
      });
      this.said = {
        id: m.user.id,
        text: `Give ${m.user.name} this single-use link to choose a new password. It is shown only now; their other sessions end when it is used.`,
        url: r.url,
        expiresAt: r.expiresAt,
      };
    }, m.user.id);
  };

  sendInvite = (event: SubmitEvent) => {
    event.preventDefault();
    this.inviteUrl = null;
    void this.inviting.save(async () => {
      const r = await api<InvitationCreated>('/invitations', {
        method: 'POST',
        body: { ...this.invite, projectId: this.#team.projectId },
      });
      this.inviteUrl = r.url;
      this.invited++;
      this.invite = { email: '', name: '', template: this.invite.template };
    }, 'Invitation created.');
  };
}
