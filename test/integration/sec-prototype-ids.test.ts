import { afterEach, describe, expect, it } from 'vitest';
import { sampleContent } from '#schema/content/sample.ts';
import { validateContent } from '#schema/content/validate.ts';
import { canonicalContent } from '#schema/content/canonical.ts';
import type { WorkspaceContent } from '#schema/content/ydoc.ts';
import type { ProjectView } from '#schema/api.ts';
import { inProcessInstance, type Instance } from '../helpers/fixture.ts';

/**
 * SEC-13: ids named like members every object inherits (`constructor`, `toString`,
 * `__proto__`, `valueOf`, `hasOwnProperty`) are plain data: never found where they are not,
 * never dropped where they are, and refused where ids enter (import 422, pull 400, websocket 4422).
 */
const NAMES = ['constructor', 'toString', '__proto__', 'valueOf', 'hasOwnProperty'];

let api: Instance | null = null;
afterEach(async () => {
  await api?.close();
  api = null;
});

describe('SEC-13 prototype-named ids are plain data', () => {
  it('SEC-13 references to constructor, toString, __proto__, valueOf and hasOwnProperty are dangling references (validation problems)', () => {
    const content = sampleContent();
    content.agents.agt_support!.integrations = NAMES;
    const workflow = content.workflows.wf_order_status!;
    workflow.steps = [
      ...(workflow.steps as object[]),
      ...NAMES.map((agent, i) => ({ id: `st_proto_${i}`, type: 'handoff', agent, message: '' })),
    ];
    const problems = validateContent(content).filter((p) => p.code === 'reference');
    expect(
      problems.filter((p) => p.itemId === 'agt_support' && p.field === 'integrations'),
    ).toHaveLength(NAMES.length);
    expect(
      problems
        .filter((p) => p.itemId === 'wf_order_status' && p.field.endsWith('.agent'))
        .map((p) => p.field),
    ).toEqual(NAMES.map((_, i) => `steps.st_proto_${i}.agent`));
  });

  it('SEC-13 content that holds such an id (an older draft) keeps it as data instead of dropping it', () => {
    const content = JSON.parse(JSON.stringify(sampleContent())) as WorkspaceContent;
    const article = JSON.parse(
      '{"__proto__": {"title": "Kept", "body": "As data.", "tags": [], "audiences": []}}',
    ) as Record<string, object>;
    content.knowledge = { ...content.knowledge, ...article } as WorkspaceContent['knowledge'];
    expect(Object.keys(canonicalContent(content).knowledge)).toContain('__proto__');
    expect(Object.hasOwn(canonicalContent(content).knowledge, 'constructor')).toBe(false);
  });

  it('SEC-13 an import with such ids or fields is refused (422 invalid_workspace, with the reasons), and nothing changes', async () => {
    api = await inProcessInstance();
    const { body: project } = await api.call<ProjectView>('POST', '/api/projects', {
      name: 'P',
      preset: 'five-stage',
    });
    const dev = project.environments[0]!;
    const file = (knowledge: string) =>
      JSON.parse(
        `{"agents":{},"workflows":{},"integrations":{},"channels":{},"variables":{},"knowledge":${knowledge}}`,
      ) as unknown;
    const article = '{"title": "T", "body": "B", "tags": [], "audiences": []}';
    for (const id of NAMES) {
      const { status, body } = await api.call<{ error: { id: string; details: string[] } }>(
        'PUT',
        `/api/environments/${dev.id}/content`,
        file(`{"${id}": ${article}}`),
      );
      expect([id, status, body.error.id, body.error.details]).toEqual([
        id,
        422,
        'invalid_workspace',
        [`knowledge: item id "${id}" is a reserved name.`],
      ]);
    }
    for (const field of ['__proto__', 'constructor', 'toString']) {
      const { status, body } = await api.call<{ error: { id: string; details: string[] } }>(
        'PUT',
        `/api/environments/${dev.id}/content`,
        file(`{"kb_1": {"title": "T", "body": "B", "${field}": {"x": 1}}}`),
      );
      expect([field, status, body.error.id, body.error.details]).toEqual([
        field,
        422,
        'invalid_workspace',
        [`knowledge/kb_1: unknown field "${field}".`],
      ]);
    }
    const { body: content } = await api.call<WorkspaceContent>(
      'GET',
      `/api/environments/${dev.id}/content`,
    );
    expect(Object.keys(content.knowledge)).toEqual([]);
  });

  it('SEC-13 a pull of ids constructor and toString answers 400 and creates nothing', async () => {
    api = await inProcessInstance();
    const { body: project } = await api.call<ProjectView>('POST', '/api/projects', {
      name: 'P',
      preset: 'three-stage',
    });
    const [, uat, production] = project.environments;
    for (const itemIds of [['constructor', 'toString'], ['__proto__'], ['valueOf']]) {
      const { status, body } = await api.call<{ error: { id: string } }>(
        'POST',
        `/api/environments/${production!.id}/pull`,
        { fromEnvironmentId: uat!.id, section: 'knowledge', itemIds },
      );
      expect([itemIds, status, body.error.id]).toEqual([itemIds, 400, 'invalid_body']);
    }
    const { status } = await api.call(
      'GET',
      `/api/environments/${production!.id}/pull?from=${uat!.id}&section=knowledge&items=constructor`,
    );
    expect(status).toBe(404);
    const { body: content } = await api.call<WorkspaceContent>(
      'GET',
      `/api/environments/${production!.id}/content`,
    );
    expect(Object.keys(content.knowledge)).toEqual([]);
  });
});
