// Storage-side benchmarks, in process (no network): `npm run bench:store` (BENCH_ONLY=S5,S11,P1,J1).
// S5 cold load of a draft, S11 freezing a 5 MB workspace, P1 Sync and rollback by workspace size, J1 the replication job a change enqueues.
// Prints tables and merges them into bench/RESULTS.md; asserts nothing.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as Y from 'yjs';
import { loadConfig } from '#server/config.ts';
import { createServices } from '#server/start.ts';
import { applyContent, itemText, sectionMap } from '#schema/content/ydoc.ts';
import type { Principal } from '#server/domain/accounts.ts';
import { Room } from '#server/collab/room.ts';
import { encodeUpdate } from '#server/collab/protocol.ts';
import { createDraftStore } from '#server/store/drafts.ts';
import { createJobStore } from '#server/store/jobs.ts';
import { REPLICATE_JOB } from '#server/domain/replication.ts';
import { Report, fmt } from '../results.ts';
import { bigWorkspace, bigWorkspaceUpdate } from './workspace.ts';
import { setNumber } from '../sync/content.ts';

const only = (process.env.BENCH_ONLY ?? 'S4,S5,S11,P1,J1').split(',');
const report = new Report('Storage benchmarks');
const by: Principal = {
  user: { id: 'usr_bench', email: 'b@example.com', name: 'Bench' },
  isInstanceAdmin: true,
  via: 'token',
  credential: { kind: 'token', id: 'tok_bench', expiresAt: null },
};

