import { describe, expect, it } from 'vitest';
import { adminOf, type Client } from '../helpers/fixture.ts';
import { stored } from '../helpers/dialect.ts';
import { testServer } from '../helpers/server.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';

/** Issue 16 red team: Idempotency-Key replays. */
const cleanup = cleanupAfterEach();

async function send(who: Client, path: string, body: unknown, key: string) {
  const res = await who.raw(path, {
    method: 'POST',
    body,
    headers: { authorization: `Bearer ${who.token}`, 'idempotency-key': key },
  });
  return { status: res.status, text: await res.text() };
}

describe('SEC live red team: idempotency', () => {
  it('[SEC-23] a secret shown once is never kept, however its path is spelled (percent-encoded letters route the same)', async () => {
    const server = await testServer(cleanup);
    const admin = await adminOf(server.url);
    const first = await send(admin, '/api/%74okens', { name: 'ci' }, 'spelled');
    expect(first.status).toBe(201);
    const { token } = JSON.parse(first.text) as { token: string };
    const again = await send(admin, '/api/%74okens', { name: 'ci' }, 'spelled');
    expect(again.status).toBe(409);
    expect(again.text).not.toContain(token);
    const rows = await stored(server).all<{ body: string | null }>(
      'SELECT body FROM idempotency_keys',
    );
    for (const r of rows) expect(r.body ?? '').not.toContain(token);
  });
});
