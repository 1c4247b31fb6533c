import { afterEach, describe, expect, it } from 'vitest';
import { itemText, sectionMap } from '#schema/content/ydoc.ts';
import { setupAdmin, startTestServer } from '../helpers/server.ts';
import { newUser, overTheWire } from '../helpers/fixture.ts';

type Running = Awaited<ReturnType<typeof startTestServer>>;
interface Env {
  id: string;
  name: string;
  draftId?: string;
  snapshotId: string | null;
  liveSnapshotId?: string | null;
}
interface Board {
  stages: {
    environmentId: string;
    readable: boolean;
    current: { snapshot: { kind: string; message: string | null } | null } | null;
    live?: { snapshot: { kind: string } | null } | null;
    problems?: number;
  }[];
  pending: { counts: Record<string, number> | null; total: number | null }[];
  divergence: unknown[];
  sharedCredentials: { environmentId: string; name: string; productionName: string }[];
  requests: unknown[];
}

let server: Running | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** A five-stage project with the sample released to production, and a member per role set. */
async function project(roles: (envs: Env[]) => Record<string, Record<string, string[]>>) {
  server = await startTestServer();
  const url = server.url;
  const admin = (await setupAdmin(url)).token;
  const call = (token: string) => overTheWire(url, token);
  const { body: created } = await call(admin).call<{ id: string; environments: Env[] }>(
    'POST',
    '/api/projects',
    { name: 'Confidential', sample: true },
  );
  const envs = created.environments;
  const members: Record<string, string> = {};
  for (const [name, map] of Object.entries(roles(envs))) {
    const u = await newUser(overTheWire(url, admin), `${name}@example.com`, name);
    expect(
      (await call(admin).call('PUT', `/api/projects/${created.id}/members/${u.id}`, { roles: map }))
        .status,
    ).toBe(200);
    members[name] = u.token;
  }
  return { url, admin, call, projectId: created.id, envs, members };
}

const strip = (v: unknown) => JSON.stringify(v).replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/g, '<time>');

