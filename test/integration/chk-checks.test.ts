import { describe, expect, it } from 'vitest';
import { sampleContent } from '#schema/content/sample.ts';
import type { ChecksView, GateView, ProjectView } from '#schema/api.ts';
import { adminOf, newProject, newUser, type Client } from '../helpers/fixture.ts';
import { testServer } from '../helpers/server.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';

/** Issue 16, "Required checks": a gate names checks a CI job reports for the exact snapshot. */
const cleanup = cleanupAfterEach();

type Err = { error: { id: string; details?: { checks?: { name: string; state: string }[] } } };
type Evidence = {
  checks: { name: string; state: string; url: string | null; reportedAt: string }[];
  approvals: { userId: string; approvedAt: string }[];
};
type History = {
  history: { kind: string; toSnapshotId: string; detail: { evidence?: Evidence } }[];
};

const URL_OF = (name: string) => `https://ci.example.com/runs/${name}`;

/**
 * A five-stage sample project, DEV synced into TEST; a CI member (promoter of TEST, reader of UAT:
 * may Sync into UAT), a viewer of TEST and UAT, and an outsider.
 */
async function pipeline() {
  const server = await testServer(cleanup);
  const admin = await adminOf(server.url);
  const project = await newProject(admin, { sample: true });
  const [dev, test, uat, staging, prod] = project.environments.map((e) => e.id) as [
    string,
    string,
    string,
    string,
    string,
  ];
  const ci = await newUser(admin, 'ci@example.com', 'CI Robot');
  const viewer = await newUser(admin, 'viewer@example.com', 'Vera Viewer');
  const outsider = await newUser(admin, 'out@example.com', 'Otto Outsider');
  await admin.ok('PUT', `/api/projects/${project.id}/members/${ci.id}`, {
    roles: { [test]: ['viewer', 'promoter'], [uat]: ['viewer'] },
  });
  await admin.ok('PUT', `/api/projects/${project.id}/members/${viewer.id}`, {
    roles: { [test]: ['viewer'], [uat]: ['viewer'] },
  });
  await admin.ok('POST', `/api/environments/${dev}/sync`, {});
  const snapshotOf = async (envId: string) =>
    (await admin.ok<ProjectView>('GET', `/api/projects/${project.id}`)).environments.find(
      (e) => e.id === envId,
    )!.snapshotId!;
  const report = (who: Client, envId: string, body: Record<string, unknown>) =>
    who.call<Err & { name: string; state: string }>(
      'POST',
      `/api/environments/${envId}/checks`,
      body,
    );
  return {
    server,
    admin,
    project,
    dev,
    test,
    uat,
    staging,
    prod,
    ci,
    viewer,
    outsider,
    snapshotOf,
    report,
  };
}

