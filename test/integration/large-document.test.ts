import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { WebsocketProvider } from 'y-websocket';
import { encodeSyncStep1, encodeUpdate } from '#server/collab/protocol.ts';
import { addItem, itemText, sectionMap } from '#schema/content/ydoc.ts';
import { newProject, overTheWire } from '../helpers/fixture.ts';
import { synced, wsUrl } from '../helpers/clients.ts';
import { setupAdmin, startTestServer } from '../helpers/server.ts';
import { throttledProxy } from '../helpers/throttle.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';

/**
 * R6 for large drafts: a 20 MB document reaches a new stock client over a slow downlink without tripping
 * its 30 s silence timeout. npm test uses 25 MB/s; `npm run soak` the 2.5 MB/s (≈ 8 s).
 */
const RATE = Number(process.env.THROTTLE_BYTES_PER_S ?? 25_000_000);
const cleanup = cleanupAfterEach();

describe('a 20 MB document over a throttled link', () => {
  it(
    `[R6] syncs to a new stock client at ${(RATE / 1e6).toFixed(1)} MB/s without a reconnect`,
    { timeout: 60_000 },
    async () => {
      const server = await startTestServer();
      cleanup.push(() => server.close());
      const admin = await setupAdmin(server.url);
      const draftId = (await newProject(overTheWire(server.url, admin.token))).environments[0]!
        .draftId!;

      // 20 MB in four updates of 5 MB (each under the 16 MiB frame limit), from a raw client.
      const seed = new WebSocket(`${wsUrl(server.url)}/${draftId}?token=${admin.token}`);
      await new Promise((resolve) => (seed.onopen = resolve));
      const author = new Y.Doc();
      // Four agents whose instructions hold 5 MB each (updates must fit the content spec's layout).
      for (let part = 0; part < 4; part++)
        addItem(author, 'agents', { name: `Part ${part}` }, `part${part}`);
      for (let part = 0; part < 4; part++) {
        const before = part === 0 ? new Uint8Array([0]) : Y.encodeStateVector(author);
        itemText(sectionMap(author, 'agents').get(`part${part}`), 'instructions')!.insert(
          0,
          `${part}`.repeat(5_000_000),
        );
        seed.send(new Uint8Array(encodeUpdate(Y.encodeStateAsUpdate(author, before))));
      }
      // The server answers a sync step 1 only once everything before it is in its log.
      seed.binaryType = 'arraybuffer';
      const stored = new Promise<void>((resolve) => {
        seed.onmessage = (ev: MessageEvent) => {
          const [type, sub] = new Uint8Array(ev.data as ArrayBuffer);
          if (type === 0 && sub === 1) resolve();
        };
      });
      seed.send(new Uint8Array(encodeSyncStep1(Y.encodeStateVector(author))));
      await stored;
      const bytes = Y.encodeStateAsUpdate(author).length;
      expect(bytes).toBeGreaterThan(20_000_000);

      const proxy = await throttledProxy({ host: '127.0.0.1', port: server.port }, RATE);
      cleanup.push(() => proxy.close());
      const doc = new Y.Doc();
      const provider = new WebsocketProvider(`ws://127.0.0.1:${proxy.port}/collab`, draftId, doc, {
        params: { token: admin.token },
        disableBc: true,
        WebSocketPolyfill: WebSocket,
      });
      cleanup.push(() => provider.destroy());
      let closes = 0;
      provider.on('connection-close', () => void closes++);
      await synced({ doc, provider, destroy: () => provider.destroy() });
      seed.close();
      expect(itemText(sectionMap(doc, 'agents').get('part3'), 'instructions')!.length).toBe(
        5_000_000,
      );
      expect(Y.encodeStateAsUpdate(doc).length).toBe(bytes);
      expect(closes).toBe(0);
    },
  );
});
