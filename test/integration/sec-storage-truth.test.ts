import { describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import path from 'node:path';
import { addItem, sectionMap } from '#schema/content/ydoc.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { connect, synced, until, type Client } from '../helpers/clients.ts';
import { overTheWire, serverWithProject } from '../helpers/fixture.ts';
import { setupAdmin, testServer, type TestServer } from '../helpers/server.ts';
import { cookieOf, createToken, signIn } from '../helpers/users.ts';

/**
 * SEC-21: storage faults tell the truth. Faults are made the way
 * storage-faults.test.ts makes them: a write lock held by another process, a full database
 * (max_page_count = the pages it has).
 */
const cleanup = cleanupAfterEach();

function fillDisk(server: TestServer): () => void {
  const pages = server.sqlite.pragma('page_count', { simple: true }) as number;
  server.sqlite.pragma(`max_page_count = ${pages}`);
  return () => server.sqlite.pragma('max_page_count = 1073741823');
}

const agentNames = (content: { agents: Record<string, { name: string }> }) =>
  Object.values(content.agents).map((a) => a.name);

describe('SEC-21 storage faults tell the truth', () => {
  it('SEC-21 a read with an API token works while the database refuses writes (lastUsedAt is best-effort)', async () => {
    const server = await testServer(cleanup);
    const admin = await setupAdmin(server.url);
    // A token never used yet: its first use wants to write lastUsedAt.
    const token = await createToken(
      server.url,
      cookieOf(await signIn(server.url, admin.email))!,
      'reader',
    );

    // Another process holds the write lock (a full disk refuses the same writes; see storage-faults.test.ts).
    const other = new Database(path.join(server.dataDir, 'stagecoach.sqlite'));
    cleanup.push(() => other.close());
    other.pragma('journal_mode = WAL');
    other.exec('BEGIN IMMEDIATE');
    const reader = overTheWire(server.url, token);
    expect((await reader.call('POST', '/api/projects', { name: 'While locked' })).status).toBe(503);
    expect((await reader.call('GET', '/api/projects')).status).toBe(200);
    other.exec('COMMIT');
  });

  it('SEC-21 an import that cannot be stored answers 503 storage_unavailable and changes nothing, now or later', async () => {
    const { server, admin, dev } = await serverWithProject(cleanup);
    const content = async (s: TestServer) =>
      (
        await overTheWire(s.url, admin.token).call<{ agents: Record<string, { name: string }> }>(
          'GET',
          `/api/environments/${dev.id}/content`,
        )
      ).body;
    const put = (name: string, instructions: string) =>
      overTheWire(server.url, admin.token).call<{ error: { id: string } }>(
        'PUT',
        `/api/environments/${dev.id}/content`,
        {
          agents: { ag_imported: { name, instructions, fallbackMessage: 'Sorry.' } },
          workflows: {},
          knowledge: {},
          integrations: {},
          channels: {},
          variables: {},
        },
      );

    // An editor is connected: it must not see what was not stored either.
    const editor: Client = connect(server.url, dev.draftId!, { token: admin.token });
    cleanup.push(() => editor.destroy());
    await synced(editor);
    addItem(editor.doc, 'agents', { name: 'Typed before' });
    await expect.poll(async () => agentNames(await content(server))).toEqual(['Typed before']);

    const restore = fillDisk(server);
    const refused = await put('Refused import', 'x'.repeat(256 * 1024));
    expect(refused.status).toBe(503);
    expect(refused.body.error.id).toBe('storage_unavailable');
    expect(agentNames(await content(server))).toEqual(['Typed before']);
    restore();

    // A later, stored change reaches the editor; the refused import never does, and never is committed.
    const ok = await put('Stored import', 'fits');
    expect(ok.status).toBe(200);
    await until(editor.doc, (d) =>
      [...sectionMap(d, 'agents').values()].some(
        (a) => (a as { get(k: string): unknown }).get('name') === 'Stored import',
      ),
    );
    expect(agentNames(await content(server))).toEqual(['Stored import']);
    await server.close();
    const again = await testServer(cleanup, {}, server.dataDir);
    expect(agentNames(await content(again))).toEqual(['Stored import']);
  });
});
