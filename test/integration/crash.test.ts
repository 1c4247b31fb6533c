import { afterEach, describe, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { addItem, itemText, sectionMap } from '#schema/content/ydoc.ts';
import { connect, instructionsOf, synced, until, type Client } from '../helpers/clients.ts';
import { createProject, setupAdmin, tempDataDir } from '../helpers/server.ts';
import { exited, spawnServer } from '../helpers/process.ts';

const children: ChildProcess[] = [];
const clients: Client[] = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.destroy();
  for (const ch of children.splice(0)) ch.kill('SIGKILL');
});

async function serve(dataDir: string) {
  const s = await spawnServer(dataDir);
  children.push(s.child);
  return s;
}

describe('rule 6: nothing typed is lost when the server dies', () => {
  it('keeps every broadcast update after kill -9, and SIGTERM shuts down cleanly', async () => {
    const dataDir = tempDataDir();
    const first = await serve(dataDir);
    const admin = await setupAdmin(first.url);
    const project = await createProject(first.url, admin.token);
    const draftId = project.environments[0]!.draftId!;

    const writer = connect(first.url, draftId, { token: admin.token });
    const observer = connect(first.url, draftId, { token: admin.token });
    clients.push(writer, observer);
    await Promise.all([synced(writer), synced(observer)]);
    const id = addItem(writer.doc, 'agents', { name: 'Refunds' });
    const text = itemText(sectionMap(writer.doc, 'agents').get(id), 'instructions')!;
    for (let i = 0; i < 200; i++) text.insert(text.length, `line ${i}\n`);
    const expected = text.toString();
    // Once the observer has it, the server has broadcast it, so it must be on disk.
    await until(observer.doc, (d) => instructionsOf(d, id) === expected);

    first.child.kill('SIGKILL');
    expect((await exited(first.child)).signal).toBe('SIGKILL');
    writer.destroy();
    observer.destroy();

    const second = await serve(dataDir);
    const reader = connect(second.url, draftId, { token: admin.token });
    clients.push(reader);
    await synced(reader);
    expect(instructionsOf(reader.doc, id)).toBe(expected);

    // A clean stop flushes and exits 0; the next start still has everything.
    itemText(sectionMap(reader.doc, 'agents').get(id), 'instructions')!.insert(0, 'v2 ');
    await expect
      .poll(async () => {
        const r = await fetch(`${second.url}/api/environments/${project.environments[0]!.id}/content`, {
          headers: { authorization: `Bearer ${admin.token}` },
        });
        return ((await r.json()) as { agents: Record<string, { instructions: string }> }).agents[id]?.instructions;
      })
      .toBe(`v2 ${expected}`);
    second.child.kill('SIGTERM');
    expect(await exited(second.child)).toEqual({ code: 0, signal: null });

    const third = await serve(dataDir);
    const last = connect(third.url, draftId, { token: admin.token });
    clients.push(last);
    await synced(last);
    expect(instructionsOf(last.doc, id)).toBe(`v2 ${expected}`);
  });
});
