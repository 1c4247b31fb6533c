import { afterEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import {
  addItem,
  applyContent,
  draftContent,
  itemText,
  newStep,
  sectionMap,
  setVariant,
} from '#schema/content/ydoc.ts';
import { encodeUpdate } from '#server/collab/protocol.ts';
import { SECTIONS, SPECS, STEP_TYPES, fieldsOf } from '#schema/content/spec.ts';
import { sampleContent } from '#schema/content/sample.ts';
import { validateContent } from '#schema/content/validate.ts';
import { openDatabase, type OpenDatabase } from '#server/store/db.ts';
import { createDraftStore, type DraftStore } from '#server/store/drafts.ts';
import { createProjectStore } from '#server/store/projects.ts';
import { createProjects } from '#server/domain/projects.ts';
import { Room } from '#server/collab/room.ts';
import { Rooms } from '#server/collab/rooms.ts';
import { AS_SENT_DELETE_RANGES } from '#server/collab/update-guard.ts';
import { MemoryClient } from '../helpers/memory-peer.ts';
import { tempDataDir } from '../helpers/server.ts';
import { prng } from '../helpers/prng.ts';

const open: OpenDatabase[] = [];
afterEach(async () => {
  for (const db of open.splice(0)) await db.close();
});

async function fixture() {
  const database = openDatabase(tempDataDir(), 'normal');
  open.push(database);
  const projects = createProjects(database.transactions.port(createProjectStore(database.db)));
  const project = await projects.create(
    {
      user: { id: 'usr_1', email: 'a@b.c', name: 'A' },
      isInstanceAdmin: true,
      via: 'token',
      credential: { kind: 'token', id: 'tok_1', expiresAt: null },
    },
    { name: 'P', preset: 'five-stage', sample: false },
  );
  const draftId = project.environments[0]!.draftId!;
  return { database, store: createDraftStore(database.sqlite), draftId };
}

const logged: string[] = [];
const opts = (compactAfterUpdates = 1000) => ({
  compactAfterUpdates,
  log: (m: string) => void logged.push(m),
  presence: { maxStateBytes: 8192, perSecond: 30, idsPerUser: 16 },
});

const SECTION_LIST = [...SECTIONS];
const pick = <T>(rnd: () => number, xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;

/** One random edit anywhere in the workspace, using the same helpers the editor uses. */
function randomEdit(doc: Y.Doc, rnd: () => number): void {
  const section = pick(rnd, SECTION_LIST);
  const items = sectionMap(doc, section);
  const ids = [...items.keys()];
  const r = rnd();
  if (ids.length === 0 || r < 0.12) {
    const sample = Object.values(sampleContent()[section]);
    addItem(doc, section, {
      ...pick(rnd, sample),
      [SPECS[section].nameField]: `item ${Math.floor(rnd() * 1e6)}`,
    });
    return;
  }
  const item = items.get(pick(rnd, ids))!;
  if (r < 0.17) return void items.delete(pick(rnd, ids));
  const fields = Object.entries(fieldsOf(SPECS[section], item.toJSON() as Record<string, unknown>));
  const [field, spec] = pick(rnd, fields);
  const value = item.get(field);
  const letters = () =>
    String.fromCharCode(97 + Math.floor(rnd() * 26)).repeat(1 + Math.floor(rnd() * 3));
  if (value instanceof Y.Text) {
    if (rnd() < 0.7 || value.length === 0)
      value.insert(Math.floor(rnd() * (value.length + 1)), letters());
    else {
      const at = Math.floor(rnd() * value.length);
      value.delete(at, Math.min(value.length - at, 1 + Math.floor(rnd() * 3)));
    }
  } else if (value instanceof Y.Array && spec.kind === 'steps') {
    const steps = value as Y.Array<Y.Map<unknown>>;
    const op = rnd();
    if (steps.length === 0 || op < 0.5)
      steps.insert(Math.floor(rnd() * (steps.length + 1)), [
        newStep({ type: pick(rnd, STEP_TYPES) }),
      ]);
    else if (op < 0.75) steps.delete(Math.floor(rnd() * steps.length), 1);
    else {
      // A move is a delete plus an insert of a copy, in one transaction (what the editor does).
      const from = Math.floor(rnd() * steps.length);
      doc.transact(() => {
        const copy = newStep(steps.get(from).toJSON() as Record<string, unknown>);
        steps.delete(from, 1);
        steps.insert(Math.floor(rnd() * (steps.length + 1)), [copy]);
      });
    }
  } else if (value instanceof Y.Array && spec.kind !== 'pairs') {
    if (value.length === 0 || rnd() < 0.6) value.push([letters()]);
    else value.delete(Math.floor(rnd() * value.length), 1);
  } else if (spec.kind === 'string') {
    item.set(field, letters());
  } else if (spec.kind === 'enum') {
    if (section === 'channels' && field === 'type')
      setVariant(doc, section, item, pick(rnd, spec.values));
    else item.set(field, pick(rnd, spec.values));
  } else if (spec.kind === 'number') {
    item.set(field, Math.floor(spec.min + rnd() * (spec.max - spec.min)));
  }
}

/** Two peers joined and synced, with b's inbox emptied: what b gets next came from a. */
function twoSyncedPeers(room: Room): [MemoryClient, MemoryClient] {
  const a = new MemoryClient(room);
  const b = new MemoryClient(room);
  a.deliverUp();
  b.deliverUp();
  b.deliverDown();
  b.toClient.length = 0;
  return [a, b];
}

async function settle(room: Room, clients: MemoryClient[]): Promise<void> {
  for (let i = 0; i < 20; i++) {
    for (const c of clients) {
      if (c.closed) c.disconnect();
      if (!c.online) c.connect();
      c.deliverUp();
    }
    room.flush();
    for (const c of clients) c.deliverDown();
    if (clients.every((c) => c.toServer.length === 0 && c.toClient.length === 0) && room.durable)
      return;
  }
  throw new Error('the network did not settle');
}

describe('[R6] seeded random edits, disconnects and delivery orders converge (in memory, through a real Room)', () => {
  for (const seed of [1, 2, 3, 42, 1337, 2024, 77, 9001]) {
    it(`[R6] all replicas end equal and well-formed, and the stored log reloads the same (seed ${seed})`, async () => {
      const { store, draftId } = await fixture();
      const rnd = prng(seed);
      const room = new Room(draftId, store, opts(60));
      const clients = [new MemoryClient(room), new MemoryClient(room), new MemoryClient(room)];
      for (let step = 0; step < 600; step++) {
        const c = clients[Math.floor(rnd() * clients.length)]!;
        const r = rnd();
        if (r < 0.5) randomEdit(c.doc, rnd);
        else if (r < 0.7) c.deliverUp(1 + Math.floor(rnd() * 3));
        else if (r < 0.9) c.deliverDown(1 + Math.floor(rnd() * 3));
        else if (r < 0.95) room.flush();
        else if (c.online) c.disconnect();
        else c.connect();
        // An edit sent before the client's sync step 2 after a reconnect depends on offline
        // edits the server does not have yet: refused (4424); the client reconnects, losing nothing.
        if (c.closed) {
          expect(c.closed).toBe('incomplete_update');
          c.disconnect();
        }
      }
      await settle(room, clients);
      const expected = draftContent(room.doc);
      expect(validateContent(expected).filter((p) => p.code === 'type')).toEqual([]);
      for (const c of clients) {
        expect(draftContent(c.doc)).toEqual(expected);
        expect(Y.encodeStateVector(c.doc)).toEqual(Y.encodeStateVector(room.doc));
      }
      // The log (partly compacted along the way) reloads to the same content.
      const reloaded = new Room(draftId, store, opts());
      expect(draftContent(reloaded.doc)).toEqual(expected);
      reloaded.unload();
      room.unload();
    });
  }
});

describe('Room persistence', () => {
  it('[R6] appends before it broadcasts: another peer gets nothing until the batch is stored', async () => {
    const { store, draftId } = await fixture();
    const room = new Room(draftId, store, opts());
    const [a, b] = twoSyncedPeers(room);
    addItem(a.doc, 'agents', { name: 'X' });
    a.deliverUp();
    expect(b.toClient).toHaveLength(0);
    expect(store.load(draftId).updates).toHaveLength(0);
    room.flush();
    expect(store.load(draftId).updates).toHaveLength(1);
    expect(b.toClient).toHaveLength(1);
    room.unload();
  });

  it('[R6] compacts the log into the state row in the background, without losing anything', async () => {
    const { store, draftId, database } = await fixture();
    const room = new Room(draftId, store, opts(20));
    const a = new MemoryClient(room);
    const id = addItem(a.doc, 'agents', { name: 'Compact me' });
    const text = itemText(sectionMap(a.doc, 'agents').get(id), 'instructions')!;
    for (let i = 0; i < 50; i++) {
      text.insert(text.length, `${i},`);
      a.deliverUp();
      room.flush();
    }
    await new Promise<void>((resolve) => setImmediate(resolve));
    const rows = database.sqlite
      .prepare('SELECT count(*) AS n FROM draft_updates WHERE draft_id = ?')
      .get(draftId) as { n: number };
    expect(rows.n).toBeLessThan(20);
    expect(store.load(draftId).state).not.toBeNull();
    room.unload();
    expect(store.load(draftId).updates).toHaveLength(0);
    const reloaded = new Room(draftId, store, opts());
    expect(draftContent(reloaded.doc)).toEqual(draftContent(a.doc));
    reloaded.unload();
  });

  it('[R6] keeps updates pending, sends nothing, and retries when the store fails', async () => {
    const { store, draftId } = await fixture();
    let failing = true;
    const flaky: DraftStore = {
      ...store,
      append(id, updates) {
        if (failing) throw new Error('disk full');
        return store.append(id, updates);
      },
    };
    const room = new Room(draftId, flaky, opts());
    const [a, b] = twoSyncedPeers(room);
    addItem(a.doc, 'agents', { name: 'Survivor' });
    a.deliverUp();
    expect(room.flush()).toBe(false);
    expect(b.toClient).toHaveLength(0);
    expect(room.unload()).toBe(false);
    failing = false;
    expect(room.flush()).toBe(true);
    expect(b.toClient).toHaveLength(1);
    expect(room.unload()).toBe(true);
    expect(logged.some((m) => m.includes('could not append'))).toBe(true);
  });

  it('[R1] a read-only peer syncs, but a change from it is refused whole', async () => {
    const { store, draftId } = await fixture();
    const room = new Room(draftId, store, opts());
    const writer = new MemoryClient(room);
    addItem(writer.doc, 'agents', { name: 'Existing' });
    writer.deliverUp();
    room.flush();
    const reader = new MemoryClient(room, { readOnly: true });
    reader.deliverUp();
    reader.deliverDown();
    reader.deliverUp(); // its sync step 2 changes nothing: accepted
    expect(reader.closed).toBeNull();
    expect(Object.keys(draftContent(reader.doc).agents)).toHaveLength(1);
    const before = Y.encodeStateAsUpdate(room.doc);
    addItem(reader.doc, 'agents', { name: 'Sneaky' });
    reader.deliverUp();
    expect(reader.closed).toBe('read_only');
    expect(Y.encodeStateAsUpdate(room.doc)).toEqual(before);
    room.unload();
  });
});

describe('WP: one integration of a peer update on the write path', () => {
  it('WP-1 accepted updates the document has not taken yet reach every read, and a refused update after them takes none of them with it', async () => {
    const { store, draftId } = await fixture();
    const room = new Room(draftId, store, opts());
    const [a, b] = twoSyncedPeers(room);
    // Joined now: joining reads the document, which then takes whatever it lags by.
    const refused = new MemoryClient(room);
    refused.deliverUp();
    const id = addItem(a.doc, 'agents', { name: 'Lagging' });
    const text = itemText(sectionMap(a.doc, 'agents').get(id), 'instructions')!;
    for (let i = 0; i < 10; i++) text.insert(text.length, `${i}`);
    a.deliverUp();
    room.flush();
    // Stored and sent in the order they came, each once.
    expect(store.load(draftId).updates).toHaveLength(11);
    expect(b.toClient).toHaveLength(11);
    // A refused update (a field the spec does not have) drops the shadow, which is rebuilt from
    // the document and the updates it had not taken yet.
    const hostile = new Y.Doc();
    Y.applyUpdate(hostile, Y.encodeStateAsUpdate(a.doc));
    sectionMap(hostile, 'agents').get(id)!.set('no such field', 'x');
    room.receive(
      refused.peer,
      encodeUpdate(Y.encodeStateAsUpdate(hostile, Y.encodeStateVector(a.doc))),
    );
    expect(refused.closed).toBe('invalid_shape');
    text.insert(text.length, '!');
    a.deliverUp();
    room.flush();
    b.deliverDown();
    // Had the rebuilt shadow missed them, the '!' would depend on changes it lacks (4424).
    expect(a.closed).toBeNull();
    expect(sectionMap(room.doc, 'agents').get(id)!.has('no such field')).toBe(false);
    expect(draftContent(room.doc)).toEqual(draftContent(a.doc));
    expect(draftContent(b.doc)).toEqual(draftContent(a.doc));
    // A client joining now is sent all of it, and so is the log after a reload.
    const c = new MemoryClient(room);
    c.deliverUp();
    c.deliverDown();
    expect(draftContent(c.doc)).toEqual(draftContent(a.doc));
    room.unload();
    const reloaded = new Room(draftId, store, opts());
    expect(draftContent(reloaded.doc)).toEqual(draftContent(a.doc));
    reloaded.unload();
  });

  it('WP-2 what an update holds that the draft has already is neither logged nor sent', async () => {
    const { store, draftId } = await fixture();
    const room = new Room(draftId, store, opts());
    const [a, b] = twoSyncedPeers(room);
    addItem(a.doc, 'agents', { name: 'Once' });
    a.deliverUp();
    room.flush();
    b.toClient.length = 0;
    room.receive(a.peer, encodeUpdate(Y.encodeStateAsUpdate(a.doc)));
    room.flush();
    expect(a.closed).toBeNull();
    expect(store.load(draftId).updates).toHaveLength(1);
    expect(b.toClient).toHaveLength(0);
    // All of it again with one change more: only the change is logged and sent.
    a.doc.on('update', () => (a.toServer.length = 0));
    const one = sectionMap(a.doc, 'agents').values().next().value!;
    one.set('name', 'Twice');
    const full = Y.encodeStateAsUpdate(a.doc);
    room.receive(a.peer, encodeUpdate(full));
    room.flush();
    const logged = store.load(draftId).updates;
    expect(logged).toHaveLength(2);
    expect(logged[1]!.byteLength).toBeLessThan(full.byteLength / 2);
    expect(b.toClient).toEqual([encodeUpdate(logged[1]!)]);
    room.unload();
  });
});

describe('WP: updates stored as sent', () => {
  it(`WP-3 a keystroke is stored and sent byte for byte as its peer sent it; an update with more than ${AS_SENT_DELETE_RANGES} delete ranges (a reconnect's sync step 2) is stored as only what it changed`, async () => {
    const { store, draftId } = await fixture();
    const room = new Room(draftId, store, opts());
    const [a, b] = twoSyncedPeers(room);
    const id = addItem(a.doc, 'agents', { name: 'Typed' });
    const text = itemText(sectionMap(a.doc, 'agents').get(id), 'instructions')!;
    text.insert(0, 'x'.repeat(80));
    for (let i = 0; i < 40; i++) text.delete(i, 1); // 40 ranges: every other character
    a.deliverUp();
    room.flush();
    b.deliverDown();
    const before = store.load(draftId).updates.length;
    // A keystroke: what is logged and what b receives are the very bytes a sent.
    text.insert(0, 'k');
    const sent = a.toServer.at(-1)!;
    a.deliverUp();
    room.flush();
    const logged = store.load(draftId).updates;
    expect(logged).toHaveLength(before + 1);
    expect(encodeUpdate(logged.at(-1)!)).toEqual(sent);
    expect(b.toClient.at(-1)).toEqual(sent);
    // b goes offline, types, and reconnects: its sync step 2 carries its whole delete set, all of
    // it known here, and the one new character.
    b.disconnect();
    itemText(sectionMap(b.doc, 'agents').get(id), 'instructions')!.insert(0, 'o');
    b.connect();
    b.deliverUp(); // its sync step 1
    b.deliverDown(); // the server's sync step 1 (and step 2): b answers with its step 2
    b.deliverUp();
    room.flush();
    const stored = store.load(draftId).updates.at(-1)!;
    const offline = Y.encodeStateAsUpdate(b.doc, Y.encodeStateVector(a.doc));
    expect(Y.decodeUpdate(offline).ds.clients.get(a.doc.clientID)).toHaveLength(40);
    expect(Y.decodeUpdate(stored).ds.clients.size).toBe(0);
    expect(stored.byteLength).toBeLessThan(offline.byteLength / 4);
    expect(draftContent(room.doc)).toEqual(draftContent(b.doc));
    room.unload();
  });
});

describe('WP-4: nothing unchecked is passed on as sent', () => {
  it('WP-4 bytes after a keystroke and content an update deletes at once are neither logged nor sent; an update naming a top-level type that is not a section is refused 4422 even when its items are known', async () => {
    const { store, draftId } = await fixture();
    const room = new Room(draftId, store, opts());
    const [a, b] = twoSyncedPeers(room);
    const id = addItem(a.doc, 'agents', { name: 'Checked' });
    a.deliverUp();
    room.flush();
    b.toClient.length = 0;
    const sent = () => store.load(draftId).updates.at(-1)!;
    const junk = Buffer.from('SMUGGLED-'.repeat(100));
    // Bytes after the update: Yjs ignores them; passed on as sent they would be stored.
    a.doc.on('update', () => (a.toServer.length = 0));
    const sv = Y.encodeStateVector(a.doc);
    sectionMap(a.doc, 'agents').get(id)!.set('name', 'Typed');
    const keystroke = Y.encodeStateAsUpdate(a.doc, sv);
    room.receive(a.peer, encodeUpdate(new Uint8Array([...keystroke, ...junk])));
    room.flush();
    expect(a.closed).toBeNull();
    expect(Buffer.from(sent()).includes(junk)).toBe(false);
    // A field the spec does not have, set and deleted in one update: the checks skip deleted items.
    const hostile = new Y.Doc({ gc: false });
    Y.applyUpdate(hostile, Y.encodeStateAsUpdate(a.doc));
    const before = Y.encodeStateVector(hostile);
    hostile.transact(() => {
      const item = sectionMap(hostile, 'agents').get(id)!;
      item.set('no such field', new Uint8Array(junk));
      item.delete('no such field');
    });
    room.receive(a.peer, encodeUpdate(Y.encodeStateAsUpdate(hostile, before)));
    room.flush();
    expect(a.closed).toBeNull();
    expect(Buffer.from(sent()).includes(junk)).toBe(false);
    for (const frame of b.toClient) expect(Buffer.from(frame).includes(junk)).toBe(false);
    // Known items, naming a top-level type of their own: refused before Yjs makes that type.
    const known = Y.encodeStateAsUpdate(a.doc);
    const renamed = Buffer.from(known).toString('latin1').replace('agents', 'zgents');
    expect(renamed).not.toBe(Buffer.from(known).toString('latin1'));
    const c = new MemoryClient(room);
    c.deliverUp();
    room.receive(c.peer, encodeUpdate(new Uint8Array(Buffer.from(renamed, 'latin1'))));
    expect(c.closed).toBe('invalid_shape');
    expect(room.doc.share.has('zgents')).toBe(false);
    room.unload();
  });
});

describe('SEC-7 a value nested too deep from before the checks', () => {
  it('SEC-7 a server change that fails on a draft holding one (whatever the failure throws) takes it apart bottom-up and runs once more, in the room and on the log for another process', async () => {
    const { store, draftId } = await fixture();
    // Written into the log as an older server would have accepted it: 50 maps deep.
    const poisoned = new Y.Doc();
    Y.applyUpdate(poisoned, store.load(draftId).state ?? new Uint8Array([0, 0]));
    const before = Y.encodeStateVector(poisoned);
    let map = new Y.Map<unknown>();
    sectionMap(poisoned, 'agents').set('agt_deep', map);
    for (let i = 0; i < 50; i++) map = map.set('behavior', new Y.Map<unknown>());
    store.append(draftId, [Y.encodeStateAsUpdate(poisoned, before)]);

    // For a draft owned by another process (PG-151) the change is made on the log's copy, alike.
    let fromLogRuns = 0;
    const forwarded = await new Rooms(store, opts()).changeFromLog(draftId, (doc) => {
      if (fromLogRuns++ === 0) throw new TypeError('as Yjs may throw');
      sectionMap(doc, 'agents').delete('agt_deep');
    });
    const copy = new Y.Doc();
    Y.applyUpdate(copy, Y.encodeStateAsUpdate(poisoned));
    for (const u of forwarded) Y.applyUpdate(copy, u);
    expect([fromLogRuns, sectionMap(copy, 'agents').has('agt_deep')]).toEqual([2, false]);

    const room = new Room(draftId, store, opts());
    let runs = 0;
    const stored = room.edit(
      { kind: 'server', reason: 'import' },
      (doc) => {
        // Where the stack runs out decides what Yjs throws: not always a RangeError.
        if (runs++ === 0) throw new TypeError("Cannot read properties of null (reading 'right')");
        sectionMap(doc, 'agents').delete('agt_deep');
        addItem(doc, 'agents', { name: 'Repaired' });
      },
      true,
    );
    expect([stored, runs]).toEqual([true, 2]);
    const names = (d: Y.Doc) =>
      Object.values(draftContent(d).agents).map((a) => (a as { name: string }).name);
    expect(names(room.doc)).toEqual(['Repaired']);
    room.unload();
    const reloaded = new Room(draftId, store, opts());
    expect(names(reloaded.doc)).toEqual(['Repaired']);
    reloaded.unload();

    // Nothing too deep: the failure is the change's own, thrown as it is and nothing changed.
    const clean = new Room(draftId, store, opts());
    expect(() =>
      clean.edit(
        { kind: 'server', reason: 'import' },
        () => {
          throw new TypeError('a bug');
        },
        true,
      ),
    ).toThrow('a bug');
    expect(names(clean.doc)).toEqual(['Repaired']);
    clean.unload();
  });
});

describe('[R7] hostile updates never corrupt the draft', () => {
  it.each([7, 8, 9])(
    '[R7] a mutated update is applied whole or refused (4400, 4422, 4424) with the document unchanged (seed %i)',
    async (seed) => {
      const { store, draftId } = await fixture();
      const room = new Room(draftId, store, opts());
      const rnd = prng(seed);
      const source = new Y.Doc();
      applyContent(source, sampleContent());
      const valid = Y.encodeStateAsUpdate(source);
      let refused = 0;
      for (let i = 0; i < 600; i++) {
        const bytes = valid.slice();
        for (let m = 0; m < 1 + Math.floor(rnd() * 4); m++)
          bytes[Math.floor(rnd() * bytes.length)] = Math.floor(rnd() * 256);
        const before = Y.encodeStateAsUpdate(room.doc);
        const hostile = new MemoryClient(room);
        hostile.deliverUp(); // its (empty) sync step 1
        room.receive(hostile.peer, encodeUpdate(bytes));
        if (hostile.closed) {
          refused++;
          expect(['malformed_message', 'invalid_shape', 'incomplete_update']).toContain(
            hostile.closed,
          );
          expect(Y.encodeStateAsUpdate(room.doc)).toEqual(before);
        }
        room.leave(hostile.peer);
        // Whatever happened, the document still encodes and reloads to the same content.
        const copy = new Y.Doc();
        Y.applyUpdate(copy, Y.encodeStateAsUpdate(room.doc));
        expect(draftContent(copy)).toEqual(draftContent(room.doc));
      }
      expect(refused).toBeGreaterThan(0);
      room.unload();
    },
  );
});