describe('CHK required checks on a gate', () => {
  it('CHK-1 a gate stores its required checks (names checked, at most 10, distinct); GET shows them', async () => {
    const p = await pipeline();
    const put = (body: unknown) =>
      p.admin.call<GateView & Err>('PUT', `/api/environments/${p.uat}/gate`, body);
    expect(
      (await put({ requiredApprovals: 0, requiredChecks: ['evals', 'regression'] })).body,
    ).toEqual({
      requiredApprovals: 0,
      allowSelfApproval: false,
      requiredChecks: ['evals', 'regression'],
    });
    expect(await p.viewer.ok('GET', `/api/environments/${p.uat}/gate`)).toMatchObject({
      requiredChecks: ['evals', 'regression'],
    });
    for (const bad of [
      ['Evals'],
      ['-x'],
      ['a'.repeat(41)],
      ['evals', 'evals'],
      Array.from({ length: 11 }, (_, i) => `c${i}`),
    ]) {
      const { status, body } = await put({ requiredApprovals: 0, requiredChecks: bad });
      expect(status, JSON.stringify(bad)).toBe(400);
      expect(body.error.id).toBe('invalid_body');
    }
    // Without requiredChecks, a gate requires none (older clients keep working).
    expect((await put({ requiredApprovals: 1 })).body.requiredChecks).toEqual([]);
  });

  it('CHK-3 a Sync needs every required check success for the exact snapshot: pending, then failure, then success; another snapshot’s checks do not count', async () => {
    const p = await pipeline();
    await p.admin.ok('PUT', `/api/environments/${p.uat}/gate`, {
      requiredApprovals: 0,
      requiredChecks: ['evals', 'regression'],
    });
    const s1 = await p.snapshotOf(p.test);
    const sync = () =>
      p.ci.call<Err & { snapshotId: string }>('POST', `/api/environments/${p.test}/sync`, {});

    let refused = await sync();
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({
      id: 'checks_pending',
      details: {
        checks: [
          { name: 'evals', state: 'missing' },
          { name: 'regression', state: 'missing' },
        ],
      },
    });
    // The CI member's token reports on the gated environment (the target).
    const ok = await p.report(p.ci, p.uat, {
      snapshotId: s1,
      name: 'evals',
      state: 'success',
      url: URL_OF('evals'),
      summary: '98 of 100 passed',
    });
    expect(ok.status).toBe(201);
    expect(ok.body).toMatchObject({ name: 'evals', state: 'success' });
    await p.report(p.ci, p.uat, { snapshotId: s1, name: 'regression', state: 'pending' });
    refused = await sync();
    expect(refused.body.error).toMatchObject({
      id: 'checks_pending',
      details: {
        checks: [
          { name: 'evals', state: 'success' },
          { name: 'regression', state: 'pending' },
        ],
      },
    });
    await p.report(p.ci, p.uat, { snapshotId: s1, name: 'regression', state: 'failure' });
    refused = await sync();
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({
      id: 'checks_failed',
      details: {
        checks: [
          { name: 'evals', state: 'success' },
          { name: 'regression', state: 'failure' },
        ],
      },
    });
    // Nothing moved.
    expect(await p.snapshotOf(p.uat)).toBeNull();

    // The latest report per name wins; the list is per snapshot.
    await p.report(p.ci, p.uat, {
      snapshotId: s1,
      name: 'regression',
      state: 'success',
      url: URL_OF('regression'),
    });
    const listed = await p.viewer.ok<ChecksView>(
      'GET',
      `/api/environments/${p.uat}/checks?snapshotId=${s1}`,
    );
    expect(listed.required).toEqual(['evals', 'regression']);
    expect(listed.checks.map((c) => [c.name, c.state])).toEqual([
      ['evals', 'success'],
      ['regression', 'success'],
    ]);
    expect(listed.checks[0]).toMatchObject({ summary: '98 of 100 passed', url: URL_OF('evals') });

    // TEST moves on to S2 before the Sync: S1's green checks do not count for it.
    const next = sampleContent();
    next.knowledge.kb_sizes!.title = 'Size chart';
    await p.admin.ok('PUT', `/api/environments/${p.dev}/content`, next);
    await p.admin.ok('POST', `/api/environments/${p.dev}/sync`, {});
    const s2 = await p.snapshotOf(p.test);
    expect(s2).not.toBe(s1);
    refused = await sync();
    expect(refused.body.error.id).toBe('checks_pending');
    expect(refused.body.error.details!.checks!.map((c) => c.state)).toEqual(['missing', 'missing']);

    for (const name of ['evals', 'regression'])
      expect(
        (await p.report(p.ci, p.uat, { snapshotId: s2, name, state: 'success', url: URL_OF(name) }))
          .status,
      ).toBe(201);
    const moved = await sync();
    expect(moved.status, JSON.stringify(moved.body)).toBe(200);
    expect(moved.body.snapshotId).toBe(s2);

    // CHK-6 the release record keeps the evidence: the checks as they allowed the move.
    const { history } = await p.viewer.ok<History>('GET', `/api/environments/${p.uat}/history`);
    expect(history[0]).toMatchObject({ kind: 'sync', toSnapshotId: s2 });
    const evidence = history[0]!.detail.evidence!;
    expect(evidence.checks.map((c) => [c.name, c.state, c.url])).toEqual([
      ['evals', 'success', URL_OF('evals')],
      ['regression', 'success', URL_OF('regression')],
    ]);
    expect(evidence.approvals).toEqual([]);
  });

  it('CHK-4 a Publish in a gated production needs the checks and the approvals, both; the record keeps both as evidence', async () => {
    const p = await pipeline();
    for (const [from] of [[p.test], [p.uat], [p.staging]] as const)
      await p.admin.ok('POST', `/api/environments/${from}/sync`, { confirmMissingSecrets: true });
    const approver = await newUser(p.admin, 'approver@example.com', 'Avery Approver');
    await p.admin.ok('PUT', `/api/projects/${p.project.id}/members/${approver.id}`, {
      roles: { [p.prod]: ['viewer', 'approver'] },
    });
    await p.admin.ok('PUT', `/api/environments/${p.prod}/gate`, {
      requiredApprovals: 1,
      requiredChecks: ['smoke'],
    });
    const candidate = await p.snapshotOf(p.prod);
    const publish = () =>
      p.admin.call<Err>('POST', `/api/environments/${p.prod}/publish`, {
        confirmMissingSecrets: true,
      });

    let refused = await publish();
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({
      id: 'checks_pending',
      details: { checks: [{ name: 'smoke', state: 'missing' }] },
    });
    await p.report(p.admin, p.prod, { snapshotId: candidate, name: 'smoke', state: 'failure' });
    expect((await publish()).body.error.id).toBe('checks_failed');
    await p.report(p.admin, p.prod, {
      snapshotId: candidate,
      name: 'smoke',
      state: 'success',
      url: URL_OF('smoke'),
    });
    // Checks green, approvals still needed: independent requirements.
    refused = await publish();
    expect(refused.body.error.id).toBe('approval_required');
    const req = await p.admin.ok<{ id: string }>(
      'POST',
      `/api/environments/${p.prod}/requests`,
      {},
    );
    await approver.ok('POST', `/api/requests/${req.id}/approve`, {});
    const published = await publish();
    expect(published.status, JSON.stringify(published.body)).toBe(200);

    const { history, users } = await p.admin.ok<History & { users: Record<string, string> }>(
      'GET',
      `/api/environments/${p.prod}/history`,
    );
    // The History tab names the approvers of the evidence.
    expect(users[approver.id]).toBe('Avery Approver');
    expect(history[0]!.kind).toBe('publish');
    const evidence = history[0]!.detail.evidence!;
    expect(evidence.checks).toEqual([
      expect.objectContaining({ name: 'smoke', state: 'success', url: URL_OF('smoke') }),
    ]);
    expect(evidence.approvals).toEqual([expect.objectContaining({ userId: approver.id })]);
    expect(Number.isNaN(Date.parse(evidence.approvals[0]!.approvedAt))).toBe(false);
  });

  it('CHK-5 who may report: a viewer is refused (403), an outsider is told nothing (404), nothing moves into the authoring stage; any reader lists', async () => {
    const p = await pipeline();
    const s1 = await p.snapshotOf(p.test);
    const body = { snapshotId: s1, name: 'evals', state: 'success' };
    const viewer = await p.report(p.viewer, p.uat, body);
    expect(viewer.status).toBe(403);
    expect(viewer.body.error.id).toBe('forbidden');
    const outsider = await p.report(p.outsider, p.uat, body);
    expect(outsider.status).toBe(404);
    expect(
      (await p.outsider.call('GET', `/api/environments/${p.uat}/checks?snapshotId=${s1}`)).status,
    ).toBe(404);
    // A member of another project, as admin of that one, still cannot report here.
    const other = await newProject(p.admin, { name: 'Other' });
    await p.admin.ok('PUT', `/api/projects/${other.id}/members/${p.outsider.id}`, {
      roles: { '*': ['viewer', 'promoter', 'publisher'] },
    });
    expect((await p.report(p.outsider, p.uat, body)).status).toBe(404);
    expect((await p.report(p.admin, p.dev, body)).status).toBe(403);
    expect((await p.report(p.ci, p.uat, body)).status).toBe(201);
    // CI may Sync into UAT only: not report on STAGING.
    expect((await p.report(p.ci, p.staging, body)).status).toBe(403);
    expect(
      (await p.viewer.call('GET', `/api/environments/${p.uat}/checks?snapshotId=${s1}`)).status,
    ).toBe(200);
  });

  it('CHK-7 bounds: snapshot of this project only, body fields, 50 names per snapshot, reports per minute', async () => {
    const p = await pipeline();
    const s1 = await p.snapshotOf(p.test);
    // Unknown, or another project's (the empty workspace is a snapshot of that project only).
    const other = await newProject(p.admin, { name: 'Other' });
    await p.admin.ok('POST', `/api/environments/${other.environments[0]!.id}/sync`, {});
    const foreign = (await p.admin.ok<ProjectView>('GET', `/api/projects/${other.id}`))
      .environments[1]!.snapshotId!;
    for (const snapshotId of ['0'.repeat(64), foreign]) {
      const r = await p.report(p.ci, p.uat, { snapshotId, name: 'evals', state: 'success' });
      expect(r.status).toBe(404);
      expect(r.body.error.id).toBe('snapshot_not_found');
    }
    expect(
      (await p.ci.call<Err>('GET', `/api/environments/${p.uat}/checks?snapshotId=${foreign}`)).body
        .error.id,
    ).toBe('snapshot_not_found');
    expect((await p.ci.call('GET', `/api/environments/${p.uat}/checks`)).status).toBe(400);
    // The authoring stage's candidate is not stored until the Sync, and still takes checks on TEST.
    const next = sampleContent();
    next.knowledge.kb_sizes!.title = 'Size chart';
    await p.admin.ok('PUT', `/api/environments/${p.dev}/content`, next);
    const board = await p.admin.ok<{
      pending: { fromEnvironmentId: string; fromSnapshotId: string }[];
    }>('GET', `/api/projects/${p.project.id}/board`);
    const candidate = board.pending.find((m) => m.fromEnvironmentId === p.dev)!.fromSnapshotId;
    expect(
      (await p.report(p.admin, p.test, { snapshotId: candidate, name: 'lint', state: 'success' }))
        .status,
    ).toBe(201);
    // …and they count for the Sync that freezes it.
    await p.admin.ok('PUT', `/api/environments/${p.test}/gate`, {
      requiredApprovals: 0,
      requiredChecks: ['lint'],
    });
    expect(candidate).not.toBe(s1);
    expect(
      await p.admin.ok<{ snapshotId: string; unchanged: boolean }>(
        'POST',
        `/api/environments/${p.dev}/sync`,
        {},
      ),
    ).toMatchObject({ snapshotId: candidate, unchanged: false });

    for (const bad of [
      { snapshotId: s1, name: 'evals', state: 'passed' },
      { snapshotId: s1, name: 'Evals', state: 'success' },
      { snapshotId: s1, name: 'evals', state: 'success', url: 'javascript:alert(1)' },
      {
        snapshotId: s1,
        name: 'evals',
        state: 'success',
        url: `https://x.example/${'a'.repeat(2000)}`,
      },
      { snapshotId: s1, name: 'evals', state: 'success', summary: 'a'.repeat(1001) },
      { snapshotId: 'abc', name: 'evals', state: 'success' },
      { snapshotId: s1, name: 'evals', state: 'success', extra: 1 },
    ]) {
      const r = await p.report(p.ci, p.uat, bad);
      expect(r.status, JSON.stringify(bad).slice(0, 80)).toBe(400);
    }

    for (let i = 0; i < 50; i++)
      expect(
        (await p.report(p.ci, p.uat, { snapshotId: s1, name: `c${i}`, state: 'pending' })).status,
      ).toBe(201);
    const full = await p.report(p.ci, p.uat, { snapshotId: s1, name: 'c50', state: 'pending' });
    expect(full.status).toBe(409);
    expect(full.body.error).toMatchObject({
      id: 'limit_reached',
      details: { limit: 'MAX_CHECKS_PER_SNAPSHOT', max: 50 },
    });
    // A name already there may be reported again, until the minute's reports run out.
    let last = 0;
    for (let i = 0; i < 80 && last !== 429; i++)
      last = (await p.report(p.ci, p.uat, { snapshotId: s1, name: 'c1', state: 'success' })).status;
    expect(last).toBe(429);
    const limited = await p.report(p.ci, p.uat, { snapshotId: s1, name: 'c2', state: 'success' });
    expect(limited.status).toBe(429);
    expect(limited.body.error.id).toBe('rate_limited');
  });
});
