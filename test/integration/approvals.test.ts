import { afterEach, describe, expect, it } from 'vitest';
import { sampleContent } from '#schema/content/sample.ts';
import { setupAdmin, startTestServer } from '../helpers/server.ts';
import { overTheWire } from '../helpers/fixture.ts';
import { userWithToken } from '../helpers/users.ts';

type Server = Awaited<ReturnType<typeof startTestServer>>;
let server: Server;
afterEach(() => server?.close());

/** A sample project with a two-person gate on UAT: a promoter in TEST and two UAT approvers. */
async function gated(required = 1) {
  server = await startTestServer();
  const admin = (await setupAdmin(server.url)).token;
  const { body: p } = await overTheWire(server.url, admin).call<{ id: string; environments: { id: string }[] }>('POST', '/api/projects', { name: 'Gated', sample: true });
  const [dev, test, uat, staging] = p.environments.map((e) => e.id) as [string, string, string, string];
  const qa = await userWithToken(server.url, admin, 'qa@example.com', 'Quinn QA');
  const owner = await userWithToken(server.url, admin, 'owner@example.com', 'Olga Owner');
  const owner2 = await userWithToken(server.url, admin, 'owner2@example.com', 'Omar Owner');
  await overTheWire(server.url, admin).call('PUT', `/api/projects/${p.id}/members/${qa.id}`, { roles: { [test]: ['viewer', 'promoter', 'approver'], [uat]: ['viewer', 'approver'] } });
  await overTheWire(server.url, admin).call('PUT', `/api/projects/${p.id}/members/${owner.id}`, { roles: { [uat]: ['viewer', 'approver'] } });
  await overTheWire(server.url, admin).call('PUT', `/api/projects/${p.id}/members/${owner2.id}`, { roles: { [uat]: ['viewer', 'approver'] } });
  expect((await overTheWire(server.url, admin).call('PUT', `/api/environments/${uat}/gate`, { requiredApprovals: required, allowSelfApproval: false })).status).toBe(200);
  expect((await overTheWire(server.url, admin).call('POST', `/api/environments/${dev}/sync`, {})).status).toBe(200);
  return { admin, projectId: p.id, dev, test, uat, staging, qa, owner, owner2 };
}

