import type {
  GateView,
  InvitationCreated,
  MembersView,
  MemberView,
  MyRolesView,
  PasswordResetLink,
  ProjectView,
} from '#schema/api.ts';
import type { Section } from '#schema/content/spec.ts';
import { applyTemplate, type Role, type TemplateId } from '#schema/permissions.ts';
import { api } from './api.ts';
import { choicesOf, flowRulesBody, type FlowChoice } from './flow-choices.ts';
import { Pending } from './pending.svelte.ts';

/**
 * The members page's state and writes: the project, its members and (project admins) what they
 * edit here — roles, invitations, stage names and colors, flow rules, gates. Every write says
 * what it did (`notice`) and reloads the page's data.
 */
export class MembersState {
  project = $state<ProjectView | null>(null);
  members = $state<MemberView[]>([]);
  isAdmin = $state(false);
  /** Stage names and colors being edited, by environment id. */
  stages = $state<Record<string, { name: string; color: string }>>({});
  /** How sections move, being edited (from the project's rules at load). */
  flow = $state<Record<Section, FlowChoice> | null>(null);
  gates = $state<Record<string, GateView>>({});
  /** The member whose roles are being edited, and the roles being ticked. */
  editing = $state<string | null>(null);
  grid = $state<Record<string, Role[]>>({});
  /** The member whose removal is being confirmed. */
  removing = $state<MemberView | null>(null);
  notice = $state<string | null>(null);
  readonly pending = new Pending(() => this.load());
  invite = $state({ email: '', name: '', template: 'developer' as TemplateId });
  inviteUrl = $state<string | null>(null);
  /** Counts invitations created here, so the pending list reloads. */
  invited = $state(0);
  /** The password-reset link just issued (instance admins), and for whom. */
  reset = $state<{ name: string; url: string; expiresAt: string } | null>(null);

  readonly preview = $derived(
    this.project ? applyTemplate(this.invite.template, this.project.environments) : {},
  );

  readonly #projectId: () => string | undefined;

  constructor(projectId: () => string | undefined) {
    this.#projectId = projectId;
  }

  async load(): Promise<void> {
    const projectId = this.#projectId();
    if (!projectId) return;
    try {
      const project = (this.project = await api<ProjectView>(`/projects/${projectId}`));
      this.flow = choicesOf(project.flowRules, project.environments);
      this.members = (await api<MembersView>(`/projects/${projectId}/members`)).members;
      this.isAdmin = (await api<MyRolesView>(`/projects/${projectId}/my-roles`)).isProjectAdmin;
      // Gates are edited here by project admins only (others may not read every stage's gate).
      if (this.isAdmin)
        this.gates = Object.fromEntries(
          await Promise.all(
            project.environments.map(
              async (e) => [e.id, await api<GateView>(`/environments/${e.id}/gate`)] as const,
            ),
          ),
        );
    } catch (err) {
      this.pending.error = (err as Error).message;
    }
  }

  /** Runs a write, says `done` once it worked, and reloads the page's data. */
  async run(f: () => Promise<unknown>, done: string): Promise<void> {
    this.notice = null;
    await this.pending.run(async () => {
      await f();
      this.notice = done;
    });
  }

  envName = (id: string) => this.project?.environments.find((e) => e.id === id)?.name ?? id;

  edit = (m: MemberView) => {
    this.editing = m.user.id;
    this.grid = Object.fromEntries(
      (this.project?.environments ?? []).map((e) => [
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
  };
  saveRoles = (userId: string) =>
    this.run(
      () =>
        api(`/projects/${this.#projectId()}/members/${userId}`, {
          method: 'PUT',
          body: { roles: $state.snapshot(this.grid) },
        }),
      'Roles saved; their open sessions reconnect with the new rights.',
    ).then(() => (this.editing = null));
  remove = (userId: string) => {
    this.removing = null;
    void this.run(
      () => api(`/projects/${this.#projectId()}/members/${userId}`, { method: 'DELETE' }),
      'Member removed.',
    );
  };
  // Instance admins: lift a sign-in lock, or issue a single-use password-reset link to hand over.
  unlock = (m: MemberView) =>
    this.run(
      () => api(`/users/${m.user.id}/unlock`, { method: 'POST' }),
      `${m.user.name} can sign in again (failed attempts forgotten).`,
    );
  issueReset = (m: MemberView) =>
    this.run(async () => {
      const r = await api<PasswordResetLink>(`/users/${m.user.id}/password-reset`, {
        method: 'POST',
      });
      this.reset = { name: m.user.name, ...r };
    }, 'Password-reset link created.');
  saveGate = (envId: string) =>
    this.run(
      () =>
        api(`/environments/${envId}/gate`, {
          method: 'PUT',
          body: $state.snapshot(this.gates[envId]),
        }),
      'Gate saved.',
    );
  saveStage = (envId: string, stage: { name: string; color: string }) =>
    this.run(() => api(`/environments/${envId}`, { method: 'PATCH', body: stage }), 'Stage saved.');
  saveFlowRules = () =>
    this.run(
      async () =>
        (this.project = await api<ProjectView>(`/projects/${this.#projectId()}/flow-rules`, {
          method: 'PUT',
          body: {
            flowRules: flowRulesBody(this.flow!, this.project!.environments),
            expectedVersion: this.project!.flowRulesVersion,
          },
        })),
      'Flow rules saved.',
    );

  sendInvite = async (event: SubmitEvent) => {
    event.preventDefault();
    await this.run(async () => {
      const r = await api<InvitationCreated>('/invitations', {
        method: 'POST',
        body: { ...this.invite, projectId: this.#projectId() },
      });
      this.inviteUrl = r.url;
      this.invited++;
      this.invite = { email: '', name: '', template: this.invite.template };
    }, 'Invitation created.');
  };
}
