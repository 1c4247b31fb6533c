import { describe, expect, it } from 'vitest';
import { sampleContent } from '#schema/content/sample.ts';
import type { ContentDiff } from '#schema/content/diff.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { setupAdmin, testServer } from '../helpers/server.ts';
import { overTheWire, type Reply } from '../helpers/fixture.ts';
import {
  adversarialAddresses,
  adversarialTexts,
  hostileContent,
  numberedLines,
  timed,
} from '../helpers/hostile.ts';

/**
 * SEC-5 and SEC-6 through the real server: hostile content costs linear time on every
 * path that validates it (import, problems, board, Sync), and a diff of two very different long
 * texts is bounded. While a request runs, `/api/health` is asked too: its answer time is printed,
 * and the RSS after each test. `SOAK=1` (npm run soak) runs every text × address case and diffs
 * ten such long texts at once; the default runs four cases and one text.
 */
const SOAK = process.env.SOAK === '1';
const cleanup = cleanupAfterEach();

interface Env {
  id: string;
  name: string;
}

async function sampleProject() {
  const server = await testServer(cleanup);
  const admin = await setupAdmin(server.url);
  const api = overTheWire(server.url, admin.token);
  const { status, body: project } = await api.call<{ id: string; environments: Env[] }>(
    'POST',
    '/api/projects',
    { name: 'Support', sample: true },
  );
  expect(status).toBe(201);
  return { server, api, project, dev: project.environments[0]!, test: project.environments[1]! };
}

/** Runs `request` and, while it runs, one `/api/health`; returns both times. */
async function withHealth<T>(
  url: string,
  request: () => Promise<T>,
): Promise<{ ms: number; healthMs: number; result: T }> {
  const running = timed(request);
  const health = timed(async () => (await fetch(`${url}/api/health`)).status);
  const [{ ms, result }, h] = await Promise.all([running, health]);
  expect(h.result).toBe(200);
  return { ms, healthMs: h.ms, result };
}

describe('SEC-5 linear validation through the server', () => {
  it(
    'SEC-5 1 MB of adversarial text: import, problems, board and Sync each answer well under the bound',
    { timeout: 120_000 },
    async () => {
      const { server, api, project, dev } = await sampleProject();
      const texts = adversarialTexts();
      const addresses = adversarialAddresses();
      const cases: [string, string][] = SOAK
        ? Object.values(texts).flatMap((t) =>
            Object.values(addresses).map((a): [string, string] => [t, a]),
          )
        : [
            [texts['braces then spaces']!, addresses['dots after the at']!],
            [texts['braces and spaces, repeated']!, addresses['a@a.a…']!],
            [texts['runs of braces']!, addresses['local part of dots']!],
            [texts['unclosed references']!, addresses['dots after the at']!],
          ];
      for (const [i, [text, address]] of cases.entries()) {
        const steps: [string, () => Promise<Reply<unknown>>, number][] = [
          [
            'import',
            () =>
              api.call('PUT', `/api/environments/${dev.id}/content`, hostileContent(text, address)),
            200,
          ],
          ['problems', () => api.call('GET', `/api/environments/${dev.id}/problems`), 200],
          ['board', () => api.call('GET', `/api/projects/${project.id}/board`), 200],
          ['Sync', () => api.call('POST', `/api/environments/${dev.id}/sync`, {}), 422],
        ];
        for (const [name, request, status] of steps) {
          const { ms, healthMs, result } = await withHealth(server.url, request);
          console.log(
            `SEC-5 case ${i + 1} ${name}: ${ms.toFixed(0)} ms (/api/health meanwhile: ${healthMs.toFixed(0)} ms)`,
          );
          expect(result.status, name).toBe(status);
          expect(ms, name).toBeLessThan(3000);
          expect(healthMs, name).toBeLessThan(3000);
        }
        const { body: problems } = await api.call<{ field: string; code: string }[]>(
          'GET',
          `/api/environments/${dev.id}/problems`,
        );
        expect(problems).toContainEqual(
          expect.objectContaining({ field: 'address', code: 'too_long' }),
        );
      }
      console.log(
        `SEC-5 RSS after ${cases.length} cases: ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MB`,
      );
    },
  );
});

describe('SEC-6 bounded diffs through the server', () => {
  it(
    'SEC-6 GET /api/diff of two 16,000-line texts answers well under a second, the text as replaced whole with a note',
    { timeout: 120_000 },
    async () => {
      const { server, api, project, dev, test } = await sampleProject();
      const articleId = Object.keys(sampleContent().knowledge)[0]!;
      const withBody = (tag: string) => {
        const c = sampleContent();
        c.knowledge[articleId]!.body = numberedLines(tag, 16_000);
        for (let i = 1; i < (SOAK ? 10 : 1); i++)
          c.knowledge[`kb_long${i}`] = {
            title: `Long ${i}`,
            body: numberedLines(`${tag}${i}`, 16_000),
            tags: [],
            audiences: [],
          };
        return c;
      };
      expect(
        (await api.call('PUT', `/api/environments/${dev.id}/content`, withBody('old'))).status,
      ).toBe(200);
      expect((await api.call('POST', `/api/environments/${dev.id}/sync`, {})).status).toBe(200);
      expect(
        (await api.call('PUT', `/api/environments/${dev.id}/content`, withBody('new'))).status,
      ).toBe(200);

      const { ms, healthMs, result } = await withHealth(server.url, () =>
        api.call<{ diff: ContentDiff }>('GET', `/api/diff?from=env:${test.id}&to=env:${dev.id}`),
      );
      console.log(
        `SEC-6 GET /api/diff, 2 × 16,000 lines: ${ms.toFixed(0)} ms (/api/health meanwhile: ${healthMs.toFixed(0)} ms)`,
      );
      expect(result.status).toBe(200);
      expect(ms).toBeLessThan(1000);
      const item = result.body.diff.sections.knowledge.find((k) => k.id === articleId);
      expect(item).toMatchObject({ kind: 'changed' });
      const body = item!.fields.find((f) => f.field === 'body')!;
      expect(body.lines).toBeUndefined();
      expect(body.note).toMatch(/whole text was replaced/);

      // The board diffs what the next Sync moves: bounded the same way.
      const board = await withHealth(server.url, () =>
        api.call('GET', `/api/projects/${project.id}/board`),
      );
      console.log(
        `SEC-6 board with that change pending: ${board.ms.toFixed(0)} ms (/api/health meanwhile: ${board.healthMs.toFixed(0)} ms)`,
      );
      expect(board.result.status).toBe(200);
      expect(board.ms).toBeLessThan(3000);
      console.log(`SEC-6 RSS after: ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MB`);
    },
  );
});
