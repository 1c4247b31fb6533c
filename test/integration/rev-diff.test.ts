import { describe, expect, it } from 'vitest';
import type { DiffResult } from '#schema/api.ts';
import type { WorkspaceContent } from '#schema/content/ydoc.ts';
import { adminOf, newProject } from '../helpers/fixture.ts';
import { testServer } from '../helpers/server.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';

const cleanup = cleanupAfterEach();

describe('REV-11 a diff carries the names of what its fields reference', () => {
  it('REV-11 names per side: a removed item by its before-side name, a new one by its after-side name, a dangling id absent; bounded by the diff', async () => {
    const server = await testServer(cleanup);
    const api = await adminOf(server.url);
    const project = await newProject(api, { preset: 'three-stage', sample: true });
    const [dev, test] = [project.environments[0]!, project.environments[1]!];
    expect((await api.call('POST', `/api/environments/${dev.id}/sync`, {})).status).toBe(200);

    const content = await api.ok<WorkspaceContent>('GET', `/api/environments/${dev.id}/content`);
    // The escalation agent is replaced by a new one; the support agent gains a dangling reference.
    const escalation = content.agents.agt_escalation!;
    delete content.agents.agt_escalation;
    content.agents.agt_night = { ...escalation, name: 'Night shift agent' };
    const steps = content.workflows.wf_order_status!.steps as Record<string, unknown>[];
    content.workflows.wf_order_status!.steps = steps.map((s) =>
      s.type === 'handoff' ? { ...s, agent: 'agt_night' } : s,
    );
    content.agents.agt_support!.integrations = ['int_order_status', 'int_gone'];
    expect((await api.call('PUT', `/api/environments/${dev.id}/content`, content)).status).toBe(
      200,
    );

    const diff = await api.ok<DiffResult>('GET', `/api/diff?from=env:${test.id}&to=env:${dev.id}`);
    expect(diff.from.environment).toBe(test.name);
    expect(diff.to.environment).toBe(dev.name);
    expect(diff.names.before.agents).toEqual({ agt_escalation: 'Escalation agent' });
    expect(diff.names.after.agents).toEqual({ agt_night: 'Night shift agent' });
    // The new agent's lists and the changed field's ids; the dangling id is named on neither side.
    expect(diff.names.after.integrations).toEqual({
      int_order_status: 'Order status API',
      int_create_ticket: 'Create support ticket',
    });
    expect(diff.names.after.workflows).toEqual({ wf_ticket: 'Open a ticket' });
    // The changed steps' references, each side's.
    expect(diff.names.before.variables).toMatchObject({ var_order_id: 'order_id' });
    expect(diff.names.after.variables).toMatchObject({ var_order_id: 'order_id' });
    // Only changed fields are looked up: the support agent's unchanged workflows are not.
    expect(diff.names.before.workflows ?? {}).toEqual({});

    // A diff limited to sections names only what those sections' fields reference.
    const only = await api.ok<DiffResult>(
      'GET',
      `/api/diff?from=env:${test.id}&to=env:${dev.id}&sections=channels`,
    );
    expect(only.diff.total).toBe(0);
    expect(only.names).toEqual({ before: {}, after: {} });
  });
});
