import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { CLOSE } from '#schema/errors.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { connect, synced, type Client } from '../helpers/clients.ts';
import { awarenessFrame } from '../helpers/collab-attack.ts';
import { healthProbe, rssMb, rssPeak } from '../helpers/health.ts';
import { rawSocket } from '../helpers/raw-socket.ts';
import { newUser, overTheWire, serverWithProject } from '../helpers/fixture.ts';

/**
 * SEC-1: presence (awareness) is bounded. Before: a viewer sending 8 MB states grew
 * RSS from 98 MB to 3.7 GB, and it stayed at 7 GB after they left. `npm run soak` (SOAK=1)
 * runs the attack at full size.
 */
const SOAK = process.env.SOAK === '1';
const ATTACKERS = SOAK ? 12 : 3;
const FRAMES_EACH = SOAK ? 8 : 2;
const STATE_BYTES = 8_000_000;

const cleanup = cleanupAfterEach();

async function setup(env: Record<string, string> = {}) {
  const { server, admin, project, dev, draftId } = await serverWithProject(cleanup, env);
  const viewer = await newUser(overTheWire(server.url, admin.token), 'viewer@example.com', 'Vera');
  expect(
    (
      await overTheWire(server.url, admin.token).call(
        'PUT',
        `/api/projects/${project.id}/members/${viewer.id}`,
        { roles: { [dev.id]: ['viewer'] } },
      )
    ).status,
  ).toBe(200);
  const observer = connect(server.url, draftId, { token: admin.token });
  cleanup.push(() => observer.destroy());
  await synced(observer);
  return { server, admin, viewer, draftId, observer };
}

/** Every client id `observer` has ever been told about. */
function seenIds(observer: Client): Set<number> {
  const seen = new Set<number>();
  observer.provider.awareness.on(
    'update',
    ({ added, updated }: { added: number[]; updated: number[] }) => {
      for (const id of [...added, ...updated]) seen.add(id);
    },
  );
  return seen;
}

