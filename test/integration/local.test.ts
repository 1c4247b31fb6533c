import { afterEach, describe, expect, it } from 'vitest';
import { sampleContent } from '#schema/content/sample.ts';
import { inProcessInstance, type Env, type Instance } from '../helpers/fixture.ts';

let api: Instance;
afterEach(() => api?.close());

const SECRET = 'sk-live-TOP-SECRET-4242';

async function pipeline() {
  const p = await api.ok<{ id: string; environments: Env[] }>('POST', '/api/projects', {
    name: 'Local',
    sample: true,
  });
  const [dev, test, uat, staging, prod] = p.environments as [Env, Env, Env, Env, Env];
  const promote = async () => {
    for (const e of [dev, test, uat, staging])
      await api.ok('POST', `/api/environments/${e.id}/sync`, { confirmMissingSecrets: true });
  };
  return { id: p.id, dev, test, uat, staging, prod, promote };
}

describe('[R3] promotion never touches environment-local data of the target', () => {
  it('[R3] keeps overrides, secrets, settings and runtime keys of every stage through Sync and Publish', async () => {
    api = await inProcessInstance();
    const p = await pipeline();
    await p.promote();
    const targets = [p.test, p.uat, p.staging, p.prod];
    for (const [i, env] of targets.entries()) {
      await api.ok('PUT', `/api/environments/${env.id}/variables/company`, {
        value: `Acme ${env.name}`,
      });
      await api.ok('PUT', `/api/environments/${env.id}/secrets/ORDERS_API_TOKEN`, {
        value: `${SECRET}-${i}`,
      });
      await api.ok('PUT', `/api/environments/${env.id}/settings`, {
        guardrails: {
          blockedTopics: [`topic-${i}`],
          maxResponseChars: 500 + i,
          redactPii: true,
          escalateBelowConfidence: 0.5,
        },
        evaluators: [
          {
            name: `eval ${i}`,
            kind: 'keyword',
            criterion: 'refund',
            threshold: 0.8,
            enabled: true,
          },
        ],
      });
      await api.ok('POST', `/api/environments/${env.id}/runtime-keys`, { name: `runtime ${i}` });
    }
    const snapshot = async () =>
      Promise.all(
        targets.map(async (env) => ({
          variables: await api.ok(`GET`, `/api/environments/${env.id}/variables`),
          secrets: await api.ok(`GET`, `/api/environments/${env.id}/secrets`),
          settings: await api.ok(`GET`, `/api/environments/${env.id}/settings`),
          keys: await api.ok(`GET`, `/api/environments/${env.id}/runtime-keys`),
          sealed: await api.services.stored.all(
            'SELECT name, sealed FROM secrets WHERE environment_id = ? ORDER BY name',
            env.id,
          ),
        })),
      );
    const before = await snapshot();

    // A new release goes all the way through and live.
    const next = sampleContent();
    next.knowledge.kb_sizes!.title = 'Size chart';
    next.variables.var_company!.defaultValue = 'Acme Group';
    await api.ok('PUT', `/api/environments/${p.dev.id}/content`, next);
    await p.promote();
    await api.ok('POST', `/api/environments/${p.prod.id}/publish`, { confirmMissingSecrets: true });

    const after = await snapshot();
    // Only the variables' structure (the new default) may differ: the overrides themselves did not move.
    for (const [i, b] of before.entries()) {
      const a = after[i]!;
      expect(a.secrets).toEqual(b.secrets);
      expect(a.settings).toEqual(b.settings);
      expect(a.keys).toEqual(b.keys);
      expect(a.sealed).toEqual(b.sealed);
      const overrideOf = (x: typeof a) =>
        (
          x.variables as {
            variables: { name: string; override: unknown; effectiveValue: string }[];
          }
        ).variables.find((v) => v.name === 'company')!;
      expect(overrideOf(a).override).toEqual(overrideOf(b).override);
      expect(overrideOf(a).effectiveValue).toBe(`Acme ${targets[i]!.name}`);
    }
  });
});

describe('variable overrides', () => {
  it('validates against the variable type, needs an existing variable, and shows orphans', async () => {
    api = await inProcessInstance();
    const p = await pipeline();
    await p.promote();
    const bad = await api.call<{ error: { id: string } }>(
      'PUT',
      `/api/environments/${p.test.id}/variables/max_refund_eur`,
      { value: 'lots' },
    );
    expect(bad.status).toBe(400);
    expect(bad.body.error.id).toBe('invalid_value');
    expect(
      (await api.call('PUT', `/api/environments/${p.test.id}/variables/nope`, { value: 'x' }))
        .status,
    ).toBe(404);
    expect(
      (await api.call('PUT', `/api/environments/${p.test.id}/variables/company`, { value: 1 }))
        .status,
    ).toBe(400);
    const v = await api.ok<{ effectiveValue: string; override: { value: string } }>(
      'PUT',
      `/api/environments/${p.test.id}/variables/max_refund_eur`,
      { value: '75' },
    );
    expect(v.effectiveValue).toBe('75');

    // A later snapshot without the variable leaves the override orphaned, not lost.
    const next = sampleContent();
    next.agents.agt_support!.behavior = 'Never promise refunds.';
    delete next.variables.var_max_refund;
    await api.ok('PUT', `/api/environments/${p.dev.id}/content`, next);
    await api.ok('POST', `/api/environments/${p.dev.id}/sync`, {});
    const list = await api.ok<{
      variables: { name: string; orphaned: boolean; effectiveValue: string }[];
    }>('GET', `/api/environments/${p.test.id}/variables`);
    expect(list.variables.find((x) => x.name === 'max_refund_eur')).toMatchObject({
      orphaned: true,
      effectiveValue: '75',
    });
    expect(
      (await api.call('DELETE', `/api/environments/${p.test.id}/variables/max_refund_eur`)).status,
    ).toBe(204);
  });
});

