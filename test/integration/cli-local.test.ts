import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ProjectView } from '#schema/api.ts';
import type { WorkspaceContent } from '#schema/content/ydoc.ts';
import { adminOf, newProject, type Client } from '../helpers/fixture.ts';
import { stored } from '../helpers/dialect.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { cli, resultOf, type CliEnv } from '../helpers/cli.ts';

// Each test runs the CLI as a dozen processes against a real server: room for a busy machine.
vi.setConfig({ testTimeout: 90_000 });

/**
 * The CLI's content and environment-local commands, `wait` and `publish --wait-delivered`
 * (CLI-9, CLI-12, CLI-13), end to end against one real server.
 */
let server: TestServer;
let admin: Client;
let seq = 0;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'stagecoach-cli-'));

beforeAll(async () => {
  server = await startTestServer();
  admin = await adminOf(server.url);
}, 30_000);
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
  return server?.close();
});

async function fresh() {
  const project = await newProject(admin, { name: `Local ${++seq}`, sample: true });
  const env = (i: number) => project.environments[i]!;
  const target: CliEnv = { url: server.url, token: admin.token, project: project.id };
  const envOf = async (id: string) =>
    (await admin.ok<ProjectView>('GET', `/api/projects/${project.id}`)).environments.find(
      (e) => e.id === id,
    )!;
  return { project, env, target, envOf };
}

/** Gets production live: every Sync, with its secrets set first, then a Publish. */
async function live(p: Awaited<ReturnType<typeof fresh>>) {
  const prod = p.env(4).id;
  for (const name of ['HELPDESK_API_KEY', 'ORDERS_API_TOKEN'])
    await admin.ok('PUT', `/api/environments/${prod}/secrets/${name}`, { value: 'x-secret' });
  for (const i of [0, 1, 2, 3]) await admin.ok('POST', `/api/environments/${p.env(i).id}/sync`, {});
  await admin.ok('POST', `/api/environments/${prod}/publish`, {});
  return prod;
}

