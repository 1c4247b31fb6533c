import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ProjectView } from '#schema/api.ts';
import type { HistoryView, RequestsView } from '#schema/api/release.ts';
import { sampleContent } from '#schema/content/sample.ts';
import { adminOf, newProject, newUser, type Client } from '../helpers/fixture.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { cli, cliOnTerminal, resultOf, type CliEnv } from '../helpers/cli.ts';

// Each test runs the CLI as a dozen processes against a real server: room for a busy machine.
vi.setConfig({ testTimeout: 90_000 });

/**
 * The `stagecoach` CLI end to end (CLI-1 … CLI-11): each run is a separate process against one
 * real server on port 0, configured by STAGECOACH_URL/TOKEN/PROJECT, stdin a pipe (no terminal).
 */
let server: TestServer;
let admin: Client;
let approver: Client & { id: string };
let seq = 0;

beforeAll(async () => {
  server = await startTestServer();
  admin = await adminOf(server.url);
  approver = await newUser(admin, 'approver@example.com', 'Avery Approver');
}, 30_000);
afterAll(() => server?.close());

/** A fresh sample project (five stages) and the CLI's target: the admin's token, the project by name. */
async function fresh() {
  const name = `Pipeline ${++seq}`;
  const project = await newProject(admin, { name, sample: true });
  const [dev, test, uat, staging, prod] = project.environments.map((e) => e.id) as [
    string,
    string,
    string,
    string,
    string,
  ];
  const target: CliEnv = { url: server.url, token: admin.token, project: name.toLowerCase() };
  const envOf = async (id: string) =>
    (await admin.ok<ProjectView>('GET', `/api/projects/${project.id}`)).environments.find(
      (e) => e.id === id,
    )!;
  const history = (id: string) => admin.ok<HistoryView>('GET', `/api/environments/${id}/history`);
  return { project, name, dev, test, uat, staging, prod, target, envOf, history };
}

const errorOf = (r: Awaited<ReturnType<typeof cli>>) =>
  r.json && !r.json.ok ? r.json.error : undefined;

describe('CLI framework', () => {
  it('CLI-1 CLI-2 status: env vars or flags say where; --json is one object on stdout; failures are {ok:false,error,exitCode}', async () => {
    const p = await fresh();
    const [ok, byFlag, badToken, noUrl, unknownProject, unknownFlag, unknownEnv, human] =
      await Promise.all([
        cli(p.target, ['status', '--json']),
        cli({ ...p.target, project: 'no such project' }, [
          'status',
          '--json',
          '--project',
          p.project.id,
        ]),
        cli({ ...p.target, token: 'sc_not_a_token' }, ['status', '--json']),
        cli({ ...p.target, url: '' }, ['status', '--json']),
        cli({ ...p.target, project: 'nope' }, ['status', '--json']),
        cli(p.target, ['status', '--json', '--frobnicate']),
        cli(p.target, ['diff', 'nowhere', '--json']),
        cli(p.target, ['status']),
      ]);
    expect(ok.code).toBe(0);
    expect(ok.json).toMatchObject({ ok: true, command: 'status' });
    const result = resultOf<{ stages: { name: string }[] }>(ok);
    expect(result.stages.map((s) => s.name)).toEqual(p.project.environments.map((e) => e.name));
    expect(byFlag.code).toBe(0);
    expect(badToken.code).toBe(3);
    expect(badToken.json).toMatchObject({
      ok: false,
      error: { id: 'unauthenticated' },
      exitCode: 3,
    });
    expect(noUrl.code).toBe(2);
    expect(errorOf(noUrl)?.id).toBe('usage');
    expect(unknownProject.code).toBe(5);
    expect(errorOf(unknownProject)?.id).toBe('project_not_found');
    expect(unknownFlag.code).toBe(2);
    // An argument too many is refused, not ignored (a duration needs its =).
    const stray = await cli(p.target, ['sync', 'test', '--wait', '10m', '--json']);
    expect(stray.code).toBe(2);
    expect(errorOf(stray)?.message).toContain('--wait=10m');
    expect(unknownEnv.code).toBe(5);
    expect(errorOf(unknownEnv)?.message).toContain('DEV');
    // Without --json: people read stderr, stdout stays empty.
    expect(human.code).toBe(0);
    expect(human.stdout).toBe('');
    expect(human.stderr).toContain(p.name);
  });
});

