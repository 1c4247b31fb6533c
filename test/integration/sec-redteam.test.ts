import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { WorkspaceContent } from '#schema/content/ydoc.ts';
import { itemText, sectionMap } from '#schema/content/ydoc.ts';
import { createSnapshots } from '#server/domain/snapshots.ts';
import { setupAdmin, startTestServer } from '../helpers/server.ts';
import { adminOf, newUser } from '../helpers/fixture.ts';

/** Red-team findings on the merged security-model code (SEC-9 … SEC-15: confidentiality). */
type Running = Awaited<ReturnType<typeof startTestServer>>;
interface Env {
  id: string;
  snapshotId: string | null;
  liveSnapshotId?: string | null;
}

let server: Running | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('red team: confidentiality', () => {
  it('SEC-10 snapshot ids are content addresses: a DEV-only member must not get production’s, or they confirm guesses of a production-only hotfix offline (a 4-digit PIN in 10,000 hashes)', async () => {
    server = await startTestServer();
    const url = server.url;
    const admin = await adminOf(url);
    const { body: created } = await admin.call<{ id: string; environments: Env[] }>(
      'POST',
      '/api/projects',
      { name: 'Confidential', sample: true },
    );
    const envs = created.environments;
    const [dev, , , , prod] = envs as [Env, Env, Env, Env, Env];
    const spy = await newUser(admin, 'spy@example.com', 'Spy');
    expect(
      (
        await admin.call('PUT', `/api/projects/${created.id}/members/${spy.id}`, {
          roles: { [dev.id]: ['viewer'] },
        })
      ).status,
    ).toBe(200);
    for (const e of envs.slice(0, 4))
      expect(
        (
          await admin.call('POST', `/api/environments/${e.id}/sync`, {
            message: 'release',
            confirmMissingSecrets: true,
          })
        ).status,
      ).toBe(200);
    expect(
      (
        await admin.call('POST', `/api/environments/${prod.id}/publish`, {
          confirmMissingSecrets: true,
        })
      ).status,
    ).toBe(200);
    // A hotfix made in production only: a door code in the widget's greeting.
    const { body: hotfix } = await admin.call<{ draftId: string }>(
      'POST',
      `/api/environments/${prod.id}/hotfix`,
    );
    await server.rooms.edit(hotfix.draftId, 'test', (doc) =>
      itemText(sectionMap(doc, 'channels').get('ch_widget'), 'greeting')!.insert(
        0,
        'Door code 4821. ',
      ),
    );
    expect(
      (
        await admin.call('POST', `/api/environments/${prod.id}/hotfix/publish`, {
          message: 'door code',
        })
      ).status,
    ).toBe(200);

    // The DEV viewer reads what they may: DEV's content (what was released) and the project.
    const { body: content } = await spy.call<WorkspaceContent>(
      'GET',
      `/api/environments/${dev.id}/content`,
    );
    const { body: project } = await spy.call<{ environments: Env[] }>(
      'GET',
      `/api/projects/${created.id}`,
    );
    const { body: board } = await spy.call<{ project: { environments: Env[] } }>(
      'GET',
      `/api/projects/${created.id}/board`,
    );
    const idOf = createSnapshots(undefined as never).idOf;
    const shown = new Set(
      [...project.environments, ...board.project.environments]
        .flatMap((e) => [e.snapshotId, e.liveSnapshotId])
        .filter(Boolean),
    );
    expect(project.environments[3]!.snapshotId ?? null).toBe(null); // staging: not theirs either
    // Nor does any other answer they may read name it.
    const hot = (await admin.call<{ environments: Env[] }>('GET', `/api/projects/${created.id}`))
      .body.environments[4]!.liveSnapshotId!;
    for (const path of [
      `/environments/${dev.id}/history`,
      `/projects/${created.id}/requests`,
      `/environments/${dev.id}/hotfix`,
      `/environments/${dev.id}/divergence`,
      `/environments/${dev.id}/conflicts`,
      `/projects`,
      `/projects/${created.id}/board`,
    ]) {
      const { body } = await spy.call('GET', `/api${path}`);
      expect(JSON.stringify(body), path).not.toContain(hot);
    }
    // Last, with no request after it: 10,000 hashes can take longer than an idle keep-alive
    // connection lives, and a request on one the server just closed fails with ECONNRESET.
    let found: string | null = null;
    for (let n = 0; n < 10_000 && !found; n++) {
      const guess = structuredClone(content);
      const widget = guess.channels.ch_widget as Record<string, unknown>;
      widget.greeting = `Door code ${String(n).padStart(4, '0')}. ${widget.greeting as string}`;
      if (shown.has(idOf(guess))) found = String(n).padStart(4, '0');
    }
    expect(found).toBe(null);
    // Their own stage still shows its snapshot.
    expect(project.environments[0]!.snapshotId ?? null).toBe(envs[0]!.snapshotId ?? null);
  });
});

