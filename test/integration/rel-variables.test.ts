import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ProjectView } from '#schema/api.ts';
import type { WorkspaceContent } from '#schema/content/ydoc.ts';
import { setupAdmin, startTestServer } from '../helpers/server.ts';
import { overTheWire } from '../helpers/fixture.ts';

/** REL-5: an override that no longer fits its variable's type. */
const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
  vi.restoreAllMocks();
});

/** Everything the server writes to the console (its logger writes there), as one text. */
function captureLogs(): () => string {
  const lines: string[] = [];
  for (const level of ['log', 'error', 'warn', 'info', 'debug'] as const) {
    vi.spyOn(console, level).mockImplementation(
      (...args: unknown[]) =>
        void lines.push(
          args.map((a) => (a instanceof Error ? `${a.message} ${a.stack}` : String(a))).join(' '),
        ),
    );
  }
  return () => lines.join('\n');
}

type Delivery = {
  variables: Record<string, { type: string; value: unknown }>;
  invalidOverrides?: { key: string; reason: string }[];
};
type Board = { stages: { environmentId: string; invalidOverrides?: string[] }[] };
type Variables = {
  variables: {
    name: string;
    type: string;
    override: { value: string } | null;
    effectiveValue: string;
    invalidOverride?: string | null;
  }[];
};

const OVERRIDE = 'Acme Production Ltd (override-7f3a)';

describe('REL-5 an override that no longer fits its variable', () => {
  it('REL-5 a string variable overridden in PRODUCTION becomes a number in DEV: after Sync and Publish delivery serves the default number and names the override, the board and the variables view say so, no log holds the value', async () => {
    const logs = captureLogs();
    const server = await startTestServer();
    cleanup.push(() => server.close());
    const admin = await setupAdmin(server.url);
    const api = overTheWire(server.url, admin.token);
    const { body: project } = await api.call<ProjectView>('POST', '/api/projects', {
      name: 'Support',
      preset: 'five-stage',
      sample: true,
    });
    const envs = project.environments;
    const [dev, prod] = [envs[0]!, envs[envs.length - 1]!];
    const releaseAll = async () => {
      for (const e of envs.slice(0, -1))
        expect(
          (
            await api.call('POST', `/api/environments/${e.id}/sync`, {
              confirmMissingSecrets: true,
            })
          ).status,
        ).toBe(200);
      expect(
        (
          await api.call('POST', `/api/environments/${prod.id}/publish`, {
            confirmMissingSecrets: true,
          })
        ).status,
      ).toBe(200);
    };
    await releaseAll();
    expect(
      (await api.call('PUT', `/api/environments/${prod.id}/variables/company`, { value: OVERRIDE }))
        .status,
    ).toBe(200);
    const {
      body: { key },
    } = await api.call<{ key: string }>('POST', `/api/environments/${prod.id}/runtime-keys`, {
      name: 'runtime',
    });
    const deliver = () =>
      overTheWire(server.url, key).call<Delivery>('GET', `/api/delivery/${prod.id}`);
    expect((await deliver()).body.variables.company).toEqual({ type: 'string', value: OVERRIDE });

    // DEV turns `company` into a number; the structure moves all the way to live.
    const { body: content } = await api.call<WorkspaceContent>(
      'GET',
      `/api/environments/${dev.id}/content`,
    );
    content.variables.var_company = {
      ...content.variables.var_company,
      type: 'number',
      defaultValue: '42',
    };
    expect((await api.call('PUT', `/api/environments/${dev.id}/content`, content)).status).toBe(
      200,
    );
    await releaseAll();

    const { status, body } = await deliver();
    expect(status).toBe(200);
    expect(body.variables.company).toEqual({ type: 'number', value: 42 });
    expect(body.invalidOverrides).toEqual([
      { key: 'company', reason: expect.stringMatching(/now a number/) },
    ]);
    expect(JSON.stringify(body.invalidOverrides)).not.toContain(OVERRIDE);

    const { body: board } = await api.call<Board>('GET', `/api/projects/${project.id}/board`);
    expect(board.stages.find((s) => s.environmentId === prod.id)!.invalidOverrides).toEqual([
      'company',
    ]);
    expect(board.stages.find((s) => s.environmentId === dev.id)!.invalidOverrides).toEqual([]);

    const { body: vars } = await api.call<Variables>(
      'GET',
      `/api/environments/${prod.id}/variables`,
    );
    const company = vars.variables.find((v) => v.name === 'company')!;
    expect(company).toMatchObject({
      type: 'number',
      override: { value: OVERRIDE },
      effectiveValue: '42',
      invalidOverride: 'Override no longer fits: the variable is now a number.',
    });

    // A new override that does not fit is still refused; one that fits clears the problem.
    expect(
      (
        await api.call<{ error: { id: string } }>(
          'PUT',
          `/api/environments/${prod.id}/variables/company`,
          { value: 'abc' },
        )
      ).body.error.id,
    ).toBe('invalid_value');
    expect(
      (await api.call('PUT', `/api/environments/${prod.id}/variables/company`, { value: '7' }))
        .status,
    ).toBe(200);
    const { body: fixed } = await deliver();
    expect(fixed.variables.company).toEqual({ type: 'number', value: 7 });
    expect(fixed.invalidOverrides).toEqual([]);

    expect(logs()).not.toContain(OVERRIDE);
    expect(logs()).not.toContain('override-7f3a');
  });

  it('REL-5 a JSON variable whose override is no longer JSON is served at its default, never a 500', async () => {
    const server = await startTestServer();
    cleanup.push(() => server.close());
    const admin = await setupAdmin(server.url);
    const api = overTheWire(server.url, admin.token);
    const { body: project } = await api.call<ProjectView>('POST', '/api/projects', {
      name: 'Support',
      preset: 'five-stage',
      sample: true,
    });
    const [dev, test] = project.environments;
    expect((await api.call('POST', `/api/environments/${dev!.id}/sync`, {})).status).toBe(200);
    expect(
      (
        await api.call('PUT', `/api/environments/${test!.id}/variables/company`, {
          value: 'not json',
        })
      ).status,
    ).toBe(200);
    const { body: content } = await api.call<WorkspaceContent>(
      'GET',
      `/api/environments/${dev!.id}/content`,
    );
    content.variables.var_company = {
      ...content.variables.var_company,
      type: 'json',
      defaultValue: '{"name":"Acme"}',
    };
    expect((await api.call('PUT', `/api/environments/${dev!.id}/content`, content)).status).toBe(
      200,
    );
    expect((await api.call('POST', `/api/environments/${dev!.id}/sync`, {})).status).toBe(200);
    const {
      body: { key },
    } = await api.call<{ key: string }>('POST', `/api/environments/${test!.id}/runtime-keys`, {
      name: 'runtime',
    });
    const { status, body } = await overTheWire(server.url, key).call<Delivery>(
      'GET',
      `/api/delivery/${test!.id}`,
    );
    expect(status).toBe(200);
    expect(body.variables.company).toEqual({ type: 'json', value: { name: 'Acme' } });
    expect(body.invalidOverrides).toEqual([
      { key: 'company', reason: 'Override no longer fits: the variable is now JSON.' },
    ]);
  });
});
