import { afterEach, describe, expect, it } from 'vitest';
import { sampleContent } from '#schema/content/sample.ts';
import { setupAdmin, startTestServer } from '../helpers/server.ts';
import { as, userWithToken } from '../helpers/users.ts';

type Server = Awaited<ReturnType<typeof startTestServer>>;
let server: Server;
afterEach(() => server?.close());

/** A sample project with a two-person gate on UAT: a promoter in TEST and two UAT approvers. */
async function gated(required = 1) {
  server = await startTestServer();
  const admin = (await setupAdmin(server.url)).token;
  const [, p] = await as<{ id: string; environments: { id: string }[] }>(server.url, admin, 'POST', '/projects', { name: 'Gated', sample: true });
  const [dev, test, uat, staging] = p.environments.map((e) => e.id) as [string, string, string, string];
  const qa = await userWithToken(server.url, admin, 'qa@example.com', 'Quinn QA');
  const owner = await userWithToken(server.url, admin, 'owner@example.com', 'Olga Owner');
  const owner2 = await userWithToken(server.url, admin, 'owner2@example.com', 'Omar Owner');
  await as(server.url, admin, 'PUT', `/projects/${p.id}/members/${qa.id}`, { roles: { [test]: ['viewer', 'promoter', 'approver'], [uat]: ['viewer', 'approver'] } });
  await as(server.url, admin, 'PUT', `/projects/${p.id}/members/${owner.id}`, { roles: { [uat]: ['viewer', 'approver'] } });
  await as(server.url, admin, 'PUT', `/projects/${p.id}/members/${owner2.id}`, { roles: { [uat]: ['viewer', 'approver'] } });
  expect((await as(server.url, admin, 'PUT', `/environments/${uat}/gate`, { requiredApprovals: required, allowSelfApproval: false }))[0]).toBe(200);
  expect((await as(server.url, admin, 'POST', `/environments/${dev}/sync`, {}))[0]).toBe(200);
  return { admin, projectId: p.id, dev, test, uat, staging, qa, owner, owner2 };
}

