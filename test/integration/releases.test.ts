import { afterEach, describe, expect, it } from 'vitest';
import { sampleContent } from '#schema/content/sample.ts';
import { canonicalContent } from '#schema/content/canonical.ts';
import type { WorkspaceContent } from '#schema/content/ydoc.ts';
import { inProcessInstance, type Env, type Instance } from '../helpers/fixture.ts';

let api: Instance;
afterEach(() => api?.close());

async function project(sample = true) {
  const p = await api.ok<{ id: string; environments: Env[] }>('POST', '/api/projects', {
    name: 'Support',
    sample,
  });
  return { id: p.id, envs: p.environments, dev: p.environments[0]!, prod: p.environments[4]! };
}
const envs = async (projectId: string) =>
  (await api.ok<{ environments: Env[] }>('GET', `/api/projects/${projectId}`)).environments;
const setDraft = (envId: string, content: WorkspaceContent) =>
  api.ok('PUT', `/api/environments/${envId}/content`, content);
const blobCount = async () =>
  (await api.services.stored.get<{ n: number }>('SELECT count(*) AS n FROM blobs'))!.n;

describe('content-addressed snapshots and Sync through every stage', () => {
  it('moves the same snapshot id DEV → TEST → UAT → STAGING → PRODUCTION, then Publish makes it live', async () => {
    api = await inProcessInstance();
    const p = await project();
    const first = await api.ok<{
      snapshotId: string;
      targetEnvironmentId: string;
      unchanged: boolean;
    }>('POST', `/api/environments/${p.dev.id}/sync`, { message: 'First release' });
    expect(first.snapshotId).toMatch(/^[0-9a-f]{64}$/);
    expect(first.targetEnvironmentId).toBe(p.envs[1]!.id);
    for (let i = 1; i < 4; i++) {
      const r = await api.ok<{ snapshotId: string }>(
        'POST',
        `/api/environments/${p.envs[i]!.id}/sync`,
        { confirmMissingSecrets: true },
      );
      expect(r.snapshotId).toBe(first.snapshotId);
    }
    const after = await envs(p.id);
    expect(after.slice(1).map((e) => e.snapshotId)).toEqual(Array(4).fill(first.snapshotId));
    expect(after[0]!.snapshotId).toBeNull();
    expect(after[4]!.liveSnapshotId).toBeNull();

    await api.ok('POST', `/api/environments/${p.prod.id}/publish`, { confirmMissingSecrets: true });
    expect((await envs(p.id))[4]!.liveSnapshotId).toBe(first.snapshotId);

    const snap = await api.ok<{
      id: string;
      message: string;
      kind: string;
      createdBy: string;
      content: WorkspaceContent;
    }>('GET', `/api/snapshots/${first.snapshotId}`);
    expect(snap).toMatchObject({ id: first.snapshotId, message: 'First release', kind: 'freeze' });
    expect(canonicalContent(snap.content)).toEqual(canonicalContent(sampleContent()));

    const history = await api.ok<{
      history: {
        kind: string;
        pointer: string;
        toSnapshotId: string;
        sourceEnvironmentId: string;
      }[];
    }>('GET', `/api/environments/${p.prod.id}/history`);
    expect(history.history.map((h) => [h.kind, h.pointer])).toEqual([
      ['publish', 'live'],
      ['sync', 'current'],
    ]);
    expect(history.history[1]!.sourceEnvironmentId).toBe(p.envs[3]!.id);
  });

  it('[R5] identical content gives the identical id, any change a new one, and unchanged items are not stored again', async () => {
    api = await inProcessInstance();
    const p = await project();
    const a = await api.ok<{ snapshotId: string }>(
      'POST',
      `/api/environments/${p.dev.id}/sync`,
      {},
    );
    const blobs = await blobCount();
    const again = await api.ok<{ snapshotId: string; unchanged: boolean; release: unknown }>(
      'POST',
      `/api/environments/${p.dev.id}/sync`,
      {},
    );
    expect(again).toMatchObject({ snapshotId: a.snapshotId, unchanged: true, release: null });

    // Same content in another project: same id.
    const other = await project();
    expect(
      (await api.ok<{ snapshotId: string }>('POST', `/api/environments/${other.dev.id}/sync`, {}))
        .snapshotId,
    ).toBe(a.snapshotId);

    const changed = sampleContent();
    changed.knowledge.kb_sizes!.title = 'Size chart';
    await setDraft(p.dev.id, changed);
    const b = await api.ok<{ snapshotId: string }>(
      'POST',
      `/api/environments/${p.dev.id}/sync`,
      {},
    );
    expect(b.snapshotId).not.toBe(a.snapshotId);
    expect(await blobCount()).toBe(blobs + 1);
  });

  it('[R5] a snapshot altered in the database is detected when read', async () => {
    api = await inProcessInstance();
    const p = await project();
    const { snapshotId } = await api.ok<{ snapshotId: string }>(
      'POST',
      `/api/environments/${p.dev.id}/sync`,
      {},
    );
    await api.services.stored.run("UPDATE blobs SET json = replace(json, 'Shipping', 'Sh1pping')");
    const { status, body } = await api.call<{ error: { id: string } }>(
      'GET',
      `/api/snapshots/${snapshotId}`,
    );
    expect(status).toBe(500);
    expect(body.error.id).toBe('snapshot_corrupt');
  });

  it('[R7] a draft with problems cannot leave DEV: 422 with the problems, and nothing moves', async () => {
    api = await inProcessInstance();
    const p = await project();
    const broken = sampleContent();
    broken.agents.agt_support!.instructions = 'Hello {{nobody}}';
    await setDraft(p.dev.id, broken);
    const { status, body } = await api.call<{
      error: { id: string; details: { itemId: string; field: string }[] };
    }>('POST', `/api/environments/${p.dev.id}/sync`, {});
    expect(status).toBe(422);
    expect(body.error.id).toBe('draft_has_problems');
    expect(body.error.details).toMatchObject([{ itemId: 'agt_support', field: 'instructions' }]);
    expect((await envs(p.id))[1]!.snapshotId).toBeNull();
    expect(await blobCount()).toBe(0);
  });

  it('only the current snapshot of stage n moves to n+1; the last stage has no Sync; empty stages have nothing to sync', async () => {
    api = await inProcessInstance();
    const p = await project();
    expect(
      (
        await api.call<{ error: { id: string } }>(
          'POST',
          `/api/environments/${p.envs[1]!.id}/sync`,
          {},
        )
      ).body.error.id,
    ).toBe('nothing_to_sync');
    expect(
      (await api.call<{ error: { id: string } }>('POST', `/api/environments/${p.prod.id}/sync`, {}))
        .body.error.id,
    ).toBe('no_next_environment');
    expect(
      (
        await api.call<{ error: { id: string } }>(
          'POST',
          `/api/environments/${p.prod.id}/publish`,
          { confirmMissingSecrets: true },
        )
      ).body.error.id,
    ).toBe('nothing_to_publish');
    expect(
      (
        await api.call<{ error: { id: string } }>(
          'POST',
          `/api/environments/${p.envs[1]!.id}/publish`,
          { confirmMissingSecrets: true },
        )
      ).body.error.id,
    ).toBe('not_production');
  });
});

