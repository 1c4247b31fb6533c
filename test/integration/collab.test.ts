import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { addItem, draftContent, itemText, sectionMap } from '#schema/content/ydoc.ts';
import { sampleContent } from '#schema/content/sample.ts';
import { canonicalContent } from '#schema/content/canonical.ts';
import { CLOSE } from '#schema/errors.ts';
import { encodeUpdate } from '#server/collab/protocol.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { connect, instructionsOf, synced, until, wsUrl, type Client } from '../helpers/clients.ts';
import { openRawSocket, upgradeStatus } from '../helpers/raw-socket.ts';
import { overTheWire, serverWithProject } from '../helpers/fixture.ts';
import { testServer, type TestServer } from '../helpers/server.ts';
import { cookieOf, signIn } from '../helpers/users.ts';

const cleanup = cleanupAfterEach();

const setup = async (env: Record<string, string> = {}) => await serverWithProject(cleanup, env);

function client(server: TestServer, draftId: string, token: string): Client {
  const c = connect(server.url, draftId, { token });
  cleanup.push(() => c.destroy());
  return c;
}

async function content(server: TestServer, envId: string, token: string) {
  const { status, body } = await overTheWire(server.url, token).call<{
    agents: Record<string, { name: string; instructions: string }>;
  }>('GET', `/api/environments/${envId}/content`);
  expect(status).toBe(200);
  return body;
}

/** A raw websocket (no Yjs client), terminated after the test. */
async function rawSocket(url: string, headers: Record<string, string> = {}) {
  const sock = await openRawSocket(url, headers);
  cleanup.push(() => sock.ws.terminate());
  return sock;
}

describe('live co-editing through the server (stock y-websocket clients)', () => {
  it('[R6] converges two clients, and a third that joins later gets the full state', async () => {
    const { server, admin, draftId, dev } = await setup();
    const a = client(server, draftId, admin.token);
    const b = client(server, draftId, admin.token);
    await Promise.all([synced(a), synced(b)]);

    const id = addItem(a.doc, 'agents', { name: 'Support agent' });
    await until(b.doc, (d) => instructionsOf(d, id) !== null);
    itemText(sectionMap(b.doc, 'agents').get(id), 'instructions')!.insert(0, 'Be kind. ');
    itemText(sectionMap(a.doc, 'agents').get(id), 'instructions')!.insert(0, 'Answer in English. ');
    await until(
      a.doc,
      (d) => instructionsOf(d, id)!.length === 'Be kind. Answer in English. '.length,
    );
    await until(
      b.doc,
      (d) => instructionsOf(d, id)!.length === 'Be kind. Answer in English. '.length,
    );
    expect(instructionsOf(a.doc, id)).toBe(instructionsOf(b.doc, id));

    const c = client(server, draftId, admin.token);
    await synced(c);
    expect(instructionsOf(c.doc, id)).toBe(instructionsOf(a.doc, id));
    expect(Y.encodeStateVector(c.doc)).toEqual(Y.encodeStateVector(a.doc));

    const json = await content(server, dev.id, admin.token);
    expect(json.agents[id]).toMatchObject({
      name: 'Support agent',
      instructions: instructionsOf(a.doc, id),
    });
  });

  it('[R6] keeps the draft across a server restart and unloads it after the last connection closes', async () => {
    const { server, admin, draftId, dev } = await setup({ COMPACT_AFTER_UPDATES: '10' });
    const a = client(server, draftId, admin.token);
    const observer = client(server, draftId, admin.token);
    await Promise.all([synced(a), synced(observer)]);
    const id = addItem(a.doc, 'agents', { name: 'Order bot' });
    const text = itemText(sectionMap(a.doc, 'agents').get(id), 'instructions')!;
    for (let i = 0; i < 25; i++) text.insert(text.length, `${i} `);
    const expected = text.toString();
    // The observer sees it only after the server logged it (append before broadcast).
    await until(observer.doc, (d) => instructionsOf(d, id) === expected);
    a.destroy();
    observer.destroy();
    await expect.poll(() => server.rooms.loaded).toBe(0);
    await server.close();

    const again = await testServer(cleanup, {}, server.dataDir);
    const c = client(again, draftId, admin.token);
    await synced(c);
    expect(instructionsOf(c.doc, id)).toBe(expected);
    expect((await content(again, dev.id, admin.token)).agents[id]?.instructions).toBe(expected);
  });
});