describe('[R4] four eyes on a gated environment', () => {
  it('[GATE-1] [GATE-2] [GATE-4] a Sync into a gated environment needs an approved request; the requester cannot approve it; a second person can', async () => {
    const g = await gated();
    const [refused, body] = await as<{ error: { id: string } }>(server.url, g.qa.token, 'POST', `/environments/${g.test}/sync`, {});
    expect(refused).toBe(409);
    expect(body.error.id).toBe('approval_required');

    const [created, req] = await as<{ id: string; snapshotId: string; required: number; approved: boolean }>(server.url, g.qa.token, 'POST', `/environments/${g.test}/requests`, { message: 'Ready for UAT' });
    expect(created).toBe(201);
    expect(req).toMatchObject({ required: 1, approved: false });
    const [self, selfBody] = await as<{ error: { id: string } }>(server.url, g.qa.token, 'POST', `/requests/${req.id}/approve`, {});
    expect(self).toBe(403);
    expect(selfBody.error.id).toBe('self_approval');
    expect((await as(server.url, g.qa.token, 'POST', `/environments/${g.test}/sync`, {}))[0]).toBe(409);

    const [ok, approved] = await as<{ approved: boolean }>(server.url, g.owner.token, 'POST', `/requests/${req.id}/approve`, { comment: 'Looks right' });
    expect(ok).toBe(200);
    expect(approved.approved).toBe(true);
    const [synced, result] = await as<{ snapshotId: string }>(server.url, g.qa.token, 'POST', `/environments/${g.test}/sync`, {});
    expect(synced).toBe(200);
    expect(result.snapshotId).toBe(req.snapshotId);

    // Recorded in the target environment's history.
    const [, history] = await as<{ events: { kind: string; subject: { comment?: string } }[]; history: { detail: { requestId?: string } }[] }>(server.url, g.admin, 'GET', `/environments/${g.uat}/history`);
    expect(history.events.map((e) => e.kind)).toEqual(['request.approved', 'request.created', 'gate.changed']);
    expect(history.events[0]!.subject.comment).toBe('Looks right');
    expect(history.history[0]!.detail.requestId).toBe(req.id);
    // The request is done: a second Sync of the same needs nothing (unchanged) and a new snapshot needs a new request.
    expect((await as<{ requests: unknown[] }>(server.url, g.admin, 'GET', `/projects/${g.projectId}/requests`))[1].requests).toEqual([]);
  });

  it('[GATE-3] moving the source voids the approval', async () => {
    const g = await gated();
    const [, req] = await as<{ id: string }>(server.url, g.qa.token, 'POST', `/environments/${g.test}/requests`, {});
    expect((await as(server.url, g.owner.token, 'POST', `/requests/${req.id}/approve`, {}))[0]).toBe(200);
    // TEST moves on to a new snapshot before the Sync happens.
    const next = sampleContent();
    next.knowledge.kb_sizes!.title = 'Size chart';
    expect((await as(server.url, g.admin, 'PUT', `/environments/${g.dev}/content`, next))[0]).toBe(200);
    expect((await as(server.url, g.admin, 'POST', `/environments/${g.dev}/sync`, {}))[0]).toBe(200);
    const [status, body] = await as<{ error: { id: string } }>(server.url, g.qa.token, 'POST', `/environments/${g.test}/sync`, {});
    expect(status).toBe(409);
    expect(['approval_voided', 'approval_required']).toContain(body.error.id);
    const [late, lateBody] = await as<{ error: { id: string } }>(server.url, g.owner2.token, 'POST', `/requests/${req.id}/approve`, {});
    expect(late).toBe(409);
    expect(lateBody.error.id).toBe('request_closed');
  });

  it('[GATE-3] a request from DEV is for the draft as it was: editing the draft voids it', async () => {
    const g = await gated();
    expect((await as(server.url, g.admin, 'PUT', `/environments/${g.test}/gate`, { requiredApprovals: 1, allowSelfApproval: false }))[0]).toBe(200);
    const [, req] = await as<{ id: string }>(server.url, g.admin, 'POST', `/environments/${g.dev}/requests`, {});
    const next = sampleContent();
    next.variables.var_company!.defaultValue = 'Acme Two';
    expect((await as(server.url, g.admin, 'PUT', `/environments/${g.dev}/content`, next))[0]).toBe(200);
    const [status, body] = await as<{ error: { id: string } }>(server.url, g.qa.token, 'POST', `/requests/${req.id}/approve`, {});
    expect(status).toBe(409);
    expect(body.error.id).toBe('approval_voided');
  });

  it('[GATE-4] two approvals when the gate says two; a rejection closes the request with its comment', async () => {
    const g = await gated(2);
    const [, req] = await as<{ id: string }>(server.url, g.qa.token, 'POST', `/environments/${g.test}/requests`, {});
    await as(server.url, g.owner.token, 'POST', `/requests/${req.id}/approve`, {});
    expect((await as<{ error: { id: string } }>(server.url, g.qa.token, 'POST', `/environments/${g.test}/sync`, {}))[1].error.id).toBe('approval_required');
    const [, r2] = await as<{ id: string }>(server.url, g.qa.token, 'POST', `/environments/${g.test}/requests`, {});
    await as(server.url, g.owner.token, 'POST', `/requests/${r2.id}/approve`, {});
    const [rejected, rej] = await as<{ state: string }>(server.url, g.owner2.token, 'POST', `/requests/${r2.id}/reject`, { comment: 'Wrong refund limit' });
    expect(rejected).toBe(200);
    expect(rej.state).toBe('rejected');
    expect((await as(server.url, g.qa.token, 'POST', `/environments/${g.test}/sync`, {}))[0]).toBe(409);
    // Only approvers of the target may decide.
    const [, r3] = await as<{ id: string }>(server.url, g.qa.token, 'POST', `/environments/${g.test}/requests`, {});
    const stranger = await userWithToken(server.url, g.admin, 'dev@example.com');
    await as(server.url, g.admin, 'PUT', `/projects/${g.projectId}/members/${stranger.id}`, { roles: { [g.test]: ['viewer'] } });
    expect((await as(server.url, stranger.token, 'POST', `/requests/${r3.id}/approve`, {}))[0]).toBe(403);
  });
});
