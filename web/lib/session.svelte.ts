import { getContext, setContext } from 'svelte';
import type { SessionView, SetupState, SignedIn, UserView, WhoAmI } from '#schema/api.ts';
import { api } from './api.ts';

/** Who is signed in, shared by every page through context. */
export class SessionState {
  user = $state<UserView | null>(null);
  /** The instance admin creates projects and accounts; the UI offers that to nobody else. */
  isInstanceAdmin = $state(false);
  loaded = $state(false);
  setupNeeded = $state(false);

  async refresh(): Promise<void> {
    const setup = await api<SetupState>('/setup');
    this.setupNeeded = setup.needed;
    // Not GET /session: its 401 when signed out would be a console error on every visit.
    const me = await api<WhoAmI>('/whoami');
    this.user = me.user;
    this.isInstanceAdmin = me.isInstanceAdmin;
    this.loaded = true;
  }

  async signIn(email: string, password: string): Promise<void> {
    this.user = (
      await api<SignedIn>('/session', { method: 'POST', body: { email, password } })
    ).user;
    this.isInstanceAdmin = (await api<SessionView>('/session')).isInstanceAdmin;
  }

  /** Sets the password with a reset link: the answer signs this browser in (and out everywhere else). */
  async resetPassword(token: string, password: string): Promise<void> {
    this.user = (
      await api<SignedIn>(`/password-reset/${token}`, { method: 'POST', body: { password } })
    ).user;
    this.isInstanceAdmin = (await api<SessionView>('/session')).isInstanceAdmin;
  }

  /** Accepts an invitation with a password: the new account is signed in (and no instance admin). */
  async acceptInvitation(token: string, password: string): Promise<void> {
    this.user = (
      await api<SignedIn>(`/invitations/${token}/accept`, { method: 'POST', body: { password } })
    ).user;
    this.isInstanceAdmin = false;
  }

  async setup(name: string, email: string, password: string): Promise<void> {
    this.user = (
      await api<SignedIn>('/setup', { method: 'POST', body: { name, email, password } })
    ).user;
    this.isInstanceAdmin = true;
    this.setupNeeded = false;
  }

  async signOut(): Promise<void> {
    await api('/session', { method: 'DELETE' });
    this.user = null;
    this.isInstanceAdmin = false;
  }
}

const KEY = Symbol('session');
export const provideSession = (s: SessionState) => setContext(KEY, s);
export const useSession = () => getContext<SessionState>(KEY);
