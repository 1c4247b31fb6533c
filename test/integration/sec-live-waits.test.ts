import { describe, expect, it } from 'vitest';
import type { ProjectView } from '#schema/api.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { testServer } from '../helpers/server.ts';
import { adminOf, newProject, type Client } from '../helpers/fixture.ts';
import { openStream } from '../helpers/sse.ts';

/** Issue 16 red team: delivery waits. */
const cleanup = cleanupAfterEach();

/** A five-stage sample project live in production; `key()` makes a runtime key there. */
async function liveProject(admin: Client, name: string) {
  const project: ProjectView = await newProject(admin, {
    name,
    sample: true,
    preset: 'five-stage',
  });
  const envs = project.environments;
  for (const e of envs.slice(0, -1))
    await admin.ok('POST', `/api/environments/${e.id}/sync`, { confirmMissingSecrets: true });
  const prod = envs.at(-1)!;
  await admin.ok('POST', `/api/environments/${prod.id}/publish`, { confirmMissingSecrets: true });
  let n = 0;
  const key = async () =>
    (
      await admin.ok<{ key: string }>('POST', `/api/environments/${prod.id}/runtime-keys`, {
        name: `runtime ${++n}`,
      })
    ).key;
  return { prod, key };
}

describe('SEC live red team: delivery waits', () => {
  it('[SEC-26] the keys of one project cannot take every waiting place of the process: past DELIVERY_WAITS_PER_PROJECT they get 429, another project still waits', async () => {
    const server = await testServer(cleanup, {
      DELIVERY_WAITS_PER_KEY: '1',
      DELIVERY_WAITS_PER_PROJECT: '2',
      DELIVERY_WAITS: '4',
    });
    const admin = await adminOf(server.url);
    const a = await liveProject(admin, 'Tenant A');
    const b = await liveProject(admin, 'Tenant B');
    const open = async (p: typeof a, key: string) => {
      const s = await openStream(`${server.url}/api/delivery/${p.prod.id}/events`, key);
      cleanup.push(() => s.close());
      return s.status;
    };
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push(await open(a, await a.key()));
    expect(statuses).toEqual([200, 200, 429, 429]);
    expect(await open(b, await b.key())).toBe(200);
  });
});
