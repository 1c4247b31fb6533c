import { describe, expect, it } from 'vitest';
import type { ProjectView } from '#schema/api.ts';
import { adminOf, newProject, newUser } from '../helpers/fixture.ts';
import { testServer } from '../helpers/server.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';

/** Issue 16 red team: required checks. */
const cleanup = cleanupAfterEach();

type Err = { error: { id: string } };

describe('SEC live red team: checks', () => {
  it('[SEC-24] checks of a snapshot the caller may not read answer like an unknown id (no oracle for content addresses of other stages)', async () => {
    const server = await testServer(cleanup);
    const admin = await adminOf(server.url);
    const project = await newProject(admin, { sample: true });
    const [dev, , , , prod] = project.environments.map((e) => e.id) as string[];
    await admin.ok('POST', `/api/environments/${dev}/sync`, {});
    const inTest = (await admin.ok<ProjectView>('GET', `/api/projects/${project.id}`))
      .environments[1]!.snapshotId!;
    // Reads and publishes in production only: TEST's snapshot (never in production) is not theirs.
    const pat = await newUser(admin, 'pat@example.com', 'Pat Prod');
    await admin.ok('PUT', `/api/projects/${project.id}/members/${pat.id}`, {
      roles: { [prod!]: ['viewer', 'publisher'] },
    });
    const unknown = '0'.repeat(64);
    for (const snapshotId of [unknown, inTest]) {
      const get = await pat.call<Err>(
        'GET',
        `/api/environments/${prod}/checks?snapshotId=${snapshotId}`,
      );
      expect([snapshotId === inTest ? 'TEST' : 'unknown', get.status]).toEqual([
        snapshotId === inTest ? 'TEST' : 'unknown',
        404,
      ]);
      expect(get.body.error.id).toBe('snapshot_not_found');
      const post = await pat.call<Err>('POST', `/api/environments/${prod}/checks`, {
        snapshotId,
        name: 'evals',
        state: 'success',
      });
      expect(post.status).toBe(404);
      expect(post.body.error.id).toBe('snapshot_not_found');
    }
    // A reader of TEST still sees them.
    expect(
      (await admin.call('GET', `/api/environments/${prod}/checks?snapshotId=${inTest}`)).status,
    ).toBe(200);
  });
});
