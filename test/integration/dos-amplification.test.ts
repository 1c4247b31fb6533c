import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import * as encoding from 'lib0/encoding';
import { encodeSyncStep1 } from '#server/collab/protocol.ts';
import { serverWithProject } from '../helpers/fixture.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { bigDraft } from '../helpers/collab-attack.ts';
import { healthProbe, rssMb, rssPeak } from '../helpers/health.ts';
import { rawSocket } from '../helpers/raw-socket.ts';

/**
 * SEC-3: no amplification. Before: 14 KB of sync step 1 frames with distinct state
 * vectors on a 5 MB draft grew RSS to 10.9 GB and blocked /api/health for 36 s. npm test sends
 * a few hundred; `npm run soak` (SOAK=1) the 14 KB (about 1,400 frames).
 */
const SOAK = process.env.SOAK === '1';
const REQUESTS = SOAK ? 1400 : Number(process.env.AMPLIFICATION_REQUESTS ?? 300);
const DRAFT_BYTES = 5_000_000;
/** Connections of one user that read every reply and ask again at once, each time with a new state vector. */
const READERS = SOAK ? 90 : 40;
/** Full replies the reading attack lasts for (its clock: at the budget, 5 MB replies come at about 6 a second). */
const REPLIES = SOAK ? 60 : 20;
const BUDGET = 32 * 1024 * 1024;

const cleanup = cleanupAfterEach();

/** A state vector naming one client the draft never saw: each one distinct, each answered with the whole draft. */
function strangerVector(i: number): Uint8Array {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, 1);
  encoding.writeVarUint(e, 7_000_000 + i);
  encoding.writeVarUint(e, 1);
  return encoding.toUint8Array(e);
}

describe('SEC-3: no amplification', () => {
  it(
    `SEC-3 ${REQUESTS} sync step 1 frames with distinct state vectors on a 5 MB draft get one full-state reply in flight at a time, coalesced; RSS and /api/health stay bounded`,
    { timeout: 180_000 },
    async () => {
      const { server, admin, draftId } = await serverWithProject(cleanup);
      const author = await bigDraft(server.url, draftId, admin.token, DRAFT_BYTES);

      const { ws } = await rawSocket(server.url, draftId, admin.token, '&mode=read');
      cleanup.push(() => ws.terminate());
      let fullReplies = 0;
      let bytes = 0;
      // The last request names everything the draft holds: its answer is tiny, and comes after every other.
      const last = new Promise<void>((resolve) => {
        ws.on('message', (data: Buffer) => {
          if (data[0] !== 0 || data[1] !== 1) return;
          bytes += data.length;
          if (data.length > DRAFT_BYTES) fullReplies++;
          else resolve();
        });
      });
      const frames = Array.from({ length: REQUESTS }, (_, i) => encodeSyncStep1(strangerVector(i)));
      const sent = frames.reduce((n, f) => n + f.length, 0);
      await fetch(`${server.url}/api/health`);
      const rss0 = rssMb();
      const peak = rssPeak();
      const health = healthProbe(server.url);
      for (const f of frames) ws.send(f);
      ws.send(encodeSyncStep1(Y.encodeStateVector(author)));
      await last;
      const during = await health.stop();
      const peakMb = peak.stop();
      console.log(
        `SEC-3 step-1 flood: ${REQUESTS} frames (${(sent / 1e3).toFixed(1)} KB) → ${fullReplies} full replies (${(bytes / 1e6).toFixed(0)} MB); /api/health max ${during.maxMs.toFixed(0)} ms over ${during.count} answers; RSS ${rss0.toFixed(0)} → peak ${peakMb.toFixed(0)} MB, after ${rssMb().toFixed(0)} MB`,
      );

      // Coalesced: the first request is answered, the rest wait for its reply to drain and collapse into the latest.
      expect(fullReplies).toBeGreaterThanOrEqual(1);
      expect(fullReplies).toBeLessThan(Math.min(20, REQUESTS / 4));
      expect(during.maxMs).toBeLessThan(1500);
      expect(peakMb - rss0).toBeLessThan(500);
    },
  );

  it(
    `SEC-3 ${READERS} connections of one user that read each full reply and ask again with a new state vector are held to COLLAB_FULL_STATE_BYTES_PER_SECOND of fresh encodings; /api/health keeps answering`,
    { timeout: 180_000 },
    async () => {
      const { server, admin, draftId } = await serverWithProject(cleanup);
      await bigDraft(server.url, draftId, admin.token, DRAFT_BYTES);
      const sockets = await Promise.all(
        Array.from(
          { length: READERS },
          async () => (await rawSocket(server.url, draftId, admin.token, '&mode=read')).ws,
        ),
      );
      cleanup.push(() => sockets.forEach((ws) => ws.terminate()));

      let next = 0;
      let fresh = 0;
      let attacking = true;
      await fetch(`${server.url}/api/health`);
      const health = healthProbe(server.url);
      const t0 = performance.now();
      for (const ws of sockets) {
        ws.on('message', (data: Buffer) => {
          if (data[0] !== 0 || data[1] !== 1) return;
          fresh += data.length;
          if (attacking) ws.send(encodeSyncStep1(strangerVector(next++)));
        });
        ws.send(encodeSyncStep1(strangerVector(next++)));
      }
      await expect
        .poll(() => fresh, { timeout: 120_000, interval: 50 })
        .toBeGreaterThanOrEqual(REPLIES * DRAFT_BYTES);
      attacking = false;
      const seconds = (performance.now() - t0) / 1000;
      const during = await health.stop();
      console.log(
        `SEC-3 reading flood, ${READERS} connections: ${(fresh / 1e6).toFixed(0)} MB of full replies in ${seconds.toFixed(1)} s; /api/health max ${during.maxMs.toFixed(0)} ms over ${during.count} answers`,
      );

      // Fresh encodings: at most one second's worth up front, then the rate, plus the one that went into debt.
      expect(fresh).toBeLessThanOrEqual(BUDGET * (seconds + 1) + 2 * DRAFT_BYTES);
      expect(during.maxMs).toBeLessThan(1500);
    },
  );
});
