import { afterEach, describe, expect, it } from 'vitest';
import { sampleContent } from '#schema/content/sample.ts';
import { adminOf, newUser } from '../helpers/fixture.ts';
import { startTestServer } from '../helpers/server.ts';

type Server = Awaited<ReturnType<typeof startTestServer>>;
let server: Server;
afterEach(() => server?.close());

/** A sample project with a two-person gate on UAT: a promoter in TEST and two UAT approvers. */
async function gated(required = 1) {
  server = await startTestServer();
  const admin = await adminOf(server.url);
  const { body: p } = await admin.call<{ id: string; environments: { id: string }[] }>(
    'POST',
    '/api/projects',
    { name: 'Gated', sample: true },
  );
  const [dev, test, uat, staging] = p.environments.map((e) => e.id) as [
    string,
    string,
    string,
    string,
  ];
  const qa = await newUser(admin, 'qa@example.com', 'Quinn QA');
  const owner = await newUser(admin, 'owner@example.com', 'Olga Owner');
  const owner2 = await newUser(admin, 'owner2@example.com', 'Omar Owner');
  await admin.call('PUT', `/api/projects/${p.id}/members/${qa.id}`, {
    roles: { [test]: ['viewer', 'promoter', 'approver'], [uat]: ['viewer', 'approver'] },
  });
  await admin.call('PUT', `/api/projects/${p.id}/members/${owner.id}`, {
    roles: { [uat]: ['viewer', 'approver'] },
  });
  await admin.call('PUT', `/api/projects/${p.id}/members/${owner2.id}`, {
    roles: { [uat]: ['viewer', 'approver'] },
  });
  expect(
    (
      await admin.call('PUT', `/api/environments/${uat}/gate`, {
        requiredApprovals: required,
        allowSelfApproval: false,
      })
    ).status,
  ).toBe(200);
  expect((await admin.call('POST', `/api/environments/${dev}/sync`, {})).status).toBe(200);
  return { admin, projectId: p.id, dev, test, uat, staging, qa, owner, owner2 };
}
type Gated = Awaited<ReturnType<typeof gated>>;

