import { describe, expect, it } from 'vitest';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { adminOf, newProject } from '../helpers/fixture.ts';
import { postgresAndRedisPerFile } from '../helpers/pg-redis-per-file.ts';
import { onPostgres, testServer } from '../helpers/server.ts';

/**
 * Free text on both databases (PG-182): control characters other than tab and line breaks are
 * refused at the edge, so nothing SQLite would store and PostgreSQL refuse gets in.
 */
const services = postgresAndRedisPerFile();
const cleanup = cleanupAfterEach();

type Refusal = { error?: { id: string; message: string } };

describe('PG: free text is the same on both databases', () => {
  it('PG-182 a NUL or another control character in a Sync message, a feedback post or its item id is refused 400 invalid_body naming the character, on SQLite and on PostgreSQL alike, and changes nothing; tabs and line breaks pass', async () => {
    for (const env of [{}, onPostgres(services.postgres.url, services.redis.url)]) {
      const server = await testServer(cleanup, env);
      const admin = await adminOf(server.url);
      const p = await newProject(admin, { sample: true });
      const [dev, test] = [p.environments[0]!, p.environments[1]!];
      const releases = async () =>
        (await admin.ok<{ history: unknown[] }>('GET', `/api/environments/${test.id}/history`))
          .history.length;
      const before = await releases();

      const refused = await admin.call<Refusal>('POST', `/api/environments/${dev.id}/sync`, {
        message: 'ship\u0000it',
      });
      expect(refused.status).toBe(400);
      expect(refused.body.error?.id).toBe('invalid_body');
      expect(refused.body.error?.message).toContain('U+0000');
      expect(await releases()).toBe(before);
      await admin.ok('POST', `/api/environments/${dev.id}/sync`, {
        message: 'line one\n\tline two',
      });
      expect(await releases()).toBe(before + 1);

      const link = await admin.ok<{ token: string }>(
        'POST',
        `/api/environments/${test.id}/share-links`,
        { label: 'Board', allowFeedback: true },
      );
      const post = (body: object) =>
        admin.as('').call<Refusal>('POST', `/api/share/${link.token}/feedback`, {
          section: 'agents',
          itemId: 'agt_support',
          author: 'Olga Owner',
          text: 'Warmer greeting, please.',
          ...body,
        });
      for (const body of [{ text: 'a\u0000b' }, { text: 'bell\u0007' }, { itemId: 'agt\u0000' }]) {
        const answer = await post(body);
        expect(answer.status).toBe(400);
        expect(answer.body.error?.id).toBe('invalid_body');
      }
      expect((await post({ text: 'Two lines:\r\nwarmer, please.' })).status).toBe(201);
    }
  });
});
