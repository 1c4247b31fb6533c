// Measures what a promotion costs as the workspace grows: `npm run bench:promotion`.
// Freezing (DEV → TEST) reads and hashes the whole draft; later promotions and rollbacks are
// pointer moves and should cost the same at any size. Prints a table; asserts nothing.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '#server/config.ts';
import { createServices } from '#server/start.ts';
import { sampleContent } from '#schema/content/sample.ts';
import { applyContent, type WorkspaceContent } from '#schema/content/ydoc.ts';
import type { Principal } from '#server/domain/accounts.ts';

const SIZES = [10, 1_000, 10_000];
const ROUNDS = 200;

function workspace(articles: number): WorkspaceContent {
  const c = sampleContent();
  for (let i = 0; i < articles; i++) {
    c.knowledge[`kb_${i}`] = { title: `Article ${i}`, body: `# Article ${i}\n\n${'Lorem ipsum dolor sit amet. '.repeat(20)}`, tags: ['bench'], audiences: [] };
  }
  return c;
}

const ms = (ns: bigint) => Number(ns) / 1e6;
function time(f: () => void): number {
  const t = process.hrtime.bigint();
  f();
  return ms(process.hrtime.bigint() - t);
}
const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const rows: string[] = [];
for (const size of SIZES) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stagecoach-bench-'));
  const s = createServices(loadConfig({ DATA_DIR: dir }, process.cwd()));
  const by: Principal = { user: { id: 'usr_bench', email: 'b@example.com', name: 'Bench' }, isInstanceAdmin: true, via: 'token' };
  const project = s.projects.create(by, { name: 'Bench', preset: 'five-stage', sample: false });
  const [dev, test] = project.environments;
  s.rooms.edit(dev!.draftId!, 'bench', (doc) => applyContent(doc, workspace(size)));

  const freeze = time(() => s.releases.sync(by, dev!.id, {}));
  // Two snapshots in TEST's history to move between.
  s.rooms.edit(dev!.draftId!, 'bench', (doc) => doc.getMap('knowledge').delete('kb_0'));
  s.releases.sync(by, dev!.id, {});
  const history = s.releases.history(test!.id);
  const [newer, older] = [history[0]!.toSnapshotId, history[1]!.toSnapshotId];

  const syncs: number[] = [];
  const rollbacks: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    rollbacks.push(time(() => s.releases.rollback(by, test!.id, { snapshotId: i % 2 === 0 ? older : newer })));
    syncs.push(time(() => s.releases.sync(by, test!.id, {})));
  }
  rows.push(`| ${size + 17} | ${freeze.toFixed(1)} | ${p50(syncs).toFixed(3)} | ${p50(rollbacks).toFixed(3)} |`);
  s.rooms.closeAll();
  s.database.close();
  fs.rmSync(dir, { recursive: true, force: true });
}

console.log(`Promotion cost by workspace size (${ROUNDS} rounds each, p50, ms; ${os.cpus().length} cores, ${os.cpus()[0]?.model ?? 'cpu'})\n`);
console.log('| items | freeze DEV→TEST (once) | Sync TEST→UAT | rollback TEST |');
console.log('|---|---|---|---|');
for (const r of rows) console.log(r);
