import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { CLOSE } from '#schema/errors.ts';
import { addItem, itemText, sectionMap } from '#schema/content/ydoc.ts';
import { encodeUpdate } from '#server/collab/protocol.ts';
import { serverWithProject } from '../helpers/fixture.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { healthProbe, rssMb } from '../helpers/health.ts';
import { rawSocket } from '../helpers/raw-socket.ts';

/**
 * SEC-4: deciding whether a read-only peer's update would change the draft costs
 * the update, not the document. Before: every frame from a read-only socket copied the draft
 * into a scratch document (~10 ms a frame on 5 MB). `npm run soak` (SOAK=1) sends 20× more frames.
 */
const SOAK = process.env.SOAK === '1';
const FRAMES = SOAK ? 4000 : 200;
const cleanup = cleanupAfterEach();

describe('SEC-4 read-only checks cost the update, not the document', () => {
  it(
    `SEC-4 ${FRAMES} no-op sync step 2 frames from a read-only socket on a 5 MB draft: accepted, /api/health keeps answering, and a real change is still refused 4403`,
    { timeout: 120_000 },
    async () => {
      const { server, admin, draftId } = await serverWithProject(cleanup);

      // 5 MB of instructions in 10,000 separate inserts (10,000 structs, some deleted), from a raw editor.
      const author = new Y.Doc();
      const ids = Array.from({ length: 10 }, (_, i) =>
        addItem(author, 'agents', { name: `Agent ${i}` }),
      );
      for (let n = 0; n < 10_000; n++) {
        const text = itemText(sectionMap(author, 'agents').get(ids[n % 10]!), 'instructions')!;
        text.insert(0, `${n % 10}`.repeat(500));
        if (n % 50 === 0) text.delete(0, 10);
      }
      const editor = await rawSocket(server.url, draftId, admin.token);
      editor.send(encodeUpdate(Y.encodeStateAsUpdate(author)));
      expect(await editor.handled()).toBe(true);
      expect(Y.encodeStateAsUpdate(author).length).toBeGreaterThan(5_000_000);

      // A read-only peer holding the same document answers with what it has that the server lacks: nothing.
      const reader = await rawSocket(server.url, draftId, admin.token, '&mode=read');
      const noOps = [
        encodeUpdate(Y.encodeStateAsUpdate(author, Y.encodeStateVector(author))), // its deletes only
        encodeUpdate(Y.encodeStateAsUpdate(new Y.Doc())), // an empty update: 3 bytes of payload
      ];
      const rssBefore = rssMb();
      const health = healthProbe(server.url);
      const attack = (async () => {
        const t0 = performance.now();
        let ok = true;
        // In bursts, so /api/health asks land between them as well as behind them.
        for (let burst = 0; burst < 20 && ok; burst++) {
          for (let i = 0; i < FRAMES / 20; i++) reader.send(noOps[i % 2]!);
          ok = await reader.handled();
        }
        return { ok, ms: performance.now() - t0 };
      })();
      const { ok, ms } = await attack;
      const during = await health.stop();
      const rssAfter = rssMb();
      console.log(
        `SEC-4: ${FRAMES} no-op frames (${noOps.map((f) => f.length).join(' and ')} bytes) handled in ${ms.toFixed(0)} ms (${(ms / FRAMES).toFixed(3)} ms each); ` +
          `/api/health worst ${during.maxMs.toFixed(1)} ms over ${during.count} asks; RSS ${rssBefore.toFixed(0)} → ${rssAfter.toFixed(0)} MB`,
      );
      expect(ok).toBe(true); // every frame accepted: the connection is still open
      expect(during.maxMs).toBeLessThan(1500);
      expect(rssAfter - rssBefore).toBeLessThan(500);

      // It still may not change anything.
      const before = Y.encodeStateVector(author);
      addItem(author, 'agents', { name: 'Sneaky' });
      reader.send(encodeUpdate(Y.encodeStateAsUpdate(author, before)));
      expect(await reader.closed).toBe(CLOSE.read_only);
      // Nor delete anything.
      const deleter = await rawSocket(server.url, draftId, admin.token, '&mode=read');
      const copy = new Y.Doc();
      Y.applyUpdate(copy, Y.encodeStateAsUpdate(author));
      const sv = Y.encodeStateVector(copy);
      itemText(sectionMap(copy, 'agents').get(ids[0]!), 'instructions')!.delete(0, 1);
      deleter.send(encodeUpdate(Y.encodeStateAsUpdate(copy, sv)));
      expect(await deleter.closed).toBe(CLOSE.read_only);
      editor.ws.terminate();
    },
  );
});
