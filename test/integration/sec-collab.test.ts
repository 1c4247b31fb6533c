import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { connect, synced, wsUrl, type Client } from '../helpers/clients.ts';
import { awarenessFrame } from '../helpers/collab-attack.ts';
import { rawSocket } from '../helpers/raw-socket.ts';
import { newUser, overTheWire, serverWithProject } from '../helpers/fixture.ts';

/** Who a presence says it is (SEC-12), and how many sockets a user may hold (SEC-8). */
const cleanup = cleanupAfterEach();

async function setup(env: Record<string, string> = {}) {
  const { server, admin, project, dev, draftId } = await serverWithProject(cleanup, env);
  const { body: me } = await overTheWire(server.url, admin.token).call<{
    user: { id: string; name: string };
  }>('GET', '/api/session');
  return { server, admin, adminUser: me.user, projectId: project.id, envId: dev.id, draftId };
}

function client(url: string, draftId: string, token: string): Client {
  const c = connect(url, draftId, { token });
  cleanup.push(() => c.destroy());
  return c;
}

/** Resolves with the state of `clientId` as `observer` sees it, once it has one matching `predicate`. */
function stateOf(
  observer: Client,
  clientId: number,
  predicate: (s: Record<string, unknown>) => boolean = () => true,
): Promise<Record<string, unknown>> {
  const awareness = observer.provider.awareness;
  return new Promise((resolve) => {
    const check = () => {
      const s = awareness.getStates().get(clientId);
      if (!s || !predicate(s)) return;
      awareness.off('change', check);
      resolve(s);
    };
    awareness.on('change', check);
    check();
  });
}

describe('SEC-12: presence cannot be spoofed', () => {
  it("SEC-12 a peer's presence shows its authenticated user's id and name, whatever it sends, and never a `server` field", async () => {
    const { server, admin, adminUser, projectId, envId, draftId } = await setup();
    const bob = await newUser(overTheWire(server.url, admin.token), 'bob@example.com', 'Bob');
    expect(
      (
        await overTheWire(server.url, admin.token).call(
          'PUT',
          `/api/projects/${projectId}/members/${bob.id}`,
          { roles: { [envId]: ['viewer'] } },
        )
      ).status,
    ).toBe(200);

    const observer = client(server.url, draftId, admin.token);
    const mallory = client(server.url, draftId, bob.token);
    await Promise.all([synced(observer), synced(mallory)]);
    // A viewer (stock client) claims to be the admin, and claims the server cannot save.
    mallory.provider.awareness.setLocalState({
      user: { id: adminUser.id, name: adminUser.name, color: '#ff0000' },
      server: { storage: 'failing', since: new Date().toISOString() },
      at: { section: 'agents', itemId: null },
    });
    const seen = await stateOf(observer, mallory.doc.clientID, (s) => 'at' in s);
    expect(seen.user).toEqual({ id: bob.id, name: 'Bob', color: '#ff0000' });
    expect(seen).not.toHaveProperty('server');
    expect(seen.at).toEqual({ section: 'agents', itemId: null });

    // A state without any `user` still says who it is.
    mallory.provider.awareness.setLocalState({ cursor: 3 });
    const bare = await stateOf(observer, mallory.doc.clientID, (s) => 'cursor' in s);
    expect(bare).toEqual({ cursor: 3, user: { id: bob.id, name: 'Bob' } });

    // A raw client cannot change the observer's presence (another connection's client id), nor the server's.
    observer.provider.awareness.setLocalStateField('user', { name: 'Ada' });
    await stateOf(mallory, observer.doc.clientID);
    const { ws: raw } = await rawSocket(server.url, draftId, bob.token);
    cleanup.push(() => raw.terminate());
    raw.send(
      awarenessFrame([
        [observer.doc.clientID, 1_000_000, JSON.stringify({ user: { name: 'Ada (hacked)' } })],
      ]),
    );
    raw.send(awarenessFrame([[observer.doc.clientID, 1_000_001, 'null']]));
    // A later frame of its own shows its earlier ones were handled (frames of a connection are handled in order).
    raw.send(awarenessFrame([[424242, 1, JSON.stringify({ marker: true })]]));
    await stateOf(mallory, 424242);
    expect(raw.readyState).toBe(WebSocket.OPEN);
    expect(mallory.provider.awareness.getStates().get(observer.doc.clientID)?.user).toMatchObject({
      name: 'Ada',
      id: adminUser.id,
    });
  });
});