describe('secrets', () => {
  it('are never returned, never in a snapshot, encrypted at rest, and missing ones are listed', async () => {
    api = await inProcessInstance();
    const p = await pipeline();
    await p.promote();
    await api.ok('POST', `/api/environments/${p.prod.id}/publish`, { confirmMissingSecrets: true });
    let list = await api.ok<{ missing: { name: string }[] }>(
      'GET',
      `/api/environments/${p.prod.id}/secrets`,
    );
    expect(list.missing.map((m) => m.name).sort()).toEqual([
      'HELPDESK_API_KEY',
      'ORDERS_API_TOKEN',
    ]);
    const saved = await api.ok('PUT', `/api/environments/${p.prod.id}/secrets/ORDERS_API_TOKEN`, {
      value: SECRET,
    });
    expect(JSON.stringify(saved)).not.toContain(SECRET);
    list = await api.ok('GET', `/api/environments/${p.prod.id}/secrets`);
    expect(list.missing.map((m) => m.name)).toEqual(['HELPDESK_API_KEY']);
    expect(
      (await api.call('PUT', `/api/environments/${p.prod.id}/secrets/lower_case`, { value: 'x' }))
        .status,
    ).toBe(400);
    expect(
      (await api.call('PUT', `/api/environments/${p.prod.id}/secrets/EMPTY`, { value: '' })).status,
    ).toBe(400);
    expect(await api.services.localData.revealSecret(p.prod.id, 'ORDERS_API_TOKEN')).toBe(SECRET);

    const key = (
      await api.ok<{ key: string }>('POST', `/api/environments/${p.prod.id}/runtime-keys`, {
        name: 'bot',
      })
    ).key;
    const responses = await Promise.all([
      ...[
        `/api/projects/${p.id}`,
        `/api/projects/${p.id}/board`,
        `/api/environments/${p.prod.id}/content`,
        `/api/environments/${p.prod.id}/history`,
        `/api/environments/${p.prod.id}/secrets`,
        `/api/environments/${p.prod.id}/variables`,
        `/api/diff?from=env:${p.dev.id}&to=live:${p.prod.id}`,
      ].map(async (path) => JSON.stringify((await api.call('GET', path)).body)),
      (async () =>
        (
          await api.raw(`/api/delivery/${p.prod.id}`, {
            headers: { authorization: `Bearer ${key}` },
          })
        ).text())(),
    ]);
    for (const body of responses) expect(body).not.toContain(SECRET);
    for (const table of ['blobs', 'snapshots', 'releases', 'draft_updates', 'draft_states']) {
      const rows = JSON.stringify(
        await api.services.stored.all(`SELECT * FROM ${table}`),
        (_k, v: unknown) => (Buffer.isBuffer(v) ? v.toString('latin1') : v),
      );
      expect(rows, table).not.toContain(SECRET);
    }
    const sealed = (await api.services.stored.get<{ sealed: Buffer }>(
      'SELECT sealed FROM secrets',
    ))!;
    expect(sealed.sealed.toString('latin1')).not.toContain(SECRET);
  });
});

describe('delivery API', () => {
  it('serves the live snapshot with effective variables, with ETag and 304, to runtime keys of that environment only', async () => {
    api = await inProcessInstance();
    const p = await pipeline();
    await p.promote();
    const key = (
      await api.ok<{ key: string }>('POST', `/api/environments/${p.prod.id}/runtime-keys`, {
        name: 'bot',
      })
    ).key;
    const otherKey = (
      await api.ok<{ key: string }>('POST', `/api/environments/${p.staging.id}/runtime-keys`, {
        name: 'bot',
      })
    ).key;
    const get = (env: string, k: string, etag?: string) =>
      api.raw(`/api/delivery/${env}`, {
        headers: { authorization: `Bearer ${k}`, ...(etag ? { 'if-none-match': etag } : {}) },
      });

    expect((await get(p.prod.id, key)).status).toBe(409); // nothing live yet
    await api.ok('POST', `/api/environments/${p.prod.id}/publish`, { confirmMissingSecrets: true });
    const first = await get(p.prod.id, key);
    expect(first.status).toBe(200);
    const etag = first.headers.get('etag')!;
    const body = (await first.json()) as {
      snapshotId: string;
      variables: Record<string, { value: unknown }>;
      content: { agents: object };
    };
    expect(etag).toBe(`"${body.snapshotId}.0"`);
    expect(body.variables.max_refund_eur!.value).toBe(50);
    expect(Object.keys(body.content.agents)).toHaveLength(2);

    expect((await get(p.prod.id, key, etag)).status).toBe(304);
    await api.ok('PUT', `/api/environments/${p.prod.id}/variables/max_refund_eur`, { value: '80' });
    const changed = await get(p.prod.id, key, etag);
    expect(changed.status).toBe(200);
    expect(((await changed.json()) as typeof body).variables.max_refund_eur!.value).toBe(80);

    expect((await get(p.prod.id, otherKey)).status).toBe(401);
    expect((await get(p.prod.id, 'scr_forged')).status).toBe(401);
    expect((await api.raw(`/api/delivery/${p.prod.id}`)).status).toBe(401);
    // Staging serves its current snapshot.
    expect((await get(p.staging.id, otherKey)).status).toBe(200);
  });
});