describe('CLI release commands', () => {
  it('CLI-6 diff <env> --exit-code: 0 while something would move, 9 once nothing would', async () => {
    const p = await fresh();
    const before = await cli(p.target, ['diff', 'test', '--exit-code', '--json']);
    expect(before.code).toBe(0);
    expect(resultOf<{ total: number }>(before).total).toBeGreaterThan(0);
    expect((await cli(p.target, ['sync', 'TEST'])).code).toBe(0);
    const [after, plain] = await Promise.all([
      cli(p.target, ['diff', 'test', '--exit-code', '--json']),
      cli(p.target, ['diff', 'test', '--json']),
    ]);
    expect(after.code).toBe(9);
    expect(after.json).toMatchObject({ ok: true, result: { total: 0 } });
    expect(plain.code).toBe(0);
  });

  it('CLI-7 sync <env>: compare-and-swap on the target (6), nothing to sync (9), unchanged (0), draft problems (8)', async () => {
    const p = await fresh();
    const [nothing, wrongFull] = await Promise.all([
      cli(p.target, ['sync', 'uat', '--json']),
      cli(p.target, ['sync', 'test', '--expect-target', 'a'.repeat(64), '--json']),
    ]);
    expect(nothing.code).toBe(9);
    expect(errorOf(nothing)?.id).toBe('nothing_to_sync');
    expect(wrongFull.code).toBe(6);
    expect(errorOf(wrongFull)?.id).toBe('target_moved');
    expect((await p.envOf(p.test)).snapshotId).toBeNull();

    const first = await cli(p.target, [
      'sync',
      'test',
      '--expect-target',
      'none',
      '-m',
      'ci',
      '--json',
    ]);
    expect(first.code).toBe(0);
    const moved = resultOf<{ snapshotId: string; unchanged: boolean }>(first);
    expect(moved.unchanged).toBe(false);
    expect((await p.envOf(p.test)).snapshotId).toBe(moved.snapshotId);

    const [again, prefixWrong, prefixRight] = await Promise.all([
      cli(p.target, ['sync', 'test', '--json']),
      cli(p.target, ['sync', 'uat', '--expect-target', 'abcdef12', '--json']),
      cli(p.target, [
        'diff',
        'uat',
        '--from',
        'uat',
        '--to',
        `snapshot:${moved.snapshotId}`,
        '--json',
      ]),
    ]);
    expect(again.code).toBe(0);
    expect(again.json).toMatchObject({ ok: true, result: { unchanged: true } });
    expect(prefixWrong.code).toBe(6);
    expect(prefixRight.code).toBe(0);

    const content = sampleContent();
    const firstAgent = Object.keys(content.agents)[0]!;
    (content.agents[firstAgent] as { name: string }).name = '';
    await admin.ok('PUT', `/api/environments/${p.dev}/content`, content);
    const problems = await cli(p.target, ['sync', 'test', '--json']);
    expect(problems.code).toBe(8);
    expect(errorOf(problems)?.id).toBe('draft_has_problems');
  });

  it('CLI-7 CLI-9 a gated sync: 7 pending, --request-approval asks once, --wait times out with 10, self-approval 4, approved then moves', async () => {
    const p = await fresh();
    await admin.ok('PUT', `/api/projects/${p.project.id}/members/${approver.id}`, {
      roles: { [p.uat]: ['viewer', 'approver'], [p.test]: ['viewer'] },
    });
    await admin.ok('PUT', `/api/environments/${p.uat}/gate`, { requiredApprovals: 1 });
    expect((await cli(p.target, ['sync', 'test'])).code).toBe(0);

    // A CI job with a stable key: refused now (nothing moved)…
    const refused = await cli(p.target, ['sync', 'uat', '--idempotency-key', 'job-7', '--json']);
    expect(refused.code).toBe(7);
    expect(errorOf(refused)?.id).toBe('approval_required');
    const asked = await cli(p.target, [
      'sync',
      'uat',
      '--request-approval',
      '-m',
      'release 1',
      '--json',
    ]);
    expect(asked.code).toBe(7);
    expect(errorOf(asked)?.id).toBe('approval_pending');
    const requestId = (errorOf(asked)?.details as { requestId: string }).requestId;
    const timedOut = await cli(p.target, [
      'sync',
      'uat',
      '--request-approval',
      '--wait=600ms',
      '--json',
    ]);
    expect(timedOut.code).toBe(10);
    expect(errorOf(timedOut)).toMatchObject({ id: 'wait_timeout', details: { requestId } });
    const { requests } = await admin.ok<RequestsView>(
      'GET',
      `/api/projects/${p.project.id}/requests`,
    );
    expect(requests.map((r) => r.id)).toEqual([requestId]);

    const self = await cli(p.target, ['requests', 'approve', requestId, '--json']);
    expect(self.code).toBe(4);
    expect(errorOf(self)?.id).toBe('self_approval');
    const asApprover = { ...p.target, token: approver.token };
    const approve = async () => {
      const a = await cli(asApprover, [
        'requests',
        'approve',
        requestId.slice(0, 12),
        '-m',
        'ok',
        '--json',
      ]);
      expect(a.code).toBe(0);
    };
    const [listed, approved] = await Promise.all([
      cli(asApprover, ['requests', 'list', '--json']),
      // Once the CLI says it waits, the approver approves: it sees the approval and exits 0.
      cli(p.target, ['wait', '--request', requestId, '--timeout', '10s', '--json'], {
        whenSaid: ['waiting', approve],
      }),
    ]);
    expect(listed.json).toMatchObject({ ok: true, command: 'requests list' });
    expect(approved.code).toBe(0);
    // …re-run with the same key after the approval: the replayed refusal is asked again, and it moves.
    const moved = await cli(p.target, ['sync', 'uat', '--idempotency-key', 'job-7', '--json']);
    expect(moved.stderr).toContain('earlier run');
    expect(moved.code).toBe(0);
    expect(moved.json).toMatchObject({ ok: true, result: { unchanged: false } });
  });

  it('CLI-7 CLI-9 required checks: pending 7, failure 8, and sync --wait moves once the CI job reports success', async () => {
    const p = await fresh();
    await admin.ok('PUT', `/api/environments/${p.staging}/gate`, {
      requiredApprovals: 0,
      requiredChecks: ['evals'],
    });
    for (const env of ['test', 'uat']) expect((await cli(p.target, ['sync', env])).code).toBe(0);
    const pending = await cli(p.target, ['sync', 'staging', '--json']);
    expect(pending.code).toBe(7);
    expect(errorOf(pending)?.id).toBe('checks_pending');
    const failed = await cli(p.target, [
      'checks',
      'report',
      'staging',
      '--name',
      'evals',
      '--state',
      'failure',
      '--summary',
      '3 regressions',
      '--json',
    ]);
    expect(failed.code).toBe(0);
    expect(failed.json).toMatchObject({
      ok: true,
      command: 'checks report',
      result: { state: 'failure' },
    });
    const blocked = await cli(p.target, ['sync', 'staging', '--json']);
    expect(blocked.code).toBe(8);
    expect(errorOf(blocked)).toMatchObject({
      id: 'checks_failed',
      details: { checks: [{ name: 'evals', state: 'failure' }] },
    });
    // The CI job runs again: pending until it reports; a waiting sync moves once it is green.
    const rerun = await cli(p.target, [
      'checks',
      'report',
      'staging',
      '--name',
      'evals',
      '--state',
      'pending',
    ]);
    expect(rerun.code).toBe(0);
    // Once the waiting sync says it waits, the CI job reports green: it moves.
    const green = async () => {
      const ok = await cli(p.target, [
        'checks',
        'report',
        'staging',
        '--name',
        'evals',
        '--state',
        'success',
        '--url',
        'https://ci.example.com/1',
      ]);
      expect(ok.code, ok.stderr).toBe(0);
    };
    const waited = await cli(p.target, ['sync', 'staging', '--wait=15s', '--json'], {
      whenSaid: ['waiting', green],
    });
    expect(waited.code, waited.stderr).toBe(0);
    expect(waited.stderr).toContain('waiting');
    expect((await p.envOf(p.staging)).snapshotId).not.toBeNull();
  });

  it('CLI-5 CLI-8 production moves need --yes off a terminal (2, nothing sent); publish, unchanged publish, expect-live, rollback', async () => {
    const p = await fresh();
    // The sample's integrations name secrets production lacks: confirmed, as the board lets a person.
    const toProduction = async () => {
      for (const env of ['test', 'uat', 'staging'])
        expect((await cli(p.target, ['sync', env])).code).toBe(0);
      expect((await cli(p.target, ['sync', 'production', '--confirm-missing-secrets'])).code).toBe(
        0,
      );
    };
    await toProduction();
    const refused = await cli(p.target, ['publish', '--json']);
    expect(refused.code).toBe(2);
    expect(errorOf(refused)?.id).toBe('needs_yes');
    expect(errorOf(refused)?.message).toContain('--yes');
    expect((await p.envOf(p.prod)).liveSnapshotId ?? null).toBeNull();
    // On a terminal it asks instead; anything but "yes" sends nothing.
    const declined = await cliOnTerminal(p.target, ['publish'], 'no\r');
    if (declined) {
      expect(declined.output).toContain('Type "yes" to go ahead');
      expect(declined.code).toBe(2);
      expect((await p.envOf(p.prod)).liveSnapshotId ?? null).toBeNull();
    }

    // CLI-13: the secrets production lacks, from stdin; the value is never echoed.
    const VALUE = 'sk-live-do-not-echo-1234';
    for (const name of ['HELPDESK_API_KEY', 'ORDERS_API_TOKEN']) {
      const set = await cli(
        p.target,
        ['secrets', 'set', 'production', name, '--from-stdin', '--json'],
        {
          input: `${VALUE}\n`,
        },
      );
      expect(set.code, set.stderr).toBe(0);
      expect(set.stdout + set.stderr).not.toContain(VALUE);
    }
    const inArgv = await cli(p.target, ['secrets', 'set', 'production', 'OTHER', VALUE, '--json']);
    expect(inArgv.code).toBe(2);
    expect(inArgv.stdout + inArgv.stderr).not.toContain(VALUE);

    const published = await cli(p.target, [
      'publish',
      '--yes',
      '--expect-live',
      'none',
      '-m',
      'first',
      '--json',
    ]);
    expect(published.code, published.stderr).toBe(0);
    const first = resultOf<{ release: { toSnapshotId: string } }>(published).release.toSnapshotId;
    expect((await p.envOf(p.prod)).liveSnapshotId).toBe(first);
    const same = await cli(p.target, ['publish', '--yes', '--json']);
    expect(same.code).toBe(0);
    expect(same.json).toMatchObject({ ok: true, result: { unchanged: true } });

    // A second release, then back to the first.
    const content = sampleContent();
    const firstAgent = Object.keys(content.agents)[0]!;
    (content.agents[firstAgent] as { description: string }).description = 'Second release.';
    await admin.ok('PUT', `/api/environments/${p.dev}/content`, content);
    await toProduction();
    const stale = await cli(p.target, [
      'publish',
      '--yes',
      '--expect-live',
      'f'.repeat(64),
      '--json',
    ]);
    expect(stale.code).toBe(6);
    expect(errorOf(stale)?.id).toBe('target_moved');
    expect(
      (
        await cli(p.target, [
          'publish',
          '--yes',
          '--expect-live',
          first.slice(0, 8),
          '--confirm-missing-secrets',
        ])
      ).code,
    ).toBe(0);
    const second = (await p.envOf(p.prod)).liveSnapshotId!;
    expect(second).not.toBe(first);

    const noYes = await cli(p.target, [
      'rollback',
      'production',
      '--to',
      first.slice(0, 10),
      '--json',
    ]);
    expect(noYes.code).toBe(2);
    expect((await p.envOf(p.prod)).liveSnapshotId).toBe(second);
    const back = await cli(p.target, [
      'rollback',
      'PRODUCTION',
      '--to',
      first.slice(0, 10),
      '--yes',
      '-m',
      'bad release',
      '--json',
    ]);
    expect(back.code).toBe(0);
    expect((await p.envOf(p.prod)).liveSnapshotId).toBe(first);
    const notHere = await cli(p.target, ['rollback', 'test', '--to', 'abcdef0123', '--json']);
    expect(notHere.code).toBe(5);

    // --at schedules the Publish (202) instead: nothing moves now.
    const at = new Date(Date.now() + 3_600_000).toISOString();
    const scheduled = await cli(p.target, ['publish', '--yes', '--at', at, '--json']);
    expect(scheduled.code, scheduled.stderr).toBe(0);
    expect(
      resultOf<{ scheduled: { state: string; snapshotId: string } }>(scheduled).scheduled,
    ).toMatchObject({
      state: 'pending',
      snapshotId: second,
    });
    expect((await p.envOf(p.prod)).liveSnapshotId).toBe(first);
    const badTime = await cli(p.target, ['publish', '--yes', '--at', 'tomorrowish', '--json']);
    expect(badTime.code).toBe(2);
  });
});

