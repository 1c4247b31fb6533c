import type { TokenCreated, TokensView, TokenView } from '#schema/api.ts';
import { api } from './api.ts';
import { Pending } from './pending.svelte.ts';

/** Expiry choices in days; '' = never (the server's default when expiresInDays is absent). */
export const EXPIRIES = [
  { days: '30', label: '30 days' },
  { days: '90', label: '90 days' },
  { days: '365', label: '1 year' },
  { days: '', label: 'Never' },
] as const;

/**
 * The signed-in person's API tokens: the list, a new one (its secret kept here only until the
 * person says it is stored), revoking one after a confirmation. Writes are keyed — `'create'` or
 * the token's id — so each failure shows by the button that caused it.
 */
export class TokensState {
  list = $state<TokenView[] | null>(null);
  name = $state('');
  expiry = $state<string>('90');
  /** The token just created: shown once, with a copy button. */
  fresh = $state<{ name: string; token: string } | null>(null);
  /** The token whose revocation is being confirmed. */
  confirming = $state<TokenView | null>(null);
  /** What the last revocation did, said above the list (the row is gone). */
  said = $state<string | null>(null);
  readonly pending = new Pending<string>(() => this.load());

  load = (): Promise<void> =>
    this.pending.load(async () => {
      this.list = (await api<TokensView>('/tokens')).tokens;
    });

  create = (event: SubmitEvent) => {
    event.preventDefault();
    this.said = null;
    void this.pending.run(async () => {
      const body = {
        name: this.name,
        ...(this.expiry ? { expiresInDays: Number(this.expiry) } : {}),
      };
      const t = await api<TokenCreated>('/tokens', { method: 'POST', body });
      this.fresh = { name: t.name, token: t.token };
      this.name = '';
    }, 'create');
  };

  revoke = (t: TokenView) => {
    this.said = null;
    void this.pending
      .run(() => api(`/tokens/${t.id}`, { method: 'DELETE' }), t.id)
      .then((ok) => {
        if (!ok) return;
        this.confirming = null;
        this.said = `The token “${t.name}” is revoked: anything using it gets 401 now.`;
      });
  };
}

export const isExpired = (t: TokenView, now = Date.now()): boolean =>
  t.expiresAt !== null && Date.parse(t.expiresAt) <= now;
