import { afterEach, describe, expect, it } from 'vitest';
import { inProcessInstance, type Env, type Instance } from '../helpers/fixture.ts';

/** Audiences are environment-local; content refers to them by name (R3: promotions never touch them). */
let api: Instance;
afterEach(() => api?.close());

type Audience = { id: string; name: string; description: string; rules: unknown[] };
const list = async (envId: string) =>
  (await api.ok<{ audiences: Audience[] }>('GET', `/api/environments/${envId}/audiences`))
    .audiences;

async function project(sample: boolean) {
  const p = await api.ok<{ id: string; environments: Env[] }>('POST', '/api/projects', {
    name: 'Support',
    sample,
  });
  return {
    id: p.id,
    envs: p.environments,
    dev: p.environments[0]!,
    test: p.environments[1]!,
    prod: p.environments[4]!,
  };
}

describe('audiences per environment', () => {
  it('are created, renamed and deleted per environment; names are unique there (any case); bad bodies change nothing', async () => {
    api = await inProcessInstance();
    const p = await project(false);
    const staff = await api.ok<Audience>('POST', `/api/environments/${p.test.id}/audiences`, {
      name: 'Staff',
      description: 'Employees',
      rules: [{ attribute: 'department', operator: 'is', values: ['Sales', 'Support'] }],
    });
    expect(staff.id).toMatch(/^aud_/);
    const { status, body } = await api.call<{ error: { id: string } }>(
      'POST',
      `/api/environments/${p.test.id}/audiences`,
      { name: ' staff ' },
    );
    expect([status, body.error.id]).toEqual([409, 'audience_exists']);
    expect(
      (
        await api.call('POST', `/api/environments/${p.test.id}/audiences`, {
          name: 'X',
          rules: [{ attribute: 'shoe_size', operator: 'is', values: ['9'] }],
        })
      ).status,
    ).toBe(400);
    expect(
      (await api.call('POST', `/api/environments/${p.test.id}/audiences`, { name: '' })).status,
    ).toBe(400);
    expect(await list(p.test.id)).toEqual([
      expect.objectContaining({ name: 'Staff', description: 'Employees' }),
    ]);

    const renamed = await api.ok<Audience>(
      'PUT',
      `/api/environments/${p.test.id}/audiences/${staff.id}`,
      { name: 'Employees' },
    );
    expect(renamed).toMatchObject({ id: staff.id, name: 'Employees', rules: [] });
    // The same name elsewhere is another audience, with its own id.
    const other = await api.ok<Audience>('POST', `/api/environments/${p.prod.id}/audiences`, {
      name: 'Employees',
    });
    expect(other.id).not.toBe(staff.id);
    expect(
      (await api.call('DELETE', `/api/environments/${p.test.id}/audiences/${staff.id}`)).status,
    ).toBe(204);
    expect(
      (await api.call('DELETE', `/api/environments/${p.test.id}/audiences/${staff.id}`)).status,
    ).toBe(404);
    expect(await list(p.test.id)).toEqual([]);
    expect(await list(p.prod.id)).toHaveLength(1);
  });

  it('[R3] a Sync into an environment missing a referred audience is refused with its name, and nothing moves', async () => {
    api = await inProcessInstance();
    const p = await project(true);
    // The sample refers to “customers”; a sample project has it everywhere. Take it away from TEST.
    const [customers] = await list(p.test.id);
    await api.ok('DELETE', `/api/environments/${p.test.id}/audiences/${customers!.id}`);
    const { status, body } = await api.call<{
      error: { id: string; message: string; details: { environmentId: string; missing: string[] } };
    }>('POST', `/api/environments/${p.dev.id}/sync`, {});
    expect(status).toBe(409);
    expect(body.error.id).toBe('audience_missing');
    expect(body.error.details).toEqual({ environmentId: p.test.id, missing: ['customers'] });
    expect(body.error.message).toContain('“customers”');
    const envs = (await api.ok<{ environments: Env[] }>('GET', `/api/projects/${p.id}`))
      .environments;
    expect(envs[1]!.snapshotId).toBeNull();
    expect(await api.ok('GET', `/api/environments/${p.test.id}/history`)).toMatchObject({
      history: [],
    });

    // Names match in any case: creating “Customers” there lets the same Sync through.
    await api.ok('POST', `/api/environments/${p.test.id}/audiences`, { name: 'Customers' });
    const synced = await api.ok<{ snapshotId: string }>(
      'POST',
      `/api/environments/${p.dev.id}/sync`,
      {},
    );
    expect(synced.snapshotId).toMatch(/^[0-9a-f]{64}$/);
  });

  it('the delivery API resolves names to that environment’s ids', async () => {
    api = await inProcessInstance();
    const p = await project(true);
    for (const e of p.envs.slice(0, 4))
      await api.ok('POST', `/api/environments/${e.id}/sync`, { confirmMissingSecrets: true });
    await api.ok('POST', `/api/environments/${p.prod.id}/publish`, { confirmMissingSecrets: true });
    const { key } = await api.ok<{ key: string }>(
      'POST',
      `/api/environments/${p.prod.id}/runtime-keys`,
      { name: 'runtime' },
    );
    const read = async () =>
      (await (
        await api.raw(`/api/delivery/${p.prod.id}`, { headers: { authorization: `Bearer ${key}` } })
      ).json()) as {
        audiences: Record<string, { id: string }>;
        content: { knowledge: Record<string, { audiences: string[] }> };
      };
    const [prodCustomers] = await list(p.prod.id);
    const [testCustomers] = await list(p.test.id);
    expect(prodCustomers!.id).not.toBe(testCustomers!.id);
    const first = await read();
    expect(first.audiences.customers!.id).toBe(prodCustomers!.id);
    expect(
      Object.values(first.content.knowledge).some((a) => a.audiences.includes('customers')),
    ).toBe(true);
    // A change to the audiences is a change of the answer (new ETag, new body).
    await api.ok('POST', `/api/environments/${p.prod.id}/audiences`, { name: 'VIP' });
    expect(Object.keys((await read()).audiences).sort()).toEqual(['VIP', 'customers']);
  });
});
