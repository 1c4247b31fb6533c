import { describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import path from 'node:path';
import type * as Y from 'yjs';
import { addItem, itemText, sectionMap } from '#schema/content/ydoc.ts';
import { connect, instructionsOf, synced, until, type Client } from '../helpers/clients.ts';
import { setupAdmin, startTestServer } from '../helpers/server.ts';
import { newProject, overTheWire } from '../helpers/fixture.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';

/**
 * Storage faults at the SQLite level (R6): the database locked by another process, the
 * database full. The document stays in memory, clients are told through the server's presence
 * state, appends are retried, nothing acknowledged is lost and the server keeps serving.
 */
const cleanup = cleanupAfterEach();

async function setup() {
  const server = await startTestServer();
  cleanup.push(() => server.close());
  const admin = await setupAdmin(server.url);
  const project = await newProject(overTheWire(server.url, admin.token));
  const draftId = project.environments[0]!.draftId!;
  const client = (): Client => {
    const c = connect(server.url, draftId, { token: admin.token });
    cleanup.push(() => c.destroy());
    return c;
  };
  return { server, admin, draftId, client };
}

/** The server's storage state as a stock client sees it: the presence state that carries `server`. */
const serverState = (c: Client) =>
  [...c.provider.awareness.getStates().values()].find((s) => 'server' in s)?.server as
    { storage: string } | undefined;

function presence(
  c: Client,
  predicate: (state: { storage: string } | undefined) => boolean,
): Promise<void> {
  if (predicate(serverState(c))) return Promise.resolve();
  return new Promise((resolve) => {
    const on = () => {
      if (!predicate(serverState(c))) return;
      c.provider.awareness.off('change', on);
      resolve();
    };
    c.provider.awareness.on('change', on);
  });
}

/**
 * Asks for sync step 2 (as DraftSession.confirmSaved does), then queries presence: the server
 * handles a connection's frames in order, so once the presence answer is in, an answer to the
 * first question would be too. Resolves with whether it was.
 */
async function answeredNow(c: Client): Promise<boolean> {
  c.provider.synced = false;
  const ws = c.provider.ws!;
  const presenceAnswer = new Promise<void>((resolve) => {
    const on = (ev: MessageEvent) => {
      if (new Uint8Array(ev.data as ArrayBuffer)[0] !== 1) return;
      ws.removeEventListener('message', on);
      resolve();
    };
    ws.addEventListener('message', on);
  });
  ws.send(new Uint8Array([0, 0, 1, 0]));
  ws.send(new Uint8Array([3]));
  await presenceAnswer;
  return c.provider.synced;
}

function type(doc: Y.Doc, agentId: string, text: string): void {
  itemText(sectionMap(doc, 'agents').get(agentId), 'instructions')!.insert(0, text);
}

describe('[R6] storage faults', () => {
  it('[R6] a database locked by another process: changes stay in memory, clients are told, appends retry, nothing is lost', async () => {
    const { server, admin, client } = await setup();
    const writer = client();
    const reader = client();
    await Promise.all([synced(writer), synced(reader)]);
    const agentId = addItem(writer.doc, 'agents', { name: 'Order bot' });
    await until(reader.doc, (d) => instructionsOf(d, agentId) !== null);

    // Another process takes the write lock (as a backup or a sqlite3 shell could).
    const other = new Database(path.join(server.dataDir, 'stagecoach.sqlite'));
    cleanup.push(() => other.close());
    other.pragma('journal_mode = WAL');
    other.exec('BEGIN IMMEDIATE');
    type(writer.doc, agentId, 'typed while locked. ');
    await presence(writer, (s) => s?.storage === 'failing');
    await presence(reader, (s) => s?.storage === 'failing');
    // Not durable, so not broadcast, and a "did you save it?" question is not answered yet.
    expect(instructionsOf(reader.doc, agentId)).toBe('');
    expect(await answeredNow(writer)).toBe(false);
    // The server keeps serving HTTP meanwhile; a write over HTTP is refused whole with 503.
    expect((await fetch(`${server.url}/api/health`)).status).toBe(200);
    const refused = await overTheWire(server.url, admin.token).call<{ error: { id: string } }>(
      'POST',
      '/api/tokens',
      { name: 'while locked' },
    );
    expect(refused.status).toBe(503);
    expect(refused.body.error.id).toBe('storage_unavailable');

    other.exec('COMMIT');
    await until(reader.doc, (d) => instructionsOf(d, agentId) === 'typed while locked. ');
    await presence(reader, (s) => s === undefined);
    await synced(writer);

    // Durable: a restart has it.
    await server.close();
    const again = await startTestServer(server.dataDir);
    cleanup.push(() => again.close());
    const draftId = writer.provider.roomname;
    const later = connect(again.url, draftId, writer.provider.params);
    cleanup.push(() => later.destroy());
    await synced(later);
    expect(instructionsOf(later.doc, agentId)).toBe('typed while locked. ');
  });

  it('[R6] a full database (SQLITE_FULL): the server does not crash, tells clients, and saves everything once there is room', async () => {
    const { server, client } = await setup();
    const writer = client();
    const reader = client();
    await Promise.all([synced(writer), synced(reader)]);
    const agentId = addItem(writer.doc, 'agents', { name: 'Order bot' });
    await until(reader.doc, (d) => instructionsOf(d, agentId) !== null);

    const pages = server.sqlite.pragma('page_count', { simple: true }) as number;
    server.sqlite.pragma(`max_page_count = ${pages}`);
    const big = 'x'.repeat(64 * 1024);
    type(writer.doc, agentId, big);
    await presence(reader, (s) => s?.storage === 'failing');
    expect(instructionsOf(reader.doc, agentId)).toBe('');

    server.sqlite.pragma('max_page_count = 1073741823');
    await until(reader.doc, (d) => instructionsOf(d, agentId) === big);
    await presence(writer, (s) => s === undefined);
  });
});