describe('SEC-1: presence is bounded', () => {
  it(
    `SEC-1 ${ATTACKERS} viewers sending ${FRAMES_EACH} presence states of 8 MB each (frame limit 16 MiB) are closed 4413, nothing is rebroadcast, RSS stays bounded, /api/health keeps answering`,
    { timeout: 120_000 },
    async () => {
      const { server, viewer, draftId, observer } = await setup();
      const seen = seenIds(observer);
      const huge = JSON.stringify({ user: { name: 'Vera' }, blob: 'x'.repeat(STATE_BYTES) });
      await fetch(`${server.url}/api/health`);
      const rss0 = rssMb();
      const peak = rssPeak();
      const health = healthProbe(server.url);

      const codes = await Promise.all(
        Array.from({ length: ATTACKERS }, async (_, a) => {
          const raw = await rawSocket(server.url, draftId, viewer.token);
          // One frame at a time (the next once the server has read this one, or closed): the attackers
          // run in this process, and their own copies of the frames should not be what RSS measures.
          for (let f = 0; f < FRAMES_EACH; f++) {
            raw.send(awarenessFrame([[1_000_000 + a * 100 + f, 1, huge]]));
            if (!(await raw.handled())) return await raw.closed;
          }
          // Still open after all its frames were read: not refused (0).
          raw.ws.terminate();
          return 0;
        }),
      );
      const during = await health.stop();
      const peakMb = peak.stop();
      console.log(
        `SEC-1 presence attack: /api/health max ${during.maxMs.toFixed(0)} ms over ${during.count} answers; RSS ${rss0.toFixed(0)} → peak ${peakMb.toFixed(0)} MB`,
      );

      expect(codes).toEqual(Array.from({ length: ATTACKERS }, () => CLOSE.presence_too_large));
      // Nothing of theirs reached anyone: the observer's next presence round trip shows only honest states.
      observer.provider.awareness.setLocalStateField('probe', 1);
      const probe = connect(server.url, draftId, { token: viewer.token });
      cleanup.push(() => probe.destroy());
      await synced(probe);
      await expect
        .poll(() => probe.provider.awareness.getStates().get(observer.doc.clientID)?.probe)
        .toBe(1);
      const theirs = (id: number) => id >= 1_000_000 && id < 1_000_000 + ATTACKERS * 100;
      expect([...seen].filter(theirs)).toEqual([]);
      expect([...probe.provider.awareness.getStates().keys()].filter(theirs)).toEqual([]);
      expect(during.maxMs).toBeLessThan(1500);
      expect(peakMb - rss0).toBeLessThan(600);
      const after = rssMb();
      console.log(`SEC-1 after they left: RSS ${after.toFixed(0)} MB`);
      // The attackers run in this process too: at soak size their own 768 MB of frames leave more
      // behind (before the fix: 7 GB stayed).
      expect(after - rss0).toBeLessThan(SOAK ? 600 : 300);
    },
  );

  it('SEC-1 a connection holds at most 4 client ids, the ones it introduced: a fifth closes it 4406', async () => {
    const { server, viewer, draftId, observer } = await setup();
    const raw = await rawSocket(server.url, draftId, viewer.token);
    for (let i = 0; i < 5; i++)
      raw.send(awarenessFrame([[2_000_000 + i, 1, JSON.stringify({ n: i })]]));
    expect(await raw.closed).toBe(CLOSE.presence_refused);
    // Its states go with it.
    await expect
      .poll(() =>
        [...observer.provider.awareness.getStates().keys()].filter(
          (id) => id >= 2_000_000 && id < 2_000_005,
        ),
      )
      .toEqual([]);
  });

  it('SEC-1 a person holds at most 16 client ids in a draft over all their connections: a 17th closes the connection that sent it 4406', async () => {
    const { server, viewer, draftId, observer } = await setup();
    const sockets = await Promise.all(
      Array.from({ length: 5 }, () => rawSocket(server.url, draftId, viewer.token)),
    );
    cleanup.push(() => sockets.forEach((s) => s.ws.terminate()));
    for (const [i, s] of sockets.slice(0, 4).entries()) {
      s.send(
        awarenessFrame([0, 1, 2, 3].map((k) => [2_100_000 + i * 4 + k, 1, JSON.stringify({ k })])),
      );
      expect(await s.handled()).toBe(true);
    }
    await expect
      .poll(
        () =>
          [...observer.provider.awareness.getStates().keys()].filter(
            (id) => id >= 2_100_000 && id < 2_100_100,
          ).length,
      )
      .toBe(16);
    sockets[4]!.send(awarenessFrame([[2_100_016, 1, JSON.stringify({ k: 16 })]]));
    expect(await sockets[4]!.closed).toBe(CLOSE.presence_refused);
    expect(observer.provider.awareness.getStates().has(2_100_016)).toBe(false);
  });

  it('SEC-1 presence updates are rate-limited per connection: over the burst they are deferred (the latest applied later) and a query for everyone’s presence goes unanswered', async () => {
    const { server, viewer, draftId, observer } = await setup({ COLLAB_PRESENCE_PER_SECOND: '10' });
    const { ws } = await rawSocket(server.url, draftId, viewer.token);
    cleanup.push(() => ws.terminate());
    const id = 3_000_000;
    for (let n = 0; n < 100; n++) ws.send(awarenessFrame([[id, n + 1, JSON.stringify({ n })]]));
    // The bucket (burst 20) is empty now: a query-awareness costs a token too, so it is ignored.
    // The server handles a connection's frames in order and answers a ping as it reads it.
    let answered = false;
    ws.on('message', (data: Buffer) => {
      if (data[0] === 1) answered = true;
    });
    ws.send(new Uint8Array([3]));
    ws.ping();
    await new Promise((resolve) => ws.once('pong', resolve));
    expect(answered).toBe(false);
    // The latest state was kept and arrives once a token is back; the connection stays.
    await expect.poll(() => observer.provider.awareness.getStates().get(id)?.n).toBe(99);
    expect(ws.readyState).toBe(WebSocket.OPEN);
  });
});
