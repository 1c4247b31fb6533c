import { getContext, setContext } from 'svelte';
import type { UserView } from '#schema/api.ts';
import { api, ApiError } from './api.ts';

/** Who is signed in, shared by every page through context. */
export class SessionState {
  user = $state<UserView | null>(null);
  loaded = $state(false);
  setupNeeded = $state(false);

  async refresh(): Promise<void> {
    const setup = await api<{ needed: boolean }>('/setup');
    this.setupNeeded = setup.needed;
    try {
      this.user = (await api<{ user: UserView }>('/session')).user;
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 401) throw err;
      this.user = null;
    }
    this.loaded = true;
  }

  async signIn(email: string, password: string): Promise<void> {
    this.user = (await api<{ user: UserView }>('/session', { method: 'POST', body: { email, password } })).user;
  }

  async setup(name: string, email: string, password: string): Promise<void> {
    this.user = (await api<{ user: UserView }>('/setup', { method: 'POST', body: { name, email, password } })).user;
    this.setupNeeded = false;
  }

  async signOut(): Promise<void> {
    await api('/session', { method: 'DELETE' });
    this.user = null;
  }
}

const KEY = Symbol('session');
export const provideSession = (s: SessionState) => setContext(KEY, s);
export const useSession = () => getContext<SessionState>(KEY);
