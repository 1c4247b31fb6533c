import { afterEach, describe, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import type * as Y from 'yjs';
import { addItem, itemText, sectionMap } from '#schema/content/ydoc.ts';
import { connect, instructionsOf, synced, until, type Client } from '../helpers/clients.ts';
import { setupAdmin, tempDataDir } from '../helpers/server.ts';
import { newProject, overTheWire } from '../helpers/fixture.ts';
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

describe('[R6] nothing typed is lost when the server dies', () => {
  it('[R6] keeps every broadcast update after kill -9, and SIGTERM shuts down cleanly', async () => {
    const dataDir = tempDataDir();
    const first = await serve(dataDir);
    const admin = await setupAdmin(first.url);
    const project = await newProject(overTheWire(first.url, admin.token));
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
        const { body } = await overTheWire(second.url, admin.token).call<{
          agents: Record<string, { instructions: string }>;
        }>('GET', `/api/environments/${project.environments[0]!.id}/content`);
        return body.agents[id]?.instructions;
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

  it('[R6] kill -9 under write load (5 writers, ~250 updates/s): every broadcast update survives, and all clients converge after reconnecting', async () => {
    const dataDir = tempDataDir();
    const first = await serve(dataDir);
    const port = new URL(first.url).port;
    const admin = await setupAdmin(first.url);
    const project = await newProject(overTheWire(first.url, admin.token));
    const draftId = project.environments[0]!.draftId!;
    const writers = Array.from({ length: 5 }, () =>
      connect(first.url, draftId, { token: admin.token }),
    );
    const observer = connect(first.url, draftId, { token: admin.token });
    clients.push(...writers, observer);
    await Promise.all([...writers, observer].map(synced));

    // Load: each writer appends its next number to a list of its own agent every 20 ms, whatever the server does.
    // (A list field of an item: updates must fit the content spec's layout.)
    const list = (c: Client, i: number) =>
      sectionMap(c.doc, 'agents').get(`writer${i}`)?.get('audiences') as
        Y.Array<string> | undefined;
    writers.forEach((w, i) => addItem(w.doc, 'agents', { name: `Writer ${i}` }, `writer${i}`));
    const load = writers.map((w, i) => {
      let n = 0;
      return setInterval(() => list(w, i)!.push([String(n++)]), 20);
    });
    const seen = (c: Client) => writers.map((_, i) => (list(c, i)?.toArray() ?? []).map(Number));
    await until(observer.doc, () => seen(observer).every((l) => l.length >= 60));
    first.child.kill('SIGKILL');
    await exited(first.child);
    // What the observer received was broadcast, so it must be in the log.
    const broadcast = seen(observer);
    for (const t of load) clearInterval(t);
    for (const w of writers) w.provider.disconnect();

    const second = await spawnServer(dataDir, { PORT: port });
    children.push(second.child);
    const reader = connect(second.url, draftId, { token: admin.token });
    clients.push(reader);
    await synced(reader);
    seen(reader).forEach((list, i) =>
      expect(list.slice(0, broadcast[i]!.length), `writer ${i}`).toEqual(broadcast[i]),
    );

    // The writers come back with what the server never got; everyone ends equal.
    for (const w of writers) w.provider.connect();
    const full = writers.map((w, i) => list(w, i)!.length);
    const complete = (c: Client) => seen(c).every((l, i) => l.length === full[i]);
    await Promise.all([
      until(reader.doc, () => complete(reader)),
      until(observer.doc, () => complete(observer)),
    ]);
    for (let i = 0; i < writers.length; i++) {
      const expected = Array.from({ length: full[i]! }, (_, k) => k);
      expect(seen(reader)[i]).toEqual(expected);
      expect(seen(observer)[i]).toEqual(expected);
    }
  });
});
