import type { ProjectView } from '#schema/api.ts';
import type { WorkspaceContent } from '#schema/content/ydoc.ts';
import { adminOf, newProject } from './fixture.ts';
import { testServer, type TestServer } from './server.ts';

/**
 * A five-stage sample project with something live in production and a runtime key there, for the
 * runtime client's tests (RTC): `change()` makes a new snapshot and syncs it up to production's
 * door, `publish()` puts it live, `server` may be given (a restarted one on the same data).
 */
export async function runtimeProject(
  cleanup: (() => unknown)[],
  env: Record<string, string> = {},
  given?: TestServer,
) {
  const server = given ?? (await testServer(cleanup, env));
  const admin = await adminOf(server.url);
  const project: ProjectView = await newProject(admin, { sample: true, preset: 'five-stage' });
  const envs = project.environments;
  const [first, prod] = [envs[0]!, envs[envs.length - 1]!];
  const promote = async () => {
    for (const e of envs.slice(0, -1))
      await admin.ok('POST', `/api/environments/${e.id}/sync`, { confirmMissingSecrets: true });
  };
  const publish = () =>
    admin.ok<unknown>('POST', `/api/environments/${prod.id}/publish`, {
      confirmMissingSecrets: true,
    });
  let edits = 0;
  /** A new snapshot (a knowledge article's title changes to `Edited <n>`), synced up to production's door. */
  const change = async () => {
    const content = await admin.ok<WorkspaceContent>(
      'GET',
      `/api/environments/${first.id}/content`,
    );
    const article = Object.values(content.knowledge)[0]!;
    article.title = `Edited ${++edits}`;
    await admin.ok('PUT', `/api/environments/${first.id}/content`, content);
    await promote();
    return String(article.title);
  };
  await promote();
  await publish();
  const keyFor = async (name: string) =>
    (
      await admin.ok<{ key: string }>('POST', `/api/environments/${prod.id}/runtime-keys`, {
        name,
      })
    ).key;
  const key = await keyFor('runtime');
  const live = async () =>
    (await admin.ok<ProjectView>('GET', `/api/projects/${project.id}`)).environments.at(-1)!
      .liveSnapshotId!;
  return { server, admin, project, first, prod, key, keyFor, change, publish, live };
}