describe('server-side changes reach connected clients live', () => {
  it('an import through PUT /content arrives as one update in a connected stock client', async () => {
    const { server, admin, draftId, dev } = await setup();
    const a = client(server, draftId, admin.token);
    await synced(a);
    let updates = 0;
    a.doc.on('update', () => updates++);
    expect(
      (
        await overTheWire(server.url, admin.token).call(
          'PUT',
          `/api/environments/${dev.id}/content`,
          sampleContent(),
        )
      ).status,
    ).toBe(200);
    await until(a.doc, (d) => sectionMap(d, 'knowledge').size === 3);
    expect(updates).toBe(1);
    expect(canonicalContent(draftContent(a.doc))).toEqual(canonicalContent(sampleContent()));
  });
});

describe('[R1] on the websocket: only drafts take connections', () => {
  /** The sample in DEV, and the audience it refers to in every later stage (so it can move on). */
  async function sampleReady() {
    const { server, admin, project } = await setup();
    const api = overTheWire(server.url, admin.token);
    await api.call(
      'PUT',
      `/api/environments/${project.environments[0]!.id}/content`,
      sampleContent(),
    );
    // The sample refers to the audience “customers”: every later stage needs its own.
    for (const env of project.environments.slice(1))
      expect(
        (await api.call('POST', `/api/environments/${env.id}/audiences`, { name: 'customers' }))
          .status,
      ).toBe(201);
    return { server, admin, project, api };
  }

  it('[R1] has no sync endpoint for later stages: an upgrade to one is 404', async () => {
    const { server, admin, project } = await sampleReady();
    for (const env of project.environments.slice(1)) {
      expect(await upgradeStatus(`${wsUrl(server.url)}/${env.id}?token=${admin.token}`)).toBe(404);
    }
  });

  it('[HOT-2] a hotfix draft closes (4410) for good when published, and live holds what it had', async () => {
    const { server, admin, project, api } = await sampleReady();
    for (const env of project.environments.slice(0, 4))
      expect(
        (
          await api.call('POST', `/api/environments/${env.id}/sync`, {
            confirmMissingSecrets: true,
          })
        ).status,
      ).toBe(200);
    const prod = project.environments[4]!;
    expect(
      (
        await api.call('POST', `/api/environments/${prod.id}/publish`, {
          confirmMissingSecrets: true,
        })
      ).status,
    ).toBe(200);
    const { draftId } = (
      await api.call<{ draftId: string }>('POST', `/api/environments/${prod.id}/hotfix`)
    ).body;

    const editor = client(server, draftId, admin.token);
    await synced(editor);
    itemText(sectionMap(editor.doc, 'agents').get('agt_support'), 'instructions')!.insert(
      0,
      'HOTFIX ',
    );
    const closed = new Promise<number>((resolve) =>
      editor.provider.once('connection-close', (e) => resolve(e?.code ?? 0)),
    );
    await expect
      .poll(
        async () =>
          (
            await api.call<{ diff: { total: number } }>(
              'GET',
              `/api/diff?from=live:${prod.id}&to=draft:${draftId}`,
            )
          ).body.diff.total,
      )
      .toBe(1);
    expect(
      (await api.call('POST', `/api/environments/${prod.id}/hotfix/publish`, { message: 'fix' }))
        .status,
    ).toBe(200);
    expect(await closed).toBe(CLOSE.draft_closed);
    editor.provider.disconnect();
    expect(await upgradeStatus(`${wsUrl(server.url)}/${draftId}?token=${admin.token}`)).toBe(410);
    const { body: live } = await api.call<{ environments: { liveSnapshotId: string }[] }>(
      'GET',
      `/api/projects/${project.id}`,
    );
    const { body: snap } = await api.call<{
      content: { agents: Record<string, { instructions: string }> };
    }>('GET', `/api/snapshots/${live.environments[4]!.liveSnapshotId}`);
    expect(snap.content.agents.agt_support!.instructions.startsWith('HOTFIX You are')).toBe(true);
  });
});

