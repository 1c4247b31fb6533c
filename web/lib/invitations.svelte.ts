import type { InvitationLink, PendingInvitationsView, PendingInvitationView } from '#schema/api.ts';
import { api } from './api.ts';
import { Pending } from './pending.svelte.ts';

/**
 * A project's pending invitations (project admins): the list, a new link for one, revoking one.
 * Only a hash of an invitation's token is kept, so its link cannot be shown again: "Copy a new
 * link" issues a fresh one for the same invitation and the old link stops working. Each write's
 * outcome is said next to the row that caused it (`said`, `pending.failed`).
 */
export class InvitationsState {
  list = $state<PendingInvitationView[]>([]);
  loaded = $state(false);
  /** The invitation whose revocation is being confirmed. */
  revoking = $state<PendingInvitationView | null>(null);
  /** What the last write on a row said, and (a new link) the link to copy by hand. */
  said = $state<{ id: string; text: string; url?: string } | null>(null);
  /** Keyed by invitation id: that row's buttons say what runs and show its failure. */
  readonly pending = new Pending<string>(() => this.load());
  readonly #projectId: () => string | undefined;

  constructor(projectId: () => string | undefined) {
    this.#projectId = projectId;
  }

  async load(): Promise<void> {
    const projectId = this.#projectId();
    if (!projectId) return;
    await this.pending.load(async () => {
      this.list = (
        await api<PendingInvitationsView>(`/projects/${projectId}/invitations`)
      ).invitations;
      this.loaded = true;
    });
  }

  /** A new link for `inv` (the old one stops working), copied to the clipboard when allowed. */
  newLink = (inv: PendingInvitationView) => {
    this.said = null;
    void this.pending.run(async () => {
      const { url } = await api<InvitationLink>(`/invitations/${inv.id}/link`, {
        method: 'POST',
      });
      let copied = false;
      try {
        await navigator.clipboard.writeText(url);
        copied = true;
      } catch {
        // No clipboard (an insecure origin, or permission refused): the link is shown to copy by hand.
      }
      this.said = {
        id: inv.id,
        text: copied
          ? 'New link copied. The earlier link for this invitation no longer works.'
          : 'New link below: copy it. The earlier link for this invitation no longer works.',
        url,
      };
    }, inv.id);
  };

  revoke = (inv: PendingInvitationView) => {
    this.revoking = null;
    this.said = null;
    void this.pending.run(async () => {
      await api(`/invitations/${inv.id}`, { method: 'DELETE' });
      this.said = { id: '', text: `Invitation for ${inv.name} revoked: its link no longer works.` };
    }, inv.id);
  };
}