describe('SEC-1: client ids stay with the connection that introduced them', () => {
  it('SEC-1 stock clients send back every state they receive: that echo is not held against them (even over the size limit after the server’s rewrite) and never moves a client id, so when one of two tabs of the same user closes, its presence goes', async () => {
    const { server, admin, draftId } = await setup();
    const tabA = client(server.url, draftId, admin.token);
    const tabB = client(server.url, draftId, admin.token);
    const watcher = client(server.url, draftId, admin.token);
    await Promise.all([synced(tabA), synced(tabB), synced(watcher)]);
    let closes = 0;
    tabB.provider.on('connection-close', () => void closes++);
    // Just under the size limit as sent; the server's rewrite (user id and name) takes it over.
    tabA.provider.awareness.setLocalState({ tab: 'A', pad: 'x'.repeat(8192 - 30) });
    // B has received A's state (and echoed it to the server) once it shows there.
    await stateOf(tabB, tabA.doc.clientID, (s) => s.tab === 'A');
    await stateOf(watcher, tabA.doc.clientID, (s) => s.tab === 'A');
    // B's next state reaches the watcher after its echo was handled: the echo did not get B closed (4413).
    tabB.provider.awareness.setLocalStateField('probe', 1);
    await stateOf(watcher, tabB.doc.clientID, (s) => s.probe === 1);
    expect(closes).toBe(0);
    tabA.provider.disconnect();
    await expect
      .poll(() => watcher.provider.awareness.getStates().has(tabA.doc.clientID))
      .toBe(false);
  });
});

describe('SEC-8: websocket connections per user and per server', () => {
  /** Opens a raw socket; resolves with 'open' or the HTTP status of the refusal (and its error id). */
  function attempt(
    url: string,
    draftId: string,
    token: string,
  ): Promise<{
    ws?: WebSocket;
    closed?: Promise<number>;
    status?: number;
    id?: string;
    details?: unknown;
  }> {
    return new Promise((resolve) => {
      const ws = new WebSocket(`${wsUrl(url)}/${draftId}?token=${token}`);
      const closed = new Promise<number>((done) => ws.once('close', done));
      ws.once('open', () => {
        cleanup.push(() => ws.terminate());
        resolve({ ws, closed });
      });
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => {
          const { error } = JSON.parse(body) as { error: { id: string; details?: unknown } };
          resolve({ status: res.statusCode, id: error.id, details: error.details });
        });
      });
      ws.once('error', () => undefined);
    });
  }

  it('SEC-8 over COLLAB_MAX_CONNECTIONS_PER_USER / COLLAB_MAX_CONNECTIONS, upgrades are refused with 429 too_many_connections, counting sockets still connecting', async () => {
    const { server, admin, projectId, envId, draftId } = await setup({
      COLLAB_MAX_CONNECTIONS_PER_USER: '3',
      COLLAB_MAX_CONNECTIONS: '5',
    });
    const bob = await newUser(overTheWire(server.url, admin.token), 'bob@example.com', 'Bob');
    expect(
      (
        await overTheWire(server.url, admin.token).call(
          'PUT',
          `/api/projects/${projectId}/members/${bob.id}`,
          { roles: { [envId]: ['viewer'] } },
        )
      ).status,
    ).toBe(200);

    // Ten upgrades at once: none has finished its handshake when the next arrives.
    const burst = await Promise.all(
      Array.from({ length: 10 }, () => attempt(server.url, draftId, admin.token)),
    );
    const opened = burst.filter((a) => a.ws);
    expect(opened).toHaveLength(3);
    expect(burst.filter((a) => a.status === 429 && a.id === 'too_many_connections')).toHaveLength(
      7,
    );
    expect(burst.find((a) => a.status === 429)!.details).toEqual({
      limit: 'COLLAB_MAX_CONNECTIONS_PER_USER',
      max: 3,
    });

    // The server-wide limit: Bob gets two more, then the server is full for everyone.
    const bobs = await Promise.all(
      Array.from({ length: 3 }, () => attempt(server.url, draftId, bob.token)),
    );
    expect(bobs.filter((a) => a.ws)).toHaveLength(2);
    expect(bobs.filter((a) => a.status === 429 && a.id === 'too_many_connections')).toHaveLength(1);
    expect(bobs.find((a) => a.status === 429)!.details).toEqual({
      limit: 'COLLAB_MAX_CONNECTIONS',
      max: 5,
    });

    // A socket that closes frees its place, however it ended.
    opened[0]!.ws!.terminate();
    await opened[0]!.closed;
    await expect
      .poll(async () => (await attempt(server.url, draftId, admin.token)).ws !== undefined)
      .toBe(true);
    expect((await attempt(server.url, draftId, admin.token)).status).toBe(429);
  });
});