/** An anonymous POST to `path` declaring a JSON body of `length` bytes and sending all but its last byte. */
function almostABody(
  httpUrl: string,
  path: string,
  length: number,
  body: Buffer,
  token?: string,
): Promise<net.Socket> {
  const { hostname, port } = new URL(httpUrl);
  const socket = net.connect(Number(port), hostname);
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    const auth = token ? `Authorization: Bearer ${token}\r\n` : '';
    socket.write(
      `POST ${path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\n${auth}Content-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`,
    );
    // Written, or answered (refused before the body was read): either way the server has what it will hold.
    socket.write(body.subarray(0, length - 1), () => resolve(socket));
    socket.once('data', () => resolve(socket));
    socket.once('close', () => resolve(socket));
  });
}

describe('red team: anonymous request bodies', () => {
  const SOCKETS = 30;
  const LENGTH = 16 * 1024 * 1024 - 1024; // under MAX_BODY_BYTES (16 MiB)

  it(
    `SEC-8 ${SOCKETS} anonymous sign-in requests each sending all but the last byte of a ${LENGTH}-byte body: the server does not hold 16 MiB for each`,
    { timeout: 120_000 },
    async () => {
      server = await startTestServer();
      await setupAdmin(server.url);
      const body = Buffer.alloc(LENGTH, 0x20);
      const rssBefore = process.memoryUsage().rss / 1e6;
      const sockets: net.Socket[] = [];
      try {
        for (let i = 0; i < SOCKETS; i++)
          sockets.push(await almostABody(server.url, '/api/session', LENGTH, body));
        // Let the server read what was written (it answers /api/health only after this turn's reads).
        for (let i = 0; i < 3; i++) await fetch(`${server.url}/api/health`);
        const grown = process.memoryUsage().rss / 1e6 - rssBefore;
        console.log(
          `SEC-8 red team: ${SOCKETS} unfinished ${(LENGTH / 1e6).toFixed(0)} MB bodies to POST /api/session: RSS +${grown.toFixed(0)} MB`,
        );
        expect(grown).toBeLessThan(200);
      } finally {
        for (const s of sockets) s.destroy();
      }
    },
  );
});

describe('red team: request bodies of one account', () => {
  const SOCKETS = 30;
  const LENGTH = 16 * 1024 * 1024 - 1024; // under MAX_BODY_BYTES (16 MiB)

  it(
    `SEC-8 ${SOCKETS} requests of one account with no role (POST /api/tokens) each sending all but the last byte of a ${LENGTH}-byte body: what the server holds is bounded per account`,
    { timeout: 120_000 },
    async () => {
      server = await startTestServer();
      const admin = await adminOf(server.url);
      const nobody = await newUser(admin, 'nobody@example.com', 'Nobody');
      const body = Buffer.alloc(LENGTH, 0x20);
      const rssBefore = process.memoryUsage().rss / 1e6;
      const sockets: net.Socket[] = [];
      try {
        for (let i = 0; i < SOCKETS; i++)
          sockets.push(await almostABody(server.url, '/api/tokens', LENGTH, body, nobody.token));
        for (let i = 0; i < 3; i++) await fetch(`${server.url}/api/health`);
        const grown = process.memoryUsage().rss / 1e6 - rssBefore;
        console.log(
          `SEC-8 red team: ${SOCKETS} unfinished ${(LENGTH / 1e6).toFixed(0)} MB bodies from one account: RSS +${grown.toFixed(0)} MB`,
        );
        expect(grown).toBeLessThan(200);
      } finally {
        for (const s of sockets) s.destroy();
      }
    },
  );
});
