import { describe, expect, it } from 'vitest';
import { sampleContent } from '#schema/content/sample.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { setupAdmin, testServer } from '../helpers/server.ts';
import { overTheWire } from '../helpers/fixture.ts';

/** SEC-15: an audience that the live or current content of its environment names stays. */
const cleanup = cleanupAfterEach();

interface Use {
  pointer: 'current' | 'live';
  section: string;
  itemId: string;
  name: string;
  field: string;
}
type Refusal = {
  error: { id: string; message: string; details: { audience: string; uses: Use[] } };
};

describe('SEC-15 audiences in use stay', () => {
  it(
    'SEC-15 deleting (or renaming) an audience the current or live content names is refused with where it is used; once unused it goes',
    { timeout: 60_000 },
    async () => {
      const server = await testServer(cleanup);
      const admin = await setupAdmin(server.url);
      const api = overTheWire(server.url, admin.token);
      const { body: project } = await api.call<{ id: string; environments: { id: string }[] }>(
        'POST',
        '/api/projects',
        { name: 'Support', sample: true },
      );
      const envs = project.environments;
      const [dev, test, prod] = [envs[0]!.id, envs[1]!.id, envs[4]!.id];
      const customers = async (envId: string) =>
        (
          await api.call<{ audiences: { id: string; name: string }[] }>(
            'GET',
            `/api/environments/${envId}/audiences`,
          )
        ).body.audiences.find((a) => a.name === 'customers')!;

      // DEV's draft names “customers” in two agents and three articles.
      const devCustomers = await customers(dev);
      const { status, body } = await api.call<Refusal>(
        'DELETE',
        `/api/environments/${dev}/audiences/${devCustomers.id}`,
      );
      expect(status).toBe(409);
      expect(body.error.id).toBe('audience_in_use');
      expect(body.error.details.audience).toBe('customers');
      expect(body.error.details.uses).toContainEqual({
        pointer: 'current',
        section: 'agents',
        itemId: 'agt_support',
        name: 'Support agent',
        field: 'audiences',
      });
      expect(body.error.details.uses).toContainEqual({
        pointer: 'current',
        section: 'knowledge',
        itemId: 'kb_sizes',
        name: 'Size guide',
        field: 'audiences',
      });
      expect(body.error.details.uses).toHaveLength(5);
      expect(body.error.message).toContain('Support agent');
      expect(await customers(dev)).toEqual(devCustomers);
      // A rename would leave the same references dangling; a change of case does not.
      expect(
        (
          await api.call<Refusal>('PUT', `/api/environments/${dev}/audiences/${devCustomers.id}`, {
            name: 'clients',
          })
        ).body.error.id,
      ).toBe('audience_in_use');
      expect(
        (
          await api.call('PUT', `/api/environments/${dev}/audiences/${devCustomers.id}`, {
            name: 'Customers',
            description: 'Everyone who buys',
          })
        ).status,
      ).toBe(200);
      expect(
        (
          await api.call('PUT', `/api/environments/${dev}/audiences/${devCustomers.id}`, {
            name: 'customers',
          })
        ).status,
      ).toBe(200);

      // TEST holds nothing yet: its audience may go. After a Sync its current snapshot names it.
      const testCustomers = await customers(test);
      expect((await api.call('POST', `/api/environments/${dev}/sync`, {})).status).toBe(200);
      expect(
        (
          await api.call<Refusal>(
            'DELETE',
            `/api/environments/${test}/audiences/${testCustomers.id}`,
          )
        ).body.error.details.uses[0],
      ).toMatchObject({ pointer: 'current' });

      // Production: live names it, current no longer does.
      for (const e of envs.slice(1, 4))
        expect(
          (
            await api.call('POST', `/api/environments/${e.id}/sync`, {
              confirmMissingSecrets: true,
            })
          ).status,
        ).toBe(200);
      expect(
        (
          await api.call('POST', `/api/environments/${prod}/publish`, {
            confirmMissingSecrets: true,
          })
        ).status,
      ).toBe(200);
      const unnamed = sampleContent();
      for (const item of [...Object.values(unnamed.agents), ...Object.values(unnamed.knowledge)])
        item.audiences = [];
      expect((await api.call('PUT', `/api/environments/${dev}/content`, unnamed)).status).toBe(200);
      for (const e of envs.slice(0, 4))
        expect(
          (
            await api.call('POST', `/api/environments/${e.id}/sync`, {
              confirmMissingSecrets: true,
            })
          ).status,
        ).toBe(200);
      const prodCustomers = await customers(prod);
      const live = await api.call<Refusal>(
        'DELETE',
        `/api/environments/${prod}/audiences/${prodCustomers.id}`,
      );
      expect([live.status, live.body.error.id]).toEqual([409, 'audience_in_use']);
      expect(live.body.error.details.uses.every((u) => u.pointer === 'live')).toBe(true);
      expect(live.body.error.details.uses).toHaveLength(5);

      // DEV's draft no longer names it: now it may go.
      expect(
        (await api.call('DELETE', `/api/environments/${dev}/audiences/${devCustomers.id}`)).status,
      ).toBe(204);
      expect(await customers(dev)).toBeUndefined();
    },
  );
});
