import * as Y from 'yjs';
import { WebsocketProvider } from 'y-websocket';
import type { UserView } from '#schema/api.ts';
import { CLOSE } from '#schema/errors.ts';
import { listAgents, sectionMap, type AgentView } from '#schema/workspace.ts';
import { personColor } from './colors.ts';

export type ConnectionStatus = 'connecting' | 'connected' | 'offline';

export interface Presence {
  clientId: number;
  name: string;
  color: string;
  agentId: string | null;
  self: boolean;
}

/**
 * One open draft in the browser. The Y.Doc, provider and awareness are plain fields (never
 * reactive state); the UI reads small derived views that observers keep up to date.
 */
export class DraftSession {
  readonly doc = new Y.Doc();
  readonly provider: WebsocketProvider;
  status = $state<ConnectionStatus>('connecting');
  synced = $state(false);
  agents = $state<AgentView[]>([]);
  people = $state<Presence[]>([]);
  /** Set when the server refused this connection for good (e.g. read-only); tells what to do. */
  refusal = $state<string | null>(null);
  private readonly cleanups: (() => void)[] = [];

  constructor(draftId: string, user: UserView) {
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/collab`;
    this.provider = new WebsocketProvider(url, draftId, this.doc, { maxBackoffTime: 5000 });
    const awareness = this.provider.awareness;
    awareness.setLocalStateField('user', { id: user.id, name: user.name, ...personColor(user.id) });

    const onStatus = ({ status }: { status: 'connected' | 'connecting' | 'disconnected' }) => {
      this.status = status === 'connected' ? 'connected' : status === 'connecting' && this.status === 'connecting' ? 'connecting' : 'offline';
    };
    const onSync = (s: boolean) => (this.synced = s);
    const onClose = (event: CloseEvent | null) => {
      if (event?.code === CLOSE.read_only) this.refusal = 'This draft is read-only for you; your change was not saved. Reload the page.';
    };
    this.provider.on('status', onStatus);
    this.provider.on('sync', onSync);
    this.provider.on('connection-close', onClose);
    this.cleanups.push(() => {
      this.provider.off('status', onStatus);
      this.provider.off('sync', onSync);
      this.provider.off('connection-close', onClose);
    });

    const agents = sectionMap(this.doc, 'agents');
    const onAgents = () => (this.agents = listAgents(this.doc));
    agents.observeDeep(onAgents);
    this.cleanups.push(() => agents.unobserveDeep(onAgents));
    onAgents();

    const onAwareness = () => {
      const people: Presence[] = [];
      for (const [clientId, state] of awareness.getStates()) {
        const u = (state as { user?: { name?: unknown; color?: unknown } }).user;
        if (!u || typeof u.name !== 'string') continue;
        const agentId = (state as { agentId?: unknown }).agentId;
        people.push({
          clientId,
          name: u.name,
          color: typeof u.color === 'string' ? u.color : '#64748b',
          agentId: typeof agentId === 'string' ? agentId : null,
          self: clientId === this.doc.clientID,
        });
      }
      this.people = people.sort((a, b) => Number(b.self) - Number(a.self) || a.name.localeCompare(b.name));
    };
    awareness.on('change', onAwareness);
    this.cleanups.push(() => awareness.off('change', onAwareness));
    onAwareness();
  }

  /** Tells the others which agent this person has open. */
  focus(agentId: string | null): void {
    this.provider.awareness.setLocalStateField('agentId', agentId);
  }

  agent(id: string): Y.Map<unknown> | undefined {
    return sectionMap(this.doc, 'agents').get(id);
  }

  destroy(): void {
    for (const c of this.cleanups.splice(0)) c();
    this.provider.destroy();
    this.doc.destroy();
  }
}
