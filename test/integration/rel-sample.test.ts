import { describe, expect, it } from 'vitest';
import type { ProjectView } from '#schema/api.ts';
import { validateContent } from '#schema/content/validate.ts';
import type { WorkspaceContent } from '#schema/content/ydoc.ts';
import { sectionsNotArrived } from '#schema/flow.ts';
import { PRESET_IDS } from '#schema/presets.ts';
import { setupAdmin, startTestServer } from '../helpers/server.ts';
import { overTheWire } from '../helpers/fixture.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';

/** REL-13: a fresh sample project has no problems anywhere, whatever its preset. */
const cleanup = cleanupAfterEach();

type Problems = { section: string; itemId: string; field: string; message: string }[];

describe('REL-13 the sample is clean everywhere', () => {
  it.each(PRESET_IDS)(
    'REL-13 preset %s: every stage of a fresh sample project has no problems',
    async (preset) => {
      const server = await startTestServer();
      cleanup.push(() => server.close());
      const admin = await setupAdmin(server.url);
      const api = overTheWire(server.url, admin.token);
      const { status, body: project } = await api.call<ProjectView>('POST', '/api/projects', {
        name: 'Support',
        preset,
        sample: true,
      });
      expect(status).toBe(201);
      for (const env of project.environments) {
        // As the web judges a stage (its editor and its content): what the stage holds, with what
        // has not arrived yet left out.
        const { body: content } = await api.call<WorkspaceContent>(
          'GET',
          `/api/environments/${env.id}/content`,
        );
        expect(
          validateContent(content, {
            notArrived: sectionsNotArrived(project.flowRules, env.position, env.snapshotId),
          }),
          `${env.name}'s content`,
        ).toEqual([]);
        const { body: problems } = await api.call<Problems>(
          'GET',
          `/api/environments/${env.id}/problems`,
        );
        expect(problems, `${env.name}'s problems`).toEqual([]);
      }
    },
  );

  it('REL-13 three-stage: after the first Syncs the sample is still clean in every stage, and a reference that breaks there is reported', async () => {
    const server = await startTestServer();
    cleanup.push(() => server.close());
    const admin = await setupAdmin(server.url);
    const api = overTheWire(server.url, admin.token);
    const { body: project } = await api.call<ProjectView>('POST', '/api/projects', {
      name: 'Support',
      preset: 'three-stage',
      sample: true,
    });
    const [staging, uat, production] = project.environments as [
      ProjectView['environments'][number],
      ProjectView['environments'][number],
      ProjectView['environments'][number],
    ];
    expect((await api.call('POST', `/api/environments/${staging.id}/sync`, {})).status).toBe(200);
    expect(
      (await api.call('POST', `/api/environments/${uat.id}/sync`, { confirmMissingSecrets: true }))
        .status,
    ).toBe(200);
    for (const env of [staging, uat, production])
      expect(
        (await api.call<Problems>('GET', `/api/environments/${env.id}/problems`)).body,
        env.name,
      ).toEqual([]);

    // Staging renames the variable and moves it on: UAT's own article now names one that is not there.
    const { body: content } = await api.call<WorkspaceContent>(
      'GET',
      `/api/environments/${staging.id}/content`,
    );
    content.variables.var_support_email = {
      ...content.variables.var_support_email,
      name: 'help_email',
    };
    for (const item of [...Object.values(content.channels), ...Object.values(content.agents)])
      for (const [k, v] of Object.entries(item))
        if (typeof v === 'string') item[k] = v.replaceAll('{{support_email}}', '{{help_email}}');
    for (const s of ['knowledge'] as const) content[s] = {};
    expect((await api.call('PUT', `/api/environments/${staging.id}/content`, content)).status).toBe(
      200,
    );
    expect((await api.call('POST', `/api/environments/${staging.id}/sync`, {})).status).toBe(200);
    const { body: problems } = await api.call<Problems>(
      'GET',
      `/api/environments/${uat.id}/problems`,
    );
    expect(problems.map((p) => p.message)).toEqual([expect.stringContaining('{{support_email}}')]);
  });
});
