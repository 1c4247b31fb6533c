import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { encodeUpdate } from '#server/collab/protocol.ts';
import { addItem, sectionMap } from '#schema/content/ydoc.ts';
import { serverWithProject } from '../helpers/fixture.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { connect, synced, until } from '../helpers/clients.ts';
import { awarenessFrame, stalledClient } from '../helpers/collab-attack.ts';
import { healthProbe, rssMb, rssPeak } from '../helpers/health.ts';
import { rawSocket } from '../helpers/raw-socket.ts';

/**
 * SEC-2: back-pressure. Before: a socket that never reads made the server queue
 * without bound (framing wrote regardless of the buffer). npm test uses a 1 MiB bound to stay
 * fast; `npm run soak` (SOAK=1) the default (2 × the 16 MiB frame limit).
 */
const SOAK = process.env.SOAK === '1';
const BOUND = SOAK ? 32 * 1024 * 1024 : 1024 * 1024;
const CHUNK = 256 * 1024;
/** Written to the room at most: well past the bound plus what the kernel's socket buffers absorb. */
const MAX_BYTES = SOAK ? 400_000_000 : 60_000_000;

const cleanup = cleanupAfterEach();

describe('SEC-2: back-pressure', () => {
  it(
    `SEC-2 a socket that never reads is dropped once its unsent data passes COLLAB_MAX_BUFFERED_BYTES (${BOUND} bytes); memory stays bounded, others are served, /api/health keeps answering`,
    { timeout: 180_000 },
    async () => {
      const { server, admin, draftId } = await serverWithProject(
        cleanup,
        SOAK ? {} : { COLLAB_MAX_BUFFERED_BYTES: String(BOUND) },
      );
      const observer = connect(server.url, draftId, { token: admin.token });
      cleanup.push(() => observer.destroy());
      await synced(observer);

      // The slow client shows a presence (so everyone sees when the server lets it go), then never reads.
      const slowId = 5_000_000;
      const slow = await stalledClient(server.url, draftId, admin.token, [
        awarenessFrame([[slowId, 1, JSON.stringify({ slow: true })]]),
      ]);
      cleanup.push(() => slow.destroy());
      await expect.poll(() => observer.provider.awareness.getStates().has(slowId)).toBe(true);
      const slowClosed = new Promise<void>((resolve) => slow.once('close', () => resolve()));

      const writer = await rawSocket(server.url, draftId, admin.token);
      cleanup.push(() => writer.ws.terminate());
      const author = new Y.Doc();
      // One agent whose name and description are replaced again and again (shaped as the spec wants).
      const start = Y.encodeStateVector(author);
      const agentId = addItem(author, 'agents', { name: 'Flood' });
      writer.send(encodeUpdate(Y.encodeStateAsUpdate(author, start)));
      const flood = sectionMap(author, 'agents').get(agentId)!;
      const seen = (d: Y.Doc, n: number) =>
        sectionMap(d, 'agents').get(agentId)?.get('description') === `#${n}`;
      await fetch(`${server.url}/api/health`);
      const rss0 = rssMb();
      const peak = rssPeak();
      const health = healthProbe(server.url);
      let written = 0;
      // One update at a time, each broadcast (to the observer, and the slow socket) before the next.
      // Each replaces the last value, so the draft itself stays small: what grows is only what is queued.
      for (
        let n = 1;
        observer.provider.awareness.getStates().has(slowId) && written < MAX_BYTES;
        n++
      ) {
        const before = Y.encodeStateVector(author);
        author.transact(() => {
          flood.set('name', String.fromCharCode(97 + (n % 26)).repeat(CHUNK));
          flood.set('description', `#${n}`);
        });
        writer.send(encodeUpdate(Y.encodeStateAsUpdate(author, before)));
        written += CHUNK;
        await until(observer.doc, (d) => seen(d, n));
      }
      const during = await health.stop();
      const peakMb = peak.stop();
      console.log(
        `SEC-2 slow reader: dropped after ${(written / 1e6).toFixed(1)} MB written to the room; /api/health max ${during.maxMs.toFixed(0)} ms over ${during.count} answers; RSS ${rss0.toFixed(0)} → peak ${peakMb.toFixed(0)} MB`,
      );

      // The server let it go (its presence went with it); the observer was served all along.
      expect(observer.provider.awareness.getStates().has(slowId)).toBe(false);
      expect(written).toBeLessThan(MAX_BYTES);
      expect(during.maxMs).toBeLessThan(1500);
      expect(peakMb - rss0).toBeLessThan(SOAK ? 900 : 400);
      // Once it reads again it finds the connection gone: the server destroyed it with what it never read.
      slow.on('error', () => undefined);
      slow.resume();
      await slowClosed;
    },
  );
});
