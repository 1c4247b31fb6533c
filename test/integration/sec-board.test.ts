import { afterEach, describe, expect, it } from 'vitest';
import { sampleContent } from '#schema/content/sample.ts';
import { SECTIONS } from '#schema/content/spec.ts';
import { setupAdmin, startTestServer } from '../helpers/server.ts';
import { overTheWire } from '../helpers/fixture.ts';

type Running = Awaited<ReturnType<typeof startTestServer>>;
interface Board {
  pending: { counts: Record<string, number>; total: number }[];
}

let server: Running | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** 16,000 lines that share nothing with the other version: the worst case of a line diff. */
const text = (tag: string) =>
  Array.from({ length: 16_000 }, (_, i) => `line ${i} of the ${tag} version`).join('\n');

describe('SEC-6 the board under large texts', () => {
  it('SEC-6 the board counts what a Sync carries from snapshot trees: two 16,000-line texts cost no line diff, and the counts stay right', async () => {
    server = await startTestServer();
    const url = server.url;
    const token = (await setupAdmin(url)).token;
    const api = overTheWire(url, token);
    const { body: project } = await api.call<{ id: string; environments: { id: string }[] }>(
      'POST',
      '/api/projects',
      { name: 'Long texts', sample: true },
    );
    const [dev, test] = project.environments as [{ id: string }, { id: string }];

    const content = sampleContent();
    content.knowledge.kb_shipping!.body = text('old');
    expect((await api.call('PUT', `/api/environments/${dev.id}/content`, content)).status).toBe(
      200,
    );
    expect((await api.call('POST', `/api/environments/${dev.id}/sync`, {})).status).toBe(200);
    content.knowledge.kb_shipping!.body = text('new');
    expect((await api.call('PUT', `/api/environments/${dev.id}/content`, content)).status).toBe(
      200,
    );

    const read = async () => {
      const started = performance.now();
      const { status, body: board } = await api.call<Board>(
        'GET',
        `/api/projects/${project.id}/board`,
      );
      return { status, board, ms: performance.now() - started };
    };
    // The server's own health answer while the first board read runs.
    const health = async () => {
      const started = performance.now();
      expect((await fetch(`${url}/api/health`)).status).toBe(200);
      return performance.now() - started;
    };
    const [first, healthMs] = await Promise.all([read(), health()]);
    const again = await read();
    console.log(
      `SEC-6 board with two 16,000-line texts: ${first.ms.toFixed(0)} ms, cached ${again.ms.toFixed(0)} ms; /api/health meanwhile ${healthMs.toFixed(0)} ms`,
    );
    expect(healthMs).toBeLessThan(1500);
    expect(first.status).toBe(200);
    expect(first.ms).toBeLessThan(1500);
    expect(again.ms).toBeLessThan(1500);

    // DEV → TEST carries exactly the one changed article; TEST → UAT everything TEST holds.
    const items = SECTIONS.reduce((n, s) => n + Object.keys(content[s]).length, 0);
    expect(first.board.pending[0]).toMatchObject({ total: 1, counts: { knowledge: 1, agents: 0 } });
    expect(first.board.pending[1]!.total).toBe(items);
    expect(first.board.pending[1]!.counts.knowledge).toBe(Object.keys(content.knowledge).length);
    expect(again.board.pending).toEqual(first.board.pending);
    // The same counts as the full diff of those sides (an empty side: no line diff to wait for).
    const uat = project.environments[2]!;
    const { body: diff } = await api.call<{
      diff: { counts: Record<string, number>; total: number };
    }>('GET', `/api/diff?from=env:${uat.id}&to=env:${test.id}`);
    expect([diff.diff.counts, diff.diff.total]).toEqual([
      first.board.pending[1]!.counts,
      first.board.pending[1]!.total,
    ]);
  });
});
