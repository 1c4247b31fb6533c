import { afterEach, describe, expect, it } from 'vitest';
import type { BoardView, ProjectView } from '#schema/api.ts';
import {
  inProcessInstance,
  newUser,
  type Client,
  type Env,
  type Instance,
} from '../helpers/fixture.ts';

/**
 * REV-30, REV-31: each stage's health on the board: the `down` sections replicated into it (from
 * where, when, open conflicts) and production's open hotfix (who, since when), to readers of that
 * stage only.
 */
let api: Instance;
afterEach(() => api?.close());

const article = (title: string, body: string) => ({ title, body, tags: [], audiences: [] });

/** A three-stage project (knowledge flows down Production → UAT → Staging) with no sample. */
async function threeStage() {
  // Replication runs only when the test asks (replicateNow): no timer races the assertions.
  api = await inProcessInstance({ REPLICATION_DELAY_MS: '60000' });
  const p = await api.ok<ProjectView & { environments: Env[] }>('POST', '/api/projects', {
    name: 'Health',
    preset: 'three-stage',
    sample: false,
  });
  const [staging, uat, production] = [p.environments[0]!, p.environments[1]!, p.environments[2]!];
  const put = (envId: string, knowledge: Record<string, ReturnType<typeof article>>) =>
    api.ok('PUT', `/api/environments/${envId}/content`, { knowledge });
  const replicate = async () => await api.services.replication.replicateNow(p.id);
  const board = (as: Client = api) => as.ok<BoardView>('GET', `/api/projects/${p.id}/board`);
  const stage = (b: BoardView, env: Env) => b.stages.find((s) => s.environmentId === env.id)!;
  return { p, staging, uat, production, put, replicate, board, stage };
}

describe('REV-30 the board shows replication per stage', () => {
  it('REV-30 each receiving stage names its upstream, when a replication last changed it, and its open conflicts; the source and a stage never replicated into say so', async () => {
    const { staging, uat, production, put, replicate, board, stage } = await threeStage();
    let b = await board();
    // Nothing replicated yet: the chain is there, no time, no conflict; the source receives nothing.
    expect(stage(b, uat).replication).toEqual([
      {
        section: 'knowledge',
        sourceEnvironmentId: production.id,
        lastReplicatedAt: null,
        conflicts: 0,
      },
    ]);
    expect(stage(b, staging).replication).toEqual([
      { section: 'knowledge', sourceEnvironmentId: uat.id, lastReplicatedAt: null, conflicts: 0 },
    ]);
    expect(stage(b, production).replication).toEqual([]);

    const before = Date.now();
    await put(production.id, { kb_refunds: article('Refunds', 'Within 30 days.') });
    await replicate();
    b = await board();
    for (const env of [uat, staging]) {
      const [r] = stage(b, env).replication;
      expect(Date.parse(r!.lastReplicatedAt!)).toBeGreaterThanOrEqual(before - 1000);
      expect(r!.conflicts).toBe(0);
    }

    // UAT (which edits knowledge too) and Production both change the article: a conflict in UAT.
    await put(uat.id, { kb_refunds: article('Refunds', 'Within 30 days, UAT wording.') });
    await put(production.id, { kb_refunds: article('Refunds', 'Within 45 days.') });
    await replicate();
    b = await board();
    expect(stage(b, uat).replication[0]!.conflicts).toBe(1);
    expect(stage(b, staging).replication[0]!.conflicts).toBe(0);

    // Resolving it clears the count.
    await api.ok('POST', `/api/environments/${uat.id}/conflicts/resolve`, {
      section: 'knowledge',
      itemId: 'kb_refunds',
      take: 'upstream',
    });
    expect(stage(await board(), uat).replication[0]!.conflicts).toBe(0);
  });

  it('REV-30 a five-stage project (nothing flows down) has no replication on any stage', async () => {
    api = await inProcessInstance();
    const p = await api.ok<ProjectView>('POST', '/api/projects', { name: 'Five', sample: true });
    const b = await api.ok<BoardView>('GET', `/api/projects/${p.id}/board`);
    expect(b.stages.map((s) => s.replication)).toEqual([[], [], [], [], []]);
  });

  it('REV-30 a member who may not read a stage gets nothing of its replication (no source, time or conflicts)', async () => {
    const { p, staging, uat, production, put, replicate, board, stage } = await threeStage();
    await put(production.id, { kb_refunds: article('Refunds', 'Within 30 days.') });
    await replicate();
    await put(uat.id, { kb_refunds: article('Refunds', 'UAT wording.') });
    await put(production.id, { kb_refunds: article('Refunds', 'Within 45 days.') });
    await replicate();
    const viewer = await newUser(api, 'staging@example.com', 'Sam Staging');
    await api.ok('PUT', `/api/projects/${p.id}/members/${viewer.id}`, {
      roles: { [staging.id]: ['viewer'] },
    });
    const b = await board(viewer);
    expect(stage(b, uat)).toMatchObject({ readable: false, replication: [] });
    expect(stage(b, production)).toMatchObject({ readable: false, replication: [], hotfix: null });
    expect(stage(b, staging).replication).toMatchObject([
      { section: 'knowledge', sourceEnvironmentId: uat.id, conflicts: 0 },
    ]);
    expect(stage(b, staging).replication[0]!.lastReplicatedAt).not.toBeNull();
    // The admin, who reads UAT, sees its conflict.
    expect(stage(await board(), uat).replication[0]!.conflicts).toBe(1);
  });
});