describe('[R2] promotions are atomic and never lose one', () => {
  it('[R2] refuses a Sync whose expected target moved (compare-and-swap), changing nothing', async () => {
    api = await inProcessInstance();
    const p = await project();
    const a = await api.ok<{ snapshotId: string }>(
      'POST',
      `/api/environments/${p.dev.id}/sync`,
      {},
    );
    const changed = sampleContent();
    changed.variables.var_company!.defaultValue = 'Acme Corp';
    await setDraft(p.dev.id, changed);
    const { status, body } = await api.call<{ error: { id: string } }>(
      'POST',
      `/api/environments/${p.dev.id}/sync`,
      { expectedTargetSnapshotId: null },
    );
    expect(status).toBe(409);
    expect(body.error.id).toBe('target_moved');
    expect((await envs(p.id))[1]!.snapshotId).toBe(a.snapshotId);
    const ok = await api.ok<{ snapshotId: string }>('POST', `/api/environments/${p.dev.id}/sync`, {
      expectedTargetSnapshotId: a.snapshotId,
    });
    expect((await envs(p.id))[1]!.snapshotId).toBe(ok.snapshotId);
  });

  it('[R2] two concurrent Syncs both land, each with its record, chained in order', async () => {
    api = await inProcessInstance();
    const p = await project();
    await api.ok('POST', `/api/environments/${p.dev.id}/sync`, {});
    const c2 = sampleContent();
    c2.knowledge.kb_sizes!.title = 'Sizes v2';
    await setDraft(p.dev.id, c2);
    await api.ok('POST', `/api/environments/${p.dev.id}/sync`, {});
    // TEST → UAT and DEV → TEST at once: both are recorded, and UAT holds what TEST held when it synced.
    const [r1, r2] = await Promise.all([
      api.call<{ snapshotId: string }>('POST', `/api/environments/${p.envs[1]!.id}/sync`, {}),
      api.call<{ snapshotId: string }>('POST', `/api/environments/${p.dev.id}/sync`, {
        message: 'concurrent',
      }),
    ]);
    expect([r1.status, r2.status]).toEqual([200, 200]);
    const rows = await api.services.stored.all<{
      prev_hash: string;
      hash: string;
      environment_id: string;
    }>('SELECT seq, prev_hash, hash, environment_id FROM releases ORDER BY seq');
    expect(rows).toHaveLength(3);
    rows.forEach((r, i) => expect(r.prev_hash).toBe(i === 0 ? '0'.repeat(64) : rows[i - 1]!.hash));
    expect((await envs(p.id))[2]!.snapshotId).toBe(r1.body.snapshotId);
  });

  it('rolls an environment back to a snapshot from its own history only', async () => {
    api = await inProcessInstance();
    const p = await project();
    const a = await api.ok<{ snapshotId: string }>(
      'POST',
      `/api/environments/${p.dev.id}/sync`,
      {},
    );
    const c2 = sampleContent();
    c2.knowledge.kb_sizes!.title = 'Sizes v2';
    await setDraft(p.dev.id, c2);
    const b = await api.ok<{ snapshotId: string }>(
      'POST',
      `/api/environments/${p.dev.id}/sync`,
      {},
    );
    const test = p.envs[1]!.id;
    await api.ok('POST', `/api/environments/${test}/rollback`, {
      snapshotId: a.snapshotId,
      message: 'bad size chart',
    });
    expect((await envs(p.id))[1]!.snapshotId).toBe(a.snapshotId);
    const uat = p.envs[2]!.id;
    expect(
      (
        await api.call<{ error: { id: string } }>('POST', `/api/environments/${uat}/rollback`, {
          snapshotId: b.snapshotId,
        })
      ).body.error.id,
    ).toBe('not_in_history');
    expect(
      (await api.call('POST', `/api/environments/${test}/rollback`, { snapshotId: 'nope' })).status,
    ).toBe(400);
    const h = await api.ok<{
      history: { kind: string; toSnapshotId: string; fromSnapshotId: string }[];
    }>('GET', `/api/environments/${test}/history`);
    expect(h.history[0]).toMatchObject({
      kind: 'rollback',
      toSnapshotId: a.snapshotId,
      fromSnapshotId: b.snapshotId,
    });
  });
});