describe('SEC-9 SEC-10 confidentiality', () => {
  it('SEC-9 a DEV environment admin learns nothing about production secrets from guesses; production secrets managers still see the warning', async () => {
    const p = await project((envs) => ({
      devAdmin: { [envs[0]!.id]: ['viewer', 'environment_admin'] },
      prodSecrets: { [envs[4]!.id]: ['environment_admin'] },
    }));
    const [dev, prod] = [p.envs[0]!, p.envs[4]!];
    expect(
      (
        await p
          .call(p.admin)
          .call('PUT', `/api/environments/${prod.id}/secrets/ORDERS_PIN`, { value: '4821' })
      ).status,
    ).toBe(200);

    // Everything the DEV admin can read after setting a guess, as text (times masked).
    const answersTo = async (guess: string) => {
      const t = p.members.devAdmin!;
      const out = [
        strip(
          await p
            .call(t)
            .call('PUT', `/api/environments/${dev.id}/secrets/PIN_GUESS`, { value: guess }),
        ),
      ];
      for (const path of [
        `/projects/${p.projectId}/board`,
        `/projects/${p.projectId}`,
        `/environments/${dev.id}/secrets`,
        `/environments/${dev.id}/problems`,
        `/environments/${dev.id}/content`,
        `/environments/${dev.id}/history`,
        `/environments/${prod.id}/secrets`,
      ]) {
        out.push(strip(await p.call(t).call('GET', `/api${path}`)));
      }
      return out;
    };
    const miss = await answersTo('0000');
    const hit = await answersTo('4821');
    expect(hit).toEqual(miss);
    expect(hit.join('\n')).not.toContain('ORDERS_PIN');
    expect(
      (await p.call(p.members.devAdmin!).call<Board>('GET', `/api/projects/${p.projectId}/board`))
        .body.sharedCredentials,
    ).toEqual([]);

    // Production's secrets manager is told, by name.
    const { body: board } = await p
      .call(p.members.prodSecrets!)
      .call<Board>('GET', `/api/projects/${p.projectId}/board`);
    expect(board.sharedCredentials).toEqual([
      { environmentId: dev.id, name: 'PIN_GUESS', productionName: 'ORDERS_PIN' },
    ]);
    expect(strip(board)).not.toContain('4821');
  });

  it('SEC-10 snapshots, diff sides, content, history and the board answer each member only what their roles let them read; refusals look like unknown ids', async () => {
    const p = await project((envs) => ({
      devEditor: { [envs[0]!.id]: ['viewer', 'editor'] },
      devViewer: { [envs[0]!.id]: ['viewer'] },
      noRole: {},
      prodViewer: { [envs[4]!.id]: ['viewer'] },
    }));
    const [dev, , , staging, prod] = p.envs as [Env, Env, Env, Env, Env];
    for (const e of p.envs.slice(0, 4))
      expect(
        (
          await p.call(p.admin).call('POST', `/api/environments/${e.id}/sync`, {
            message: 'first release',
            confirmMissingSecrets: true,
          })
        ).status,
      ).toBe(200);
    expect(
      (
        await p
          .call(p.admin)
          .call('POST', `/api/environments/${prod.id}/publish`, { confirmMissingSecrets: true })
      ).status,
    ).toBe(200);
    // A hotfix made in production only.
    const { body: hotfix } = await p
      .call(p.admin)
      .call<{ draftId: string }>('POST', `/api/environments/${prod.id}/hotfix`);
    await server!.rooms.edit(hotfix.draftId, 'test', (doc) =>
      itemText(sectionMap(doc, 'channels').get('ch_widget'), 'greeting')!.insert(
        0,
        'URGENT: store closed today. ',
      ),
    );
    expect(
      (
        await p
          .call(p.admin)
          .call('POST', `/api/environments/${prod.id}/hotfix/publish`, { message: 'hotfix note' })
      ).status,
    ).toBe(200);

    const { body: now } = await p
      .call(p.admin)
      .call<{ environments: Env[] }>('GET', `/api/projects/${p.projectId}`);
    const released = now.environments[3]!.snapshotId!; // frozen from the DEV draft, held everywhere
    const hot = now.environments[4]!.liveSnapshotId!; // production only
    expect(released).not.toBe(hot);
    const ids = new Set([released, hot]);
    for (const e of now.environments)
      for (const h of (
        await p
          .call(p.admin)
          .call<{ history: { fromSnapshotId: string | null; toSnapshotId: string }[] }>(
            'GET',
            `/api/environments/${e.id}/history`,
          )
      ).body.history)
        for (const id of [h.fromSnapshotId, h.toSnapshotId]) if (id) ids.add(id);
    const unknown = 'f'.repeat(64);

    const probe = async (who: string, readable: (id: string) => boolean) => {
      const t = p.members[who]!;
      const { status: unknownStatus, body: unknownBody } = await p
        .call(t)
        .call('GET', `/api/snapshots/${unknown}?project=${p.projectId}`);
      expect([unknownStatus, unknownBody]).toEqual([
        404,
        { error: { id: 'snapshot_not_found', message: expect.any(String) } },
      ]);
      for (const id of ids) {
        const label = `${who} ${id === hot ? 'hotfix' : id.slice(0, 8)}`;
        for (const path of [
          `/snapshots/${id}?project=${p.projectId}`,
          `/snapshots/${id}`,
          `/diff?project=${p.projectId}&from=snapshot:${id}&to=snapshot:${released}`,
          `/diff?from=snapshot:${released}&to=snapshot:${id}`,
          `/diff?from=snapshot:${id}&to=env:${dev.id}`,
        ]) {
          const { status, body } = await p.call(t).call('GET', `/api${path}`);
          if (readable(id) && readable(released)) expect(status, `${label} ${path}`).toBe(200);
          else expect([status, body], `${label} ${path}`).toEqual([unknownStatus, unknownBody]);
        }
        const { status, body } = await p
          .call(t)
          .call('GET', `/api/environments/${dev.id}/content?snapshot=${id}`);
        if (who !== 'noRole')
          expect([status, status === 200 ? null : body], `${label} content`).toEqual(
            readable(id) ? [200, null] : [unknownStatus, unknownBody],
          );
        else expect(status).toBe(403);
      }
      // Sides naming an environment need its read role; none answers production's content.
      for (const path of [
        `/diff?from=live:${prod.id}&to=env:${dev.id}`,
        `/diff?from=env:${staging.id}&to=env:${prod.id}`,
        `/environments/${prod.id}/history`,
        `/environments/${prod.id}/content`,
      ]) {
        const { status, body } = await p.call(t).call('GET', `/api${path}`);
        expect(status, `${who} ${path}`).toBe(403);
        expect(JSON.stringify(body)).not.toContain('URGENT');
      }
      return (await p.call(t).call<Board>('GET', `/api/projects/${p.projectId}/board`)).body;
    };

    const devHeld = (id: string) => id === released;
    // A member with no role: names and colors only.
    const none = await probe('noRole', () => false);
    expect(
      none.stages.every(
        (s) =>
          !s.readable &&
          s.current === null &&
          (s.live ?? null) === null &&
          s.problems === undefined,
      ),
    ).toBe(true);
    expect(none.pending.every((x) => x.counts === null && x.total === null)).toBe(true);
    expect([none.divergence, none.requests, none.sharedCredentials]).toEqual([[], [], []]);
    expect(strip(none)).not.toMatch(/URGENT|hotfix note|first release/);

    // DEV-only members: DEV's stage and what DEV froze; production's hotfix only as divergence, and
    // only to editors (they port it).
    for (const who of ['devEditor', 'devViewer']) {
      const b = await probe(who, devHeld);
      expect(b.stages.map((s) => s.readable)).toEqual([true, false, false, false, false]);
      expect(b.stages[0]!.problems).toBe(0);
      expect(b.stages.slice(1).every((s) => s.current === null && (s.live ?? null) === null)).toBe(
        true,
      );
      expect(b.pending.every((x) => x.counts === null)).toBe(true);
      expect(strip(b)).not.toMatch(/hotfix note|first release/);
      expect(b.divergence.length, who).toBe(who === 'devEditor' ? 1 : 0);
      expect(
        (await p.call(p.members[who]!).call('GET', `/api/environments/${dev.id}/divergence`))
          .status,
      ).toBe(who === 'devEditor' ? 200 : 403);
    }

    // Production readers see the hotfix and its divergence.
    const pv = p.members.prodViewer!;
    expect((await p.call(pv).call('GET', `/api/snapshots/${hot}`)).status).toBe(200);
    const { body: b } = await p.call(pv).call<Board>('GET', `/api/projects/${p.projectId}/board`);
    expect(b.stages[4]!.live?.snapshot?.kind).toBe('hotfix');
    expect(b.divergence).toHaveLength(1);
    expect(b.stages[3]!.current).toBeNull();
  });

  it('SEC-10 approvers of a gated stage read the snapshot they are asked to approve before their stage holds it; others still get 404', async () => {
    const p = await project((envs) => ({
      testApprover: { [envs[1]!.id]: ['viewer', 'approver'] },
      uatViewer: { [envs[2]!.id]: ['viewer'] },
    }));
    const [dev, test] = p.envs as [Env, Env];
    expect(
      (
        await p
          .call(p.admin)
          .call('PUT', `/api/environments/${test.id}/gate`, { requiredApprovals: 1 })
      ).status,
    ).toBe(200);
    const { status, body: request } = await p
      .call(p.admin)
      .call<{ snapshotId: string }>('POST', `/api/environments/${dev.id}/requests`, {
        message: 'please look',
      });
    expect(status).toBe(201);
    const path = `/diff?from=env:${test.id}&to=snapshot:${request.snapshotId}`;
    expect((await p.call(p.members.testApprover!).call('GET', `/api${path}`)).status).toBe(200);
    expect(
      (await p.call(p.members.testApprover!).call('GET', `/api/projects/${p.projectId}/requests`))
        .body,
    ).toMatchObject({ requests: [{ snapshotId: request.snapshotId, message: 'please look' }] });
    expect(
      (await p.call(p.members.uatViewer!).call('GET', `/api/snapshots/${request.snapshotId}`))
        .status,
    ).toBe(404);
    expect(
      (await p.call(p.members.uatViewer!).call('GET', `/api/projects/${p.projectId}/requests`))
        .body,
    ).toEqual({ requests: [] });
  });
});