describe('REV-31 the board shows who holds the open hotfix and since when', () => {
  it('REV-31 production readers see who started the open hotfix and when, with that person named; others see none; it clears when discarded', async () => {
    api = await inProcessInstance();
    const p = await api.ok<ProjectView & { environments: Env[] }>('POST', '/api/projects', {
      name: 'Hotfix',
      sample: true,
    });
    for (const e of p.environments.slice(0, 4))
      await api.ok('POST', `/api/environments/${e.id}/sync`, { confirmMissingSecrets: true });
    const prod = p.environments[4]!;
    await api.ok('POST', `/api/environments/${prod.id}/publish`, { confirmMissingSecrets: true });
    const board = (as: Instance | Awaited<ReturnType<typeof newUser>> = api) =>
      as.ok<BoardView>('GET', `/api/projects/${p.id}/board`);
    expect((await board()).stages[4]!.hotfix).toBeNull();

    const before = Date.now();
    await api.ok('POST', `/api/environments/${prod.id}/hotfix`);
    const me = await api.ok<{ user: { id: string; name: string } }>('GET', '/api/session');
    const b = await board();
    const hotfix = b.stages[4]!.hotfix!;
    expect(hotfix.startedBy).toBe(me.user.id);
    expect(Date.parse(hotfix.startedAt)).toBeGreaterThanOrEqual(before - 1000);
    expect(b.users[me.user.id]).toBe(me.user.name);
    expect(b.hotfixDraftId).not.toBeNull();
    // Only production carries the field.
    expect(b.stages.slice(0, 4).every((s) => !('hotfix' in s))).toBe(true);

    const dev = await newUser(api, 'dev@example.com', 'Dana Dev');
    await api.ok('PUT', `/api/projects/${p.id}/members/${dev.id}`, {
      roles: { [p.environments[0]!.id]: ['viewer', 'editor'] },
    });
    const theirs = await board(dev);
    expect(theirs.stages[4]!.hotfix).toBeNull();
    expect(theirs.hotfixDraftId).toBeNull();
    expect(Object.keys(theirs.users)).not.toContain(me.user.id);

    await api.ok('DELETE', `/api/environments/${prod.id}/hotfix`, { message: 'not needed' });
    expect((await board()).stages[4]!.hotfix).toBeNull();
  });
});

describe('REV-32 a gated stage says who may approve into it', () => {
  it('REV-32 readers of a gated stage see how many members may approve into it and the first few by name; an ungated stage and non-readers get nothing', async () => {
    api = await inProcessInstance();
    const p = await api.ok<ProjectView & { environments: Env[] }>('POST', '/api/projects', {
      name: 'Gates',
    });
    const [dev, test, uat] = [p.environments[0]!, p.environments[1]!, p.environments[2]!];
    await api.ok('PUT', `/api/environments/${uat.id}/gate`, { requiredApprovals: 2 });
    const owners = [];
    for (let i = 0; i < 7; i++) {
      const owner = await newUser(api, `owner${i}@example.com`, `Owner ${i}`);
      await api.ok('PUT', `/api/projects/${p.id}/members/${owner.id}`, {
        roles: { [uat.id]: ['viewer', 'approver'] },
      });
      owners.push(owner);
    }
    const viewer = await newUser(api, 'dev@example.com', 'Dana Dev');
    await api.ok('PUT', `/api/projects/${p.id}/members/${viewer.id}`, {
      roles: { [dev.id]: ['viewer'] },
    });
    const stageOf = (b: BoardView, env: Env) => b.stages.find((s) => s.environmentId === env.id)!;

    const b = await api.ok<BoardView>('GET', `/api/projects/${p.id}/board`);
    const gate = stageOf(b, uat).mayApprove!;
    // The seven owners, and the project's creator (every role everywhere) if the matrix lets them.
    expect(gate.count).toBeGreaterThanOrEqual(7);
    expect(gate.userIds).toHaveLength(5);
    // The first five by name, so the board names the same people from one read to the next.
    const names = gate.userIds.map((id) => b.users[id]!);
    expect(names.every(Boolean)).toBe(true);
    expect(names).toEqual([...names].sort((x, y) => x.localeCompare(y)));
    expect(names).toContain('Owner 0');
    expect(stageOf(b, test).mayApprove).toBeUndefined();

    const theirs = await viewer.ok<BoardView>('GET', `/api/projects/${p.id}/board`);
    expect(stageOf(theirs, uat).mayApprove).toBeUndefined();
    expect(Object.keys(theirs.users)).not.toContain(owners[0]!.id);
  });
});