describe('CLI content and environment-local commands', () => {
  it('CLI-13 export writes the workspace file; import makes the draft equal it (problems listed); a broken file changes nothing (2)', async () => {
    const p = await fresh();
    const file = path.join(tmp, `ws-${p.project.id}.json`);
    const [toFile, toStdout] = await Promise.all([
      cli(p.target, ['export', 'dev', '--out', file, '--json']),
      cli(p.target, ['export', 'DEV']),
    ]);
    expect(toFile.code).toBe(0);
    expect(toStdout.code).toBe(0);
    const exported = JSON.parse(fs.readFileSync(file, 'utf8')) as {
      format: string;
      content: WorkspaceContent;
      source: { environment: string };
    };
    expect(exported.format).toBe('stagecoach.workspace');
    expect(exported.source.environment).toBe('DEV');
    expect(JSON.parse(toStdout.stdout).content).toEqual(exported.content);

    const agentId = Object.keys(exported.content.agents)[0]!;
    (exported.content.agents[agentId] as { description: string }).description = 'From CI.';
    fs.writeFileSync(file, JSON.stringify(exported));
    const imported = await cli(p.target, ['import', '--file', file, '--json']);
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.json).toMatchObject({ ok: true, result: { problems: [] } });
    const now = await admin.ok<WorkspaceContent>('GET', `/api/environments/${p.env(0).id}/content`);
    expect((now.agents[agentId] as { description: string }).description).toBe('From CI.');

    const viaStdin = await cli(p.target, ['import', '-f', '-', '--json'], {
      input: JSON.stringify({ format: 'stagecoach.workspace', version: 1, content: { bogus: {} } }),
    });
    expect(viaStdin.code).toBe(2);
    expect(viaStdin.json).toMatchObject({ ok: false, error: { id: 'invalid_workspace' } });
    const notJson = await cli(p.target, ['import', '-f', '-', '--json'], { input: '{nope' });
    expect(notJson.code).toBe(2);
  });

  it('CLI-13 vars get|set and runtime-keys create (the key on stdout only); a value that does not fit is 2', async () => {
    const p = await fresh();
    const staging = p.env(3).id;
    for (const i of [0, 1, 2]) await admin.ok('POST', `/api/environments/${p.env(i).id}/sync`, {});
    const set = await cli(p.target, ['vars', 'set', 'staging', 'max_refund_eur', '120', '--json']);
    expect(set.code, set.stderr).toBe(0);
    const [one, all, bad, key] = await Promise.all([
      cli(p.target, ['vars', 'get', 'staging', 'max_refund_eur']),
      cli(p.target, ['vars', 'get', 'staging', '--json']),
      cli(p.target, ['vars', 'set', 'staging', 'max_refund_eur', 'lots', '--json']),
      cli(p.target, ['runtime-keys', 'create', 'staging', '--name', 'edge-eu']),
    ]);
    expect(one.stdout).toBe('120\n');
    expect(all.json).toMatchObject({ ok: true, command: 'vars get' });
    expect(bad.code).toBe(2);
    expect(bad.json).toMatchObject({ ok: false, error: { id: 'invalid_value' }, exitCode: 2 });
    expect(key.code).toBe(0);
    const runtimeKey = key.stdout.trim();
    expect(runtimeKey.length).toBeGreaterThan(20);
    expect(key.stderr).not.toContain(runtimeKey);
    const delivered = await fetch(`${server.url}/api/delivery/${staging}`, {
      headers: { authorization: `Bearer ${runtimeKey}` },
    });
    expect(delivered.status).toBe(200);
    expect(
      ((await delivered.json()) as { variables: Record<string, { value: unknown }> }).variables
        .max_refund_eur!.value,
    ).toBe(120);
  });

  it('CLI-9 wait <env> --snapshot: 0 once the pointer holds it, 10 when the wait ends first', async () => {
    const p = await fresh();
    await admin.ok('POST', `/api/environments/${p.env(0).id}/sync`, {});
    const snap = (await p.envOf(p.env(1).id)).snapshotId!;
    const [held, never] = await Promise.all([
      // Once it says it waits, TEST syncs the snapshot into UAT.
      cli(
        p.target,
        ['wait', 'uat', '--snapshot', snap.slice(0, 12), '--timeout', '10s', '--json'],
        {
          whenSaid: [
            'waiting',
            () => admin.ok('POST', `/api/environments/${p.env(1).id}/sync`, {}),
          ],
        },
      ),
      cli(p.target, ['wait', 'staging', '--snapshot', snap, '--timeout', '500ms', '--json']),
    ]);
    expect(held.code, held.stderr).toBe(0);
    expect(held.json).toMatchObject({ ok: true, result: { snapshotId: snap } });
    expect(never.code).toBe(10);
    expect(never.json).toMatchObject({ ok: false, error: { id: 'wait_timeout' }, exitCode: 10 });
  });

  it('CLI-12 publish --wait-delivered: waits until the runtimes reporting for production serve the new live; 10 when they do not', async () => {
    const p = await fresh();
    const prod = await live(p);
    const { key } = await admin.ok<{ key: string }>(
      'POST',
      `/api/environments/${prod}/runtime-keys`,
      { name: 'runtime' },
    );
    const poll = (instance: string) =>
      fetch(`${server.url}/api/delivery/${prod}`, {
        headers: { authorization: `Bearer ${key}`, 'stagecoach-runtime': instance },
      }).then((r) => r.status);
    expect(await poll('edge-1')).toBe(200);
    expect(await poll('edge-2')).toBe(200);
    // A new release synced all the way to production.
    const content = await admin.ok<WorkspaceContent>(
      'GET',
      `/api/environments/${p.env(0).id}/content`,
    );
    const agentId = Object.keys(content.agents)[0]!;
    (content.agents[agentId] as { description: string }).description = 'Release 2.';
    await admin.ok('PUT', `/api/environments/${p.env(0).id}/content`, content);
    for (const i of [0, 1, 2, 3])
      await admin.ok('POST', `/api/environments/${p.env(i).id}/sync`, {});

    // Once the CLI says it waits, the runtimes pick the release up.
    const waited = await cli(p.target, ['publish', '--yes', '--wait-delivered=15s', '--json'], {
      whenSaid: ['waiting', async () => Promise.all([poll('edge-1'), poll('edge-2')])],
    });
    expect(waited.code, waited.stderr).toBe(0);
    expect(waited.json).toMatchObject({
      ok: true,
      result: { delivered: { total: 2, onLive: 2, behind: [] } },
    });
    expect(waited.stderr).toContain('not yet: edge-1, edge-2');

    // Once more, and this time the runtimes stay behind.
    (content.agents[agentId] as { description: string }).description = 'Release 3.';
    await admin.ok('PUT', `/api/environments/${p.env(0).id}/content`, content);
    for (const i of [0, 1, 2, 3])
      await admin.ok('POST', `/api/environments/${p.env(i).id}/sync`, {});
    const behind = await cli(p.target, ['publish', '--yes', '--wait-delivered=700ms', '--json']);
    expect(behind.code).toBe(10);
    expect(behind.json).toMatchObject({
      ok: false,
      error: {
        id: 'wait_timeout',
        details: { runtimes: { total: 2, onLive: 0, behind: ['edge-1', 'edge-2'] } },
      },
    });
    expect(behind.stderr).toContain('not yet: edge-1, edge-2');
  });

  it('CLI-14 history <env> lists the records; --verify recomputes the whole chain from the API (0), a record altered in the database exits 6', async () => {
    const p = await fresh();
    for (let i = 0; i < 3; i++) {
      const content = await admin.ok<WorkspaceContent>(
        'GET',
        `/api/environments/${p.env(0).id}/content`,
      );
      const agentId = Object.keys(content.agents)[0]!;
      (content.agents[agentId] as { description: string }).description = `Round ${i}.`;
      await admin.ok('PUT', `/api/environments/${p.env(0).id}/content`, content);
      await admin.ok('POST', `/api/environments/${p.env(0).id}/sync`, { message: `round ${i}` });
      await admin.ok('POST', `/api/environments/${p.env(1).id}/sync`, {});
    }
    const [listed, verified] = await Promise.all([
      cli(p.target, ['history', 'test', '--limit', '2', '--json']),
      cli(p.target, ['history', 'uat', '--verify', '--json']),
    ]);
    expect(listed.code, listed.stderr).toBe(0);
    const page = resultOf<{
      history: { seq: number; message: string | null }[];
      next: string | null;
    }>(listed);
    expect(page.history.map((h) => h.message)).toEqual(['round 2', 'round 1']);
    expect(page.next).not.toBeNull();
    expect(verified.code, verified.stderr).toBe(0);
    expect(resultOf<{ verified: number; environmentRecords: number }>(verified)).toMatchObject({
      verified: 6,
      environmentRecords: 3,
    });

    await stored(server).run(
      "UPDATE releases SET message = 'not what happened' WHERE seq = ?",
      page.history[1]!.seq,
    );
    const broken = await cli(p.target, ['history', 'test', '--verify', '--json']);
    expect(broken.code).toBe(6);
    expect(broken.json).toMatchObject({
      ok: false,
      error: {
        id: 'history_broken',
        details: { brokenAt: page.history[1]!.seq, reason: 'hash_mismatch' },
      },
      exitCode: 6,
    });
  });
});