describe('collab websocket refusals', () => {
  it('[R7] refuses the upgrade without valid credentials, from a foreign origin, or to an unknown draft', async () => {
    const { server, admin, draftId } = await setup();
    const base = `${wsUrl(server.url)}/${draftId}`;
    expect(await upgradeStatus(base)).toBe(401);
    expect(await upgradeStatus(`${base}?token=sct_wrong`)).toBe(401);
    expect(await upgradeStatus(`${wsUrl(server.url)}/dft_unknown?token=${admin.token}`)).toBe(404);
    expect(await upgradeStatus(`${wsUrl(server.url)}/not/a/draft?token=${admin.token}`)).toBe(404);

    const cookie = cookieOf(await signIn(server.url, admin.email, admin.password))!;
    expect(await upgradeStatus(base, { cookie })).toBe(403);
    expect(await upgradeStatus(base, { cookie, origin: 'https://evil.example' })).toBe(403);
    await rawSocket(base, { cookie, origin: server.url });
  });

  it('[R7] closes with 1009 on a frame over the limit, leaving the document unchanged', async () => {
    const { server, admin, draftId, dev } = await setup({ COLLAB_MAX_FRAME_BYTES: '4096' });
    const before = await content(server, dev.id, admin.token);
    const sock = await rawSocket(`${wsUrl(server.url)}/${draftId}?token=${admin.token}`);
    const doc = new Y.Doc();
    addItem(doc, 'agents', { name: 'Huge' });
    itemText(sectionMap(doc, 'agents').values().next().value, 'instructions')!.insert(
      0,
      'x'.repeat(10_000),
    );
    sock.ws.send(encodeUpdate(Y.encodeStateAsUpdate(doc)));
    expect(await sock.closed).toBe(CLOSE.frame_too_large);
    expect(await content(server, dev.id, admin.token)).toEqual(before);
  });

  it('[R7] closes with 4400 on malformed frames, leaving the document unchanged', async () => {
    const { server, admin, draftId, dev } = await setup();
    const before = await content(server, dev.id, admin.token);
    const frames = [
      new Uint8Array([0, 2, 5, 1, 2]), // update claims 5 bytes, has 2
      new Uint8Array([0, 2, 3, 255, 255, 255]), // not a Yjs update
      new Uint8Array([9]), // unknown message type
      new Uint8Array([0, 7, 0]), // unknown sync step
      new Uint8Array([1, 3, 1, 2, 3]), // garbage awareness update
    ];
    for (const frame of frames) {
      const sock = await rawSocket(`${wsUrl(server.url)}/${draftId}?token=${admin.token}`);
      sock.ws.send(frame);
      expect(await sock.closed).toBe(CLOSE.malformed_message);
    }
    const text = await rawSocket(`${wsUrl(server.url)}/${draftId}?token=${admin.token}`);
    text.ws.send('hello');
    expect(await text.closed).toBe(CLOSE.malformed_message);
    expect(await content(server, dev.id, admin.token)).toEqual(before);
  });

  it('[R1] refuses a change from a read-only connection whole (4403) but lets it sync and read', async () => {
    const { server, admin, draftId, dev } = await setup();
    const writer = client(server, draftId, admin.token);
    await synced(writer);
    const id = addItem(writer.doc, 'agents', { name: 'Existing' });
    await expect
      .poll(async () => Object.keys((await content(server, dev.id, admin.token)).agents))
      .toEqual([id]);

    const reader = connect(server.url, draftId, { token: admin.token, mode: 'read' });
    cleanup.push(() => reader.destroy());
    await synced(reader);
    expect(instructionsOf(reader.doc, id)).toBe('');
    const closed = new Promise<number>((resolve) =>
      reader.provider.once('connection-close', (event) => resolve(event?.code ?? 0)),
    );
    reader.provider.shouldConnect = true;
    addItem(reader.doc, 'agents', { name: 'Sneaky' });
    expect(await closed).toBe(CLOSE.read_only);
    reader.provider.disconnect();
    const after = await content(server, dev.id, admin.token);
    expect(Object.keys(after.agents)).toEqual([id]);
  });
});
