import * as Y from 'yjs';
import { itemText, sectionMap } from '#schema/content/ydoc.ts';
import { WebsocketProvider } from 'y-websocket';

/** A stock y-websocket client, as any third-party script would use it. */
export interface Client {
  doc: Y.Doc;
  provider: WebsocketProvider;
  destroy(): void;
}

export function wsUrl(httpUrl: string): string {
  return `${httpUrl.replace(/^http/, 'ws')}/collab`;
}

export function connect(httpUrl: string, draftId: string, params: Record<string, string>): Client {
  const doc = new Y.Doc();
  const provider = new WebsocketProvider(wsUrl(httpUrl), draftId, doc, {
    params,
    disableBc: true,
    WebSocketPolyfill: WebSocket,
  });
  return {
    doc,
    provider,
    destroy() {
      provider.destroy();
      doc.destroy();
    },
  };
}

export function synced(client: Client): Promise<void> {
  if (client.provider.synced) return Promise.resolve();
  return new Promise((resolve) => {
    const on = (state: boolean) => {
      if (!state) return;
      client.provider.off('sync', on);
      resolve();
    };
    client.provider.on('sync', on);
  });
}

/** Resolves when `predicate(doc)` holds, checked after every change to the doc. */
export function until(doc: Y.Doc, predicate: (doc: Y.Doc) => boolean): Promise<void> {
  if (predicate(doc)) return Promise.resolve();
  return new Promise((resolve) => {
    const check = () => {
      if (!predicate(doc)) return;
      doc.off('update', check);
      resolve();
    };
    doc.on('update', check);
  });
}

/** An agent's instructions in `doc`, or null while the agent is not there. */
export function instructionsOf(doc: Y.Doc, agentId: string): string | null {
  const agent = sectionMap(doc, 'agents').get(agentId);
  return agent ? (itemText(agent, 'instructions')?.toString() ?? null) : null;
}