async function services() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stagecoach-bench-'));
  const s = createServices(loadConfig({ DATA_DIR: dir }, process.cwd()));
  const project = await s.projects.create(by, {
    name: 'Bench',
    preset: 'five-stage',
    sample: false,
  });
  return {
    s,
    project,
    async done() {
      s.rooms.closeAll();
      await s.database.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function time(f: () => unknown): Promise<number> {
  const t = performance.now();
  await f();
  return performance.now() - t;
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

if (only.includes('S4')) {
  report.say();
  report.say(
    '## S4-append — the durable append alone: 200 loaded drafts × 1 writer × 10 updates/s for 20 s through Room (target: ≥ 2,000 durable updates/s, append p99 ≤ 5 ms)',
  );
  report.say();
  const { s, done } = await services();
  const drafts = createDraftStore(s.database.sqlite);
  const times: number[] = [];
  const timed = {
    ...drafts,
    append: (id: string, updates: readonly Uint8Array[]) => {
      const t = performance.now();
      try {
        return drafts.append(id, updates);
      } finally {
        times.push(performance.now() - t);
      }
    },
  };
  s.database.sqlite.pragma('foreign_keys = OFF');
  const peer = { userId: 'u', userName: 'U', readOnly: false, send: () => {}, close: () => {} };
  const rooms = Array.from(
    { length: 200 },
    (_, i) =>
      new Room(`bench_${i}`, timed, {
        compactAfterUpdates: 1000,
        log: () => {},
        presence: { maxStateBytes: 8192, perSecond: 30, idsPerUser: 16 },
      }),
  );
  const writers = rooms.map((room) => {
    room.join(peer);
    const doc = new Y.Doc();
    doc.on('update', (u: Uint8Array) => room.receive(peer, encodeUpdate(u)));
    return doc;
  });
  const seconds = 20;
  const t0 = performance.now();
  const total = 200 * 10 * seconds;
  for (let k = 0; k < total; k++) {
    const wait = t0 + k * (1000 / 2000) - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    setNumber(writers[k % 200]!, 'bench', k);
  }
  await new Promise((r) => setImmediate(r));
  const wall = (performance.now() - t0) / 1000;
  times.sort((a, b) => a - b);
  report.say(
    '| updates | per second | appends (transactions) | append p50 ms | append p99 ms | append max ms |',
  );
  report.say('|---|---|---|---|---|---|');
  report.say(
    `| ${total.toLocaleString('en')} | ${fmt(total / wall, 0)} | ${times.length.toLocaleString('en')} | ${fmt(times[Math.floor(times.length / 2)]!, 3)} | ${fmt(times[Math.floor(times.length * 0.99)]!, 3)} | ${fmt(times[times.length - 1]!, 3)} |`,
  );
  for (const r of rooms) r.unload();
  await done();
}

if (only.includes('S5')) {
  report.say();
  report.say(
    '## S5 — cold load of a draft (target: 100k-update log, no state row ≤ 1.5 s; 5 MB state + 1k tail ≤ 200 ms)',
  );
  report.say();
  report.say(
    '| draft in storage | load ms (median of 3; includes the compaction a long log triggers) | doc bytes |',
  );
  report.say('|---|---|---|');
  const { s, project, done } = await services();
  const store = createDraftStore(s.database.sqlite);
  const opts = {
    compactAfterUpdates: 1000,
    log: () => {},
    presence: { maxStateBytes: 8192, perSecond: 30, idsPerUser: 16 },
  };
  const draftId = project.environments[0]!.draftId!;

  // 100k keystroke-sized updates from one typist, as the log holds them.
  const typist = new Y.Doc();
  const updates: Uint8Array[] = [];
  typist.on('update', (u: Uint8Array) => updates.push(u));
  applyContent(typist, bigWorkspace(0));
  const text = itemText(sectionMap(typist, 'knowledge').values().next().value, 'body')!;
  for (let i = updates.length; i < 100_000; i++)
    text.insert((i * 7) % (text.length + 1), 'abcdefghij'[i % 10]!);
  const row = () =>
    s.database.sqlite.prepare('DELETE FROM draft_states WHERE draft_id = ?').run(draftId);
  const loads: number[] = [];
  let loadedBytes = 0;
  for (let r = 0; r < 3; r++) {
    row();
    s.database.sqlite.prepare('DELETE FROM draft_updates WHERE draft_id = ?').run(draftId);
    for (let i = 0; i < updates.length; i += 5000)
      store.append(draftId, updates.slice(i, i + 5000));
    let room!: Room;
    loads.push(await time(() => (room = new Room(draftId, store, opts))));
    loadedBytes = Y.encodeStateAsUpdate(room.doc).length;
    room.unload();
  }
  report.say(
    `| ${updates.length.toLocaleString('en')} updates, no state row | ${fmt(median(loads), 0)} | ${loadedBytes.toLocaleString('en')} |`,
  );

  const big = bigWorkspaceUpdate(2000);
  const writer = new Y.Doc();
  Y.applyUpdate(writer, big);
  const tail: Uint8Array[] = [];
  writer.on('update', (u: Uint8Array) => tail.push(u));
  const body = itemText(sectionMap(writer, 'knowledge').get('kb_00000'), 'body')!;
  for (let i = 0; i < 1000; i++) body.insert(i, 'x');
  const tailed: number[] = [];
  for (let r = 0; r < 3; r++) {
    row();
    s.database.sqlite.prepare('DELETE FROM draft_updates WHERE draft_id = ?').run(draftId);
    store.compact(draftId, big, 0);
    store.append(draftId, tail);
    let room!: Room;
    tailed.push(
      await time(
        () => (room = new Room(draftId, store, { ...opts, compactAfterUpdates: 100_000 })),
      ),
    );
    loadedBytes = Y.encodeStateAsUpdate(room.doc).length;
    room.unload();
  }
  report.say(
    `| ${(big.length / 1e6).toFixed(1)} MB state + ${tail.length.toLocaleString('en')} updates | ${fmt(median(tailed), 0)} | ${loadedBytes.toLocaleString('en')} |`,
  );
  await done();
}

if (only.includes('S11')) {
  report.say();
  report.say(
    '## S11 — freeze a 5 MB workspace (2,000 articles) by a Sync from DEV (target: ≤ 250 ms; unchanged ≤ 100 ms; after 10 edits ≤ 30 ms)',
  );
  report.say();
  report.say('| freeze | ms (median of 5 rounds) |');
  report.say('|---|---|');
  const rows = {
    cold: [] as number[],
    first: [] as number[],
    unchanged: [] as number[],
    edited: [] as number[],
  };
  for (let round = 0; round < 5; round++) {
    const { s, project, done } = await services();
    const [dev] = project.environments;
    const draftId = dev!.draftId!;
    await s.rooms.edit(draftId, 'bench', (doc) => applyContent(doc, bigWorkspace(2000)));
    s.rooms.closeAll();
    const reopen = () =>
      createServices(loadConfig({ DATA_DIR: path.dirname(s.database.sqlite.name) }, process.cwd()));
    const cold = reopen();
    rows.cold.push(await time(async () => await cold.releases.sync(by, dev!.id, {})));
    cold.rooms.closeAll();
    await cold.database.close();
    const again = reopen();
    // Loaded by an edit, as when people are editing it; never read as JSON before this freeze.
    await again.rooms.edit(draftId, 'bench', (doc) =>
      sectionMap(doc, 'knowledge').delete('kb_00001'),
    );
    rows.first.push(await time(async () => await again.releases.sync(by, dev!.id, {})));
    rows.unchanged.push(await time(async () => await again.releases.sync(by, dev!.id, {})));
    await again.rooms.edit(draftId, 'bench', (doc) => {
      for (let i = 0; i < 10; i++)
        itemText(
          sectionMap(doc, 'knowledge').get(`kb_${String(100 + i * 7).padStart(5, '0')}`),
          'body',
        )!.insert(0, `Edit ${round}. `);
    });
    rows.edited.push(await time(async () => await again.releases.sync(by, dev!.id, {})));
    again.rooms.closeAll();
    await again.database.close();
    await s.database.close();
    await done();
  }
  report.say(
    `| first, draft not loaded (read from SQLite, then frozen) | ${fmt(median(rows.cold), 0)} |`,
  );
  report.say(`| first, draft loaded (people are editing it) | ${fmt(median(rows.first), 0)} |`);
  report.say(`| again, unchanged | ${fmt(median(rows.unchanged), 1)} |`);
  report.say(`| again, after 10 edits | ${fmt(median(rows.edited), 1)} |`);
}

if (only.includes('P1')) {
  report.say();
  report.say(
    '## P1 — Sync and rollback by workspace size, 200 rounds each, median (target: equal cost, each ≤ 5 ms)',
  );
  report.say();
  report.say('| items | Sync TEST→UAT ms | rollback TEST ms |');
  report.say('|---|---|---|');
  for (const articles of [10, 10_000]) {
    const { s, project, done } = await services();
    const [dev, test] = project.environments;
    await s.rooms.edit(dev!.draftId!, 'bench', (doc) => applyContent(doc, bigWorkspace(articles)));
    await s.releases.sync(by, dev!.id, {});
    await s.rooms.edit(dev!.draftId!, 'bench', (doc) =>
      sectionMap(doc, 'knowledge').delete('kb_00000'),
    );
    await s.releases.sync(by, dev!.id, {});
    const [newer, older] = (await s.releases.history(test!.id)).map((h) => h.toSnapshotId);
    const syncs: number[] = [];
    const rollbacks: number[] = [];
    for (let i = 0; i < 200; i++) {
      rollbacks.push(
        await time(
          async () =>
            await s.releases.rollback(by, test!.id, { snapshotId: i % 2 === 0 ? older! : newer! }),
        ),
      );
      syncs.push(await time(async () => await s.releases.sync(by, test!.id, {})));
    }
    const items = Object.values(await s.snapshots.tree(project.id, newer!)).reduce(
      (n, sec) => n + Object.keys(sec).length,
      0,
    );
    report.say(
      `| ${items.toLocaleString('en')} | ${fmt(median(syncs), 3)} | ${fmt(median(rollbacks), 3)} |`,
    );
    await done();
  }
}

if (only.includes('J1')) {
  report.say();
  report.say(
    '## J1 — what a durable change to a draft with `down` sections adds: enqueueing its replication job (coalesced: the job already waits), SQLite, in process',
  );
  report.say();
  const { s, done } = await services();
  const jobs = createJobStore(s.database.db);
  const enqueue = (i: number) =>
    jobs.enqueue(REPLICATE_JOB, `prj_bench_${i % 50}`, null, Date.now() + 2000);
  for (let i = 0; i < 2000; i++) enqueue(i);
  const n = 20_000;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) enqueue(i);
  const us = ((performance.now() - t0) * 1000) / n;
  report.say('| enqueues | projects | µs per enqueue |');
  report.say('|---|---|---|');
  report.say(`| ${n.toLocaleString('en')} | 50 | ${fmt(us, 1)} |`);
  await done();
}

report.write();
