import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { testServer } from '../helpers/server.ts';
import { adminOf } from '../helpers/fixture.ts';

/** Issue 16 red team: a body upload that is aborted half way. */
const cleanup = cleanupAfterEach();

describe('SEC live red team: aborted uploads', () => {
  it('[SEC-29] a keyed request whose body upload is aborted half way frees its Idempotency-Key: the retry runs', async () => {
    const server = await testServer(cleanup);
    const admin = await adminOf(server.url);
    const { hostname, port } = new URL(server.url);
    const body = JSON.stringify({ name: 'ci' });
    const socket = net.connect(Number(port), hostname);
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(
      `POST /api/tokens HTTP/1.1\r\nhost: ${hostname}\r\nauthorization: Bearer ${admin.token}\r\n` +
        `content-type: application/json\r\nidempotency-key: half\r\ncontent-length: ${body.length + 50}\r\n\r\n${body}`,
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    socket.destroy();
    await expect
      .poll(
        async () =>
          (
            await admin.raw('/api/tokens', {
              method: 'POST',
              body: { name: 'ci' },
              headers: { authorization: `Bearer ${admin.token}`, 'idempotency-key': 'half' },
            })
          ).status,
        { timeout: 3000 },
      )
      .toBe(201);
  });
});
