import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';
import { expect, test } from '@playwright/test';
import { GENESIS_HASH, recordHash, verifyChain, type ChainRecord } from '#schema/release-chain.ts';
import { ensureAdmin, hydrated, signIn, shot } from './helpers.ts';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
/** The data folder playwright.config.ts gives the server. */
const dbFile = path.join(
  os.tmpdir(),
  `stagecoach-e2e-${process.env.E2E_PORT ?? 4317}`,
  'stagecoach.sqlite',
);

test.beforeEach(async ({ request }) => {
  await ensureAdmin(request);
});

test('VH-6 the History tab loads older records below what it shows, and says when the first record is reached', async ({
  page,
  baseURL,
}) => {
  /** Screenshots at 1366 and 390 px wide, scrolled to `testid`. */
  const shoot = async (name: string, testid: string) => {
    for (const [width, height] of [
      [1366, 900],
      [390, 844],
    ] as const) {
      await page.setViewportSize({ width, height });
      await page.getByTestId(testid).scrollIntoViewIfNeeded();
      await shot(page, `${name}-${width}`);
    }
    await page.setViewportSize({ width: 1366, height: 900 });
  };
  await page.setViewportSize({ width: 1366, height: 900 });
  await signIn(page);
  const headers = { origin: baseURL! };
  const project = (await (
    await page.request.post('/api/projects', {
      data: { name: `History ${Date.now()}`, sample: true },
      headers,
    })
  ).json()) as { id: string; environments: { id: string }[] };
  const [dev, testEnv] = project.environments.map((e) => e.id) as [string, string];
  expect(
    (await page.request.post(`/api/environments/${dev}/sync`, { data: {}, headers })).status(),
  ).toBe(200);

  // 230 more records of TEST, appended to the project's chain as the server would (hashes and all):
  // more than the tab's first page of 200.
  const db = new Database(dbFile);
  db.pragma('busy_timeout = 5000');
  const last = db
    .prepare('SELECT * FROM releases WHERE project_id = ? ORDER BY seq DESC LIMIT 1')
    .get(project.id) as { hash: string; to_snapshot_id: string; actor_id: string };
  const insert = db.prepare(
    `INSERT INTO releases (project_id, environment_id, kind, pointer, from_snapshot_id, to_snapshot_id,
       source_environment_id, actor_id, message, detail, created_at, prev_hash, hash)
     VALUES (@projectId, @environmentId, @kind, @pointer, @fromSnapshotId, @toSnapshotId,
       @sourceEnvironmentId, @actorId, @message, @detail, @createdAt, @prevHash, @hash)`,
  );
  db.transaction(() => {
    let prevHash = last.hash;
    for (let i = 1; i <= 230; i++) {
      const fields = {
        projectId: project.id,
        environmentId: testEnv,
        kind: 'sync',
        pointer: 'current',
        fromSnapshotId: last.to_snapshot_id,
        toSnapshotId: last.to_snapshot_id,
        sourceEnvironmentId: dev,
        actorId: last.actor_id,
        message: `Release note ${i}`,
        detail: null,
        createdAt: Date.now() - (231 - i) * 60_000,
        prevHash,
      };
      prevHash = recordHash(fields, sha256);
      insert.run({ ...fields, hash: prevHash });
    }
  })();
  db.close();

  await page.goto(`/projects/${project.id}/environments/${testEnv}?tab=history`);
  await hydrated(page);
  const rows = page.getByTestId('history').locator('ol').first().locator('li');
  await expect(rows).toHaveCount(200);
  await expect(rows.first()).toContainText('Release note 230');
  await expect(page.getByTestId('history-first')).toHaveCount(0);
  await shoot('history-more', 'history-older');

  await page.getByTestId('history-older').click();
  // Appended: the newest still first, the first record (the real Sync) last.
  await expect(rows).toHaveCount(231);
  await expect(rows.first()).toContainText('Release note 230');
  await expect(rows.nth(229)).toContainText('Release note 1');
  await expect(page.getByTestId('history-first')).toHaveText(
    'Everything back to the first record is shown.',
  );
  await expect(page.getByTestId('history-older')).toHaveCount(0);
  await shoot('history-first', 'history-first');

  // The chain the records were appended to still verifies from its first record.
  const records: ChainRecord[] = [];
  let after: number | null = 0;
  while (after !== null) {
    const r = (await (
      await page.request.get(`/api/projects/${project.id}/releases?after=${after}&limit=100`)
    ).json()) as { records: ChainRecord[]; next: number | null };
    records.push(...r.records);
    after = r.next;
  }
  expect(records[0]!.prevHash).toBe(GENESIS_HASH);
  expect(verifyChain(records, sha256)).toMatchObject({ ok: true, count: records.length });
});