describe('[R1] every environment after the first is read-only for content', () => {
  it('[R1] refuses content writes to later stages and has no draft for them', async () => {
    api = await inProcessInstance();
    const p = await project();
    for (const env of p.envs.slice(1)) {
      expect(env.draftId).toBeUndefined();
      const { status, body } = await api.call<{ error: { id: string } }>(
        'PUT',
        `/api/environments/${env.id}/content`,
        sampleContent(),
      );
      expect(status).toBe(409);
      expect(body.error.id).toBe('read_only_environment');
    }
  });
});

describe('diffs', () => {
  it('diffs DEV draft, environments and snapshots at item and field level with a line diff', async () => {
    api = await inProcessInstance();
    const p = await project();
    const { snapshotId } = await api.ok<{ snapshotId: string }>(
      'POST',
      `/api/environments/${p.dev.id}/sync`,
      {},
    );
    const next = sampleContent();
    next.agents.agt_support!.instructions = `${next.agents.agt_support!.instructions as string}\nAlways end with a smile.`;
    next.agents.agt_support!.tone = 'formal';
    delete next.knowledge.kb_sizes;
    next.variables.var_new = {
      name: 'coupon',
      type: 'string',
      description: '',
      defaultValue: 'SPRING',
    };
    await setDraft(p.dev.id, next);
    type Diff = {
      diff: {
        counts: Record<string, number>;
        total: number;
        sections: Record<
          string,
          {
            id: string;
            kind: string;
            fields: {
              field: string;
              kind: string;
              before: unknown;
              after: unknown;
              lines?: { op: string; text: string }[];
            }[];
          }[]
        >;
      };
    };
    const d = await api.ok<Diff>('GET', `/api/diff?from=env:${p.envs[1]!.id}&to=env:${p.dev.id}`);
    expect(d.diff.counts).toEqual({
      agents: 1,
      workflows: 0,
      knowledge: 1,
      integrations: 0,
      channels: 0,
      variables: 1,
    });
    const agent = d.diff.sections.agents![0]!;
    expect(agent.kind).toBe('changed');
    expect(agent.fields.map((f) => f.field).sort()).toEqual(['instructions', 'tone']);
    expect(agent.fields.find((f) => f.field === 'tone')).toMatchObject({
      kind: 'value',
      before: 'friendly',
      after: 'formal',
    });
    expect(
      agent.fields.find((f) => f.field === 'instructions')!.lines!.filter((l) => l.op !== 'same'),
    ).toEqual([{ op: 'add', text: 'Always end with a smile.' }]);
    expect(d.diff.sections.knowledge![0]).toMatchObject({ id: 'kb_sizes', kind: 'removed' });
    expect(d.diff.sections.variables![0]).toMatchObject({ id: 'var_new', kind: 'added' });
    const same = await api.ok<Diff>(
      'GET',
      `/api/diff?from=snapshot:${snapshotId}&to=env:${p.envs[1]!.id}`,
    );
    expect(same.diff.total).toBe(0);
    expect((await api.call('GET', `/api/diff?from=env:${p.dev.id}`)).status).toBe(400);
  });

  it('the board shows each stage, what the next Sync moves, and the DEV problems count', async () => {
    api = await inProcessInstance();
    const p = await project();
    type Board = {
      pending: { total: number; counts: Record<string, number> }[];
      stages: {
        problems?: number;
        current: { snapshot: { id: string } | null; lastMove: { kind: string } | null } | null;
      }[];
    };
    let board = await api.ok<Board>('GET', `/api/projects/${p.id}/board`);
    expect(board.pending[0]!.total).toBe(17);
    expect(board.pending[0]!.counts.agents).toBe(2);
    expect(board.pending.slice(1).every((x) => x.total === 0)).toBe(true);
    expect(board.stages[0]!.problems).toBe(0);
    await api.ok('POST', `/api/environments/${p.dev.id}/sync`, { message: 'go' });
    board = await api.ok<Board>('GET', `/api/projects/${p.id}/board`);
    expect(board.pending[0]!.total).toBe(0);
    expect(board.pending[1]!.total).toBe(17);
    expect(board.stages[1]!.current!.lastMove!.kind).toBe('sync');
  });
});
