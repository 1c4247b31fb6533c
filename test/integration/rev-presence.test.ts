import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import * as Y from 'yjs';
import { WebsocketProvider } from 'y-websocket';
import { PING_MS } from '#server/collab/upgrade.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { connect, synced, wsUrl, type Client } from '../helpers/clients.ts';
import { serverWithProject } from '../helpers/fixture.ts';
import { bigDraft } from '../helpers/collab-attack.ts';
import { throttledProxy } from '../helpers/throttle.ts';

const cleanup = cleanupAfterEach();

/** A client on the `ws` package, whose socket the test can pause (it then stops answering pings). */
function pausable(httpUrl: string, draftId: string, token: string): Client {
  const doc = new Y.Doc();
  const provider = new WebsocketProvider(wsUrl(httpUrl), draftId, doc, {
    params: { token },
    disableBc: true,
    WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
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

/** Resolves when `predicate` holds for `observer`'s view of who is present. */
function presence(observer: Client, predicate: (ids: number[]) => boolean): Promise<void> {
  const ids = () => [...observer.provider.awareness.getStates().keys()];
  if (predicate(ids())) return Promise.resolve();
  return new Promise((resolve) => {
    const check = () => {
      if (!predicate(ids())) return;
      observer.provider.awareness.off('change', check);
      resolve();
    };
    observer.provider.awareness.on('change', check);
  });
}

describe('REV-45: a collaborator who goes offline stops showing as present within seconds', () => {
  it(
    'REV-45 a client whose network vanished (no close frame, no pongs) is dropped and its presence removed within 2 × PING_MS; live idle clients stay',
    { timeout: 30_000 },
    async () => {
      const { server, admin, draftId } = await serverWithProject(cleanup);
      const observer = connect(server.url, draftId, { token: admin.token });
      const idle = connect(server.url, draftId, { token: admin.token });
      const leaver = pausable(server.url, draftId, admin.token);
      cleanup.push(
        () => observer.destroy(),
        () => idle.destroy(),
        () => leaver.destroy(),
      );
      await Promise.all([synced(observer), synced(idle), synced(leaver)]);
      idle.provider.awareness.setLocalStateField('user', { name: 'Ida Idle' });
      leaver.provider.awareness.setLocalStateField('user', { name: 'Lee Leaver' });
      const leaverId = leaver.doc.clientID;
      const idleId = idle.doc.clientID;
      await presence(observer, (ids) => ids.includes(leaverId) && ids.includes(idleId));

      // The network goes: nothing more is read from the socket, so pings go unanswered, and
      // nothing tells the server (no close frame).
      const ws = leaver.provider.ws as unknown as WebSocket;
      ws.pause();
      const from = Date.now();
      await presence(observer, (ids) => !ids.includes(leaverId));
      const took = Date.now() - from;
      // Two ping intervals, and slack for a loaded machine: before, it took 30–60 s.
      expect(took).toBeLessThanOrEqual(2 * PING_MS + 3_000);
      expect(PING_MS).toBeLessThanOrEqual(2_500);

      // Clients that answer pings are not dropped, however idle.
      expect([...observer.provider.awareness.getStates().keys()]).toContain(idleId);
      expect(observer.provider.wsconnected).toBe(true);
      expect(idle.provider.wsconnected).toBe(true);
    },
  );

  it(
    'REV-45 a slow link downloading a large draft (its ping waits behind the data for longer than 2 × PING_MS) is not dropped',
    { timeout: 90_000 },
    async () => {
      const { server, admin, draftId } = await serverWithProject(cleanup);
      await bigDraft(server.url, draftId, admin.token, 20_000_000, 5_000_000);
      // 20 MB at 1.5 MB/s: about 13 s in which the ping waits behind the data.
      const proxy = await throttledProxy({ host: '127.0.0.1', port: server.port }, 1_500_000);
      cleanup.push(() => proxy.close());
      const slow = connect(`http://127.0.0.1:${proxy.port}`, draftId, { token: admin.token });
      cleanup.push(() => slow.destroy());
      let closes = 0;
      slow.provider.on('connection-close', () => void closes++);
      const from = Date.now();
      await synced(slow);
      expect(Date.now() - from).toBeGreaterThan(2 * PING_MS);
      expect(closes).toBe(0);
    },
  );
});