describe('[R4] four eyes on a gated environment', () => {
  it('[GATE-1] [GATE-2] [GATE-4] a Sync into a gated environment needs an approved request; the requester cannot approve it; a second person can', async () => {
    const g = await gated();
    const { status: refused, body } = await overTheWire(server.url, g.qa.token).call<{ error: { id: string } }>('POST', `/api/environments/${g.test}/sync`, {});
    expect(refused).toBe(409);
    expect(body.error.id).toBe('approval_required');

    const { status: created, body: req } = await overTheWire(server.url, g.qa.token).call<{ id: string; snapshotId: string; required: number; approved: boolean }>('POST', `/api/environments/${g.test}/requests`, { message: 'Ready for UAT' });
    expect(created).toBe(201);
    expect(req).toMatchObject({ required: 1, approved: false });
    const { status: self, body: selfBody } = await overTheWire(server.url, g.qa.token).call<{ error: { id: string } }>('POST', `/api/requests/${req.id}/approve`, {});
    expect(self).toBe(403);
    expect(selfBody.error.id).toBe('self_approval');
    expect((await overTheWire(server.url, g.qa.token).call('POST', `/api/environments/${g.test}/sync`, {})).status).toBe(409);

    const { status: ok, body: approved } = await overTheWire(server.url, g.owner.token).call<{ approved: boolean }>('POST', `/api/requests/${req.id}/approve`, { comment: 'Looks right' });
    expect(ok).toBe(200);
    expect(approved.approved).toBe(true);
    const { status: synced, body: result } = await overTheWire(server.url, g.qa.token).call<{ snapshotId: string }>('POST', `/api/environments/${g.test}/sync`, {});
    expect(synced).toBe(200);
    expect(result.snapshotId).toBe(req.snapshotId);

    // Recorded in the target environment's history.
    const { body: history } = await overTheWire(server.url, g.admin).call<{ events: { kind: string; subject: { comment?: string } }[]; history: { detail: { requestId?: string } }[] }>('GET', `/api/environments/${g.uat}/history`);
    expect(history.events.map((e) => e.kind)).toEqual(['request.approved', 'request.created', 'gate.changed']);
    expect(history.events[0]!.subject.comment).toBe('Looks right');
    expect(history.history[0]!.detail.requestId).toBe(req.id);
    // The request is done: a second Sync of the same needs nothing (unchanged) and a new snapshot needs a new request.
    expect((await overTheWire(server.url, g.admin).call<{ requests: unknown[] }>('GET', `/api/projects/${g.projectId}/requests`)).body.requests).toEqual([]);
  });

  it('[GATE-3] moving the source voids the approval', async () => {
    const g = await gated();
    const { body: req } = await overTheWire(server.url, g.qa.token).call<{ id: string }>('POST', `/api/environments/${g.test}/requests`, {});
    expect((await overTheWire(server.url, g.owner.token).call('POST', `/api/requests/${req.id}/approve`, {})).status).toBe(200);
    // TEST moves on to a new snapshot before the Sync happens.
    const next = sampleContent();
    next.knowledge.kb_sizes!.title = 'Size chart';
    expect((await overTheWire(server.url, g.admin).call('PUT', `/api/environments/${g.dev}/content`, next)).status).toBe(200);
    expect((await overTheWire(server.url, g.admin).call('POST', `/api/environments/${g.dev}/sync`, {})).status).toBe(200);
    const { status, body } = await overTheWire(server.url, g.qa.token).call<{ error: { id: string } }>('POST', `/api/environments/${g.test}/sync`, {});
    expect(status).toBe(409);
    expect(['approval_voided', 'approval_required']).toContain(body.error.id);
    const { status: late, body: lateBody } = await overTheWire(server.url, g.owner2.token).call<{ error: { id: string } }>('POST', `/api/requests/${req.id}/approve`, {});
    expect(late).toBe(409);
    expect(lateBody.error.id).toBe('request_closed');
  });

  it('[GATE-3] a request from DEV is for the draft as it was: editing the draft voids it', async () => {
    const g = await gated();
    expect((await overTheWire(server.url, g.admin).call('PUT', `/api/environments/${g.test}/gate`, { requiredApprovals: 1, allowSelfApproval: false })).status).toBe(200);
    const { body: req } = await overTheWire(server.url, g.admin).call<{ id: string }>('POST', `/api/environments/${g.dev}/requests`, {});
    const next = sampleContent();
    next.variables.var_company!.defaultValue = 'Acme Two';
    expect((await overTheWire(server.url, g.admin).call('PUT', `/api/environments/${g.dev}/content`, next)).status).toBe(200);
    const { status, body } = await overTheWire(server.url, g.qa.token).call<{ error: { id: string } }>('POST', `/api/requests/${req.id}/approve`, {});
    expect(status).toBe(409);
    expect(body.error.id).toBe('approval_voided');
  });

  it('[GATE-4] two approvals when the gate says two; a rejection closes the request with its comment', async () => {
    const g = await gated(2);
    const { body: req } = await overTheWire(server.url, g.qa.token).call<{ id: string }>('POST', `/api/environments/${g.test}/requests`, {});
    await overTheWire(server.url, g.owner.token).call('POST', `/api/requests/${req.id}/approve`, {});
    expect((await overTheWire(server.url, g.qa.token).call<{ error: { id: string } }>('POST', `/api/environments/${g.test}/sync`, {})).body.error.id).toBe('approval_required');
    const { body: r2 } = await overTheWire(server.url, g.qa.token).call<{ id: string }>('POST', `/api/environments/${g.test}/requests`, {});
    await overTheWire(server.url, g.owner.token).call('POST', `/api/requests/${r2.id}/approve`, {});
    const { status: rejected, body: rej } = await overTheWire(server.url, g.owner2.token).call<{ state: string }>('POST', `/api/requests/${r2.id}/reject`, { comment: 'Wrong refund limit' });
    expect(rejected).toBe(200);
    expect(rej.state).toBe('rejected');
    expect((await overTheWire(server.url, g.qa.token).call('POST', `/api/environments/${g.test}/sync`, {})).status).toBe(409);
    // Only approvers of the target may decide.
    const { body: r3 } = await overTheWire(server.url, g.qa.token).call<{ id: string }>('POST', `/api/environments/${g.test}/requests`, {});
    const stranger = await userWithToken(server.url, g.admin, 'dev@example.com');
    await overTheWire(server.url, g.admin).call('PUT', `/api/projects/${g.projectId}/members/${stranger.id}`, { roles: { [g.test]: ['viewer'] } });
    expect((await overTheWire(server.url, stranger.token).call('POST', `/api/requests/${r3.id}/approve`, {})).status).toBe(403);
  });
});