describe('[R4] four eyes on a gated environment', () => {
  /** QA asks to Sync TEST → UAT: an open request for TEST's snapshot, not yet approved. */
  async function requested(g: Gated) {
    const { status: created, body: req } = await g.qa.call<{
      id: string;
      snapshotId: string;
      required: number;
      approved: boolean;
    }>('POST', `/api/environments/${g.test}/requests`, { message: 'Ready for UAT' });
    expect(created).toBe(201);
    expect(req).toMatchObject({ required: 1, approved: false });
    return req;
  }

  it('[GATE-1] a Sync into a gated environment is refused until a request for that snapshot is approved; then it moves exactly that snapshot and closes the request', async () => {
    const g = await gated();
    const { status: refused, body } = await g.qa.call<{ error: { id: string } }>(
      'POST',
      `/api/environments/${g.test}/sync`,
      {},
    );
    expect(refused).toBe(409);
    expect(body.error.id).toBe('approval_required');

    const req = await requested(g);
    expect((await g.qa.call('POST', `/api/environments/${g.test}/sync`, {})).status).toBe(409);

    const { status: ok, body: approved } = await g.owner.call<{ approved: boolean }>(
      'POST',
      `/api/requests/${req.id}/approve`,
      { comment: 'Looks right' },
    );
    expect(ok).toBe(200);
    expect(approved.approved).toBe(true);
    const { status: synced, body: result } = await g.qa.call<{ snapshotId: string }>(
      'POST',
      `/api/environments/${g.test}/sync`,
      {},
    );
    expect(synced).toBe(200);
    expect(result.snapshotId).toBe(req.snapshotId);

    // The release record names the request.
    const { body: history } = await g.admin.call<{ history: { detail: { requestId?: string } }[] }>(
      'GET',
      `/api/environments/${g.uat}/history`,
    );
    expect(history.history[0]!.detail.requestId).toBe(req.id);
    // The request is done: a second Sync of the same needs nothing (unchanged) and a new snapshot needs a new request.
    expect(
      (await g.admin.call<{ requests: unknown[] }>('GET', `/api/projects/${g.projectId}/requests`))
        .body.requests,
    ).toEqual([]);
  });

  it('[GATE-2] the requester cannot approve their own request (403 self_approval), and the Sync stays refused', async () => {
    const g = await gated();
    const req = await requested(g);
    const { status: self, body: selfBody } = await g.qa.call<{ error: { id: string } }>(
      'POST',
      `/api/requests/${req.id}/approve`,
      {},
    );
    expect(self).toBe(403);
    expect(selfBody.error.id).toBe('self_approval');
    expect((await g.qa.call('POST', `/api/environments/${g.test}/sync`, {})).status).toBe(409);
  });

  it('[GATE-4] the gate change, the request and its approval (with the comment) are events in the target environment’s history', async () => {
    const g = await gated();
    const req = await requested(g);
    await g.owner.ok('POST', `/api/requests/${req.id}/approve`, { comment: 'Looks right' });
    await g.qa.ok('POST', `/api/environments/${g.test}/sync`, {});

    const { body: history } = await g.admin.call<{
      events: { kind: string; subject: { comment?: string } }[];
    }>('GET', `/api/environments/${g.uat}/history`);
    expect(history.events.map((e) => e.kind)).toEqual([
      'request.approved',
      'request.created',
      'gate.changed',
    ]);
    expect(history.events[0]!.subject.comment).toBe('Looks right');
  });

  it('[GATE-3] moving the source voids the approval', async () => {
    const g = await gated();
    const { body: req } = await g.qa.call<{ id: string }>(
      'POST',
      `/api/environments/${g.test}/requests`,
      {},
    );
    expect((await g.owner.call('POST', `/api/requests/${req.id}/approve`, {})).status).toBe(200);
    // TEST moves on to a new snapshot before the Sync happens.
    const next = sampleContent();
    next.knowledge.kb_sizes!.title = 'Size chart';
    expect((await g.admin.call('PUT', `/api/environments/${g.dev}/content`, next)).status).toBe(
      200,
    );
    expect((await g.admin.call('POST', `/api/environments/${g.dev}/sync`, {})).status).toBe(200);
    const { status, body } = await g.qa.call<{ error: { id: string } }>(
      'POST',
      `/api/environments/${g.test}/sync`,
      {},
    );
    expect(status).toBe(409);
    expect(['approval_voided', 'approval_required']).toContain(body.error.id);
    const { status: late, body: lateBody } = await g.owner2.call<{ error: { id: string } }>(
      'POST',
      `/api/requests/${req.id}/approve`,
      {},
    );
    expect(late).toBe(409);
    expect(lateBody.error.id).toBe('request_closed');
  });

  it('[GATE-3] a request from DEV is for the draft as it was: editing the draft voids it', async () => {
    const g = await gated();
    expect(
      (
        await g.admin.call('PUT', `/api/environments/${g.test}/gate`, {
          requiredApprovals: 1,
          allowSelfApproval: false,
        })
      ).status,
    ).toBe(200);
    const { body: req } = await g.admin.call<{ id: string }>(
      'POST',
      `/api/environments/${g.dev}/requests`,
      {},
    );
    const next = sampleContent();
    next.variables.var_company!.defaultValue = 'Acme Two';
    expect((await g.admin.call('PUT', `/api/environments/${g.dev}/content`, next)).status).toBe(
      200,
    );
    const { status, body } = await g.qa.call<{ error: { id: string } }>(
      'POST',
      `/api/requests/${req.id}/approve`,
      {},
    );
    expect(status).toBe(409);
    expect(body.error.id).toBe('approval_voided');
  });

  it('[GATE-4] two approvals when the gate says two; a rejection closes the request with its comment', async () => {
    const g = await gated(2);
    const { body: req } = await g.qa.call<{ id: string }>(
      'POST',
      `/api/environments/${g.test}/requests`,
      {},
    );
    await g.owner.call('POST', `/api/requests/${req.id}/approve`, {});
    expect(
      (await g.qa.call<{ error: { id: string } }>('POST', `/api/environments/${g.test}/sync`, {}))
        .body.error.id,
    ).toBe('approval_required');
    const { body: r2 } = await g.qa.call<{ id: string }>(
      'POST',
      `/api/environments/${g.test}/requests`,
      {},
    );
    await g.owner.call('POST', `/api/requests/${r2.id}/approve`, {});
    const { status: rejected, body: rej } = await g.owner2.call<{ state: string }>(
      'POST',
      `/api/requests/${r2.id}/reject`,
      { comment: 'Wrong refund limit' },
    );
    expect(rejected).toBe(200);
    expect(rej.state).toBe('rejected');
    expect((await g.qa.call('POST', `/api/environments/${g.test}/sync`, {})).status).toBe(409);
    // Only approvers of the target may decide.
    const { body: r3 } = await g.qa.call<{ id: string }>(
      'POST',
      `/api/environments/${g.test}/requests`,
      {},
    );
    const stranger = await newUser(g.admin, 'dev@example.com');
    await g.admin.call('PUT', `/api/projects/${g.projectId}/members/${stranger.id}`, {
      roles: { [g.test]: ['viewer'] },
    });
    expect((await stranger.call('POST', `/api/requests/${r3.id}/approve`, {})).status).toBe(403);
  });
});