/**
 * A proxy in front of the server: `dropFirstWrite` forwards the first POST but destroys the
 * connection instead of answering (the move happened, the answer was lost); `fail500` answers
 * every request 500 itself. It records each write's Idempotency-Key.
 */
async function proxy(mode: 'dropFirstWrite' | 'fail500' | 'busyFirstWrite') {
  const keys: string[] = [];
  let dropped = false;
  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (mode === 'fail500') {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          error: { id: 'internal', message: 'Something went wrong on the server. Try again.' },
        }),
      );
      return;
    }
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const headers = { ...req.headers } as Record<string, string>;
    delete headers.host;
    delete headers.connection;
    if (req.method !== 'GET') keys.push(headers['idempotency-key'] ?? '');
    if (mode === 'busyFirstWrite' && req.method === 'POST' && !dropped) {
      // The database is busy: nothing ran; come back in a second.
      dropped = true;
      res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' });
      res.end(JSON.stringify({ error: { id: 'storage_unavailable', message: 'Busy.' } }));
      return;
    }
    const answer = await fetch(`${server.url}${req.url}`, {
      method: req.method,
      headers,
      body: req.method === 'GET' ? undefined : Buffer.concat(chunks),
    });
    const body = Buffer.from(await answer.arrayBuffer());
    if (mode === 'dropFirstWrite' && req.method === 'POST' && !dropped) {
      dropped = true;
      req.socket.destroy();
      return;
    }
    res.writeHead(answer.status, {
      'content-type': answer.headers.get('content-type') ?? 'application/json',
      ...(answer.headers.get('idempotent-replayed') ? { 'idempotent-replayed': 'true' } : {}),
    });
    res.end(body);
  };
  const s = http.createServer((req, res) => void handle(req, res));
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`,
    keys,
    close: () => new Promise((r) => s.close(r)),
  };
}

describe('CLI retries and idempotency', () => {
  it('CLI-11 an answer lost after the move: the CLI retries with the SAME Idempotency-Key and the server replays it; one move', async () => {
    const p = await fresh();
    const px = await proxy('dropFirstWrite');
    try {
      const r = await cli({ ...p.target, url: px.url }, ['sync', 'test', '--json']);
      expect(r.code).toBe(0);
      expect(r.stderr).toContain('retrying');
      expect(px.keys).toHaveLength(2);
      expect(px.keys[0]).toBeTruthy();
      expect(px.keys[1]).toBe(px.keys[0]);
      expect(r.json).toMatchObject({ ok: true, result: { unchanged: false } });
    } finally {
      await px.close();
    }
    const syncs = (await p.history(p.test)).history.filter((h) => h.kind === 'sync');
    expect(syncs).toHaveLength(1);
  });

  it('CLI-11 a 503 storage_unavailable with Retry-After: the CLI waits that long and retries with the same key; one move', async () => {
    const p = await fresh();
    const px = await proxy('busyFirstWrite');
    const started = Date.now();
    try {
      const r = await cli({ ...p.target, url: px.url }, ['sync', 'test', '--json']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain('storage_unavailable (503); retrying in 1.0 s');
      expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
      expect(px.keys).toHaveLength(2);
      expect(px.keys[1]).toBe(px.keys[0]);
    } finally {
      await px.close();
    }
    expect((await p.history(p.test)).history.filter((h) => h.kind === 'sync')).toHaveLength(1);
  });

  it('CLI-11 --idempotency-key: a re-run CI step replays the first answer and moves nothing twice', async () => {
    const p = await fresh();
    const run = () => cli(p.target, ['sync', 'test', '--idempotency-key', 'pipeline-42', '--json']);
    const first = await run();
    const second = await run();
    expect(first.code).toBe(0);
    expect(second.code).toBe(0);
    const seqOf = (r: typeof first) => resultOf<{ release: { seq: number } }>(r).release.seq;
    expect(seqOf(second)).toBe(seqOf(first));
    expect((await p.history(p.test)).history.filter((h) => h.kind === 'sync')).toHaveLength(1);
  });

  it('CLI-3 a server fault exits 1, an unreachable server 11 (after bounded retries)', async () => {
    const p = await fresh();
    const px = await proxy('fail500');
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const deadUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise((r) => closed.close(r));
    try {
      const [fault, dead] = await Promise.all([
        cli({ ...p.target, url: px.url }, ['status', '--json']),
        cli({ ...p.target, url: deadUrl }, ['status', '--json']),
      ]);
      expect(fault.code).toBe(1);
      expect(errorOf(fault)?.id).toBe('internal');
      expect(dead.code).toBe(11);
      expect(dead.json).toMatchObject({ ok: false, error: { id: 'network' }, exitCode: 11 });
    } finally {
      await px.close();
    }
  });
});
