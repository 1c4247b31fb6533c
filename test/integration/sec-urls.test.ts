import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { newProject, overTheWire } from '../helpers/fixture.ts';
import { onPostgres } from '../helpers/dialect.ts';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { setupAdmin, tempDataDir, testServer, type TestServer } from '../helpers/server.ts';

/**
 * SEC-22: links people receive are built from configuration, never from the
 * Host header a client chooses; the data folder and the database files are the owner's alone.
 */
const cleanup = cleanupAfterEach();
const serve = async (env: Record<string, string> = {}, dataDir = tempDataDir()) =>
  await testServer(cleanup, env, dataDir);

/** A JSON POST with a Host header of our choosing (fetch never lets a caller set Host). */
function post(
  server: TestServer,
  host: string,
  token: string,
  apiPath: string,
  body: unknown,
): Promise<{ status: number; json: { url: string; path: string } }> {
  const data = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${server.url}/api${apiPath}`,
      {
        method: 'POST',
        headers: {
          host,
          'x-forwarded-host': host,
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(data),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            json: JSON.parse(text) as { url: string; path: string },
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

/** Creates a share link and an invitation while claiming to be evil.example; returns both URLs. */
async function linksWithHost(
  server: TestServer,
  host: string,
): Promise<{ share: string; invite: string }> {
  const token = (await setupAdmin(server.url)).token;
  const project = await newProject(overTheWire(server.url, token));
  const production = project.environments.at(-1)!;
  const share = await post(server, host, token, `/environments/${production.id}/share-links`, {
    label: 'Review',
  });
  expect(share.status).toBe(201);
  const invite = await post(server, host, token, '/invitations', {
    email: 'new@example.com',
    name: 'New',
    projectId: project.id,
    template: 'developer',
  });
  expect(invite.status).toBe(201);
  const [s, i] = [share.json, invite.json];
  expect(s.url.endsWith(s.path)).toBe(true);
  expect(i.url.endsWith(i.path)).toBe(true);
  return { share: s.url, invite: i.url };
}

const mode = (file: string) => fs.statSync(file).mode & 0o777;

describe('SEC-22 URLs come from PUBLIC_URL, files are private', () => {
  it('SEC-22 share links and invitations use PUBLIC_URL, whatever Host the request claims', async () => {
    const server = await serve({ PUBLIC_URL: 'https://stagecoach.example.com/' });
    const { share, invite } = await linksWithHost(server, 'evil.example');
    expect(share).toMatch(/^https:\/\/stagecoach\.example\.com\/share\/[^/]+$/);
    expect(invite).toMatch(/^https:\/\/stagecoach\.example\.com\/invite\/[^/]+$/);
  });

  it('SEC-22 without PUBLIC_URL links name the interface and port the server listens on, not the Host header', async () => {
    const server = await serve();
    const { share, invite } = await linksWithHost(server, 'evil.example:666');
    expect(new URL(share).origin).toBe(server.url);
    expect(new URL(invite).origin).toBe(server.url);
  });

  it('SEC-22 DATA_DIR is created 0700 (and tightened if it exists); the database files and secrets.key are 0600', async ({
    skip,
  }) => {
    skip(onPostgres, 'the modes of the SQLite files and secrets.key');
    const parent = tempDataDir();
    const fresh = path.join(parent, 'fresh', 'data');
    const server = await serve({}, fresh);
    // Something written, so the WAL and shared-memory files exist.
    await setupAdmin(server.url);
    expect(mode(fresh)).toBe(0o700);
    for (const f of [
      'stagecoach.sqlite',
      'stagecoach.sqlite-wal',
      'stagecoach.sqlite-shm',
      'secrets.key',
    ]) {
      expect(fs.existsSync(path.join(fresh, f)), f).toBe(true);
      expect(mode(path.join(fresh, f)), f).toBe(0o600);
    }
    await server.close();
    cleanup.length = 0; // closed already

    // An existing folder (and database) left open to others by an earlier version or a careless copy.
    fs.chmodSync(fresh, 0o755);
    for (const f of ['stagecoach.sqlite', 'secrets.key']) fs.chmodSync(path.join(fresh, f), 0o644);
    const again = await serve({}, fresh);
    expect((await fetch(`${again.url}/api/health`)).status).toBe(200);
    expect(mode(fresh)).toBe(0o700);
    for (const f of [
      'stagecoach.sqlite',
      'stagecoach.sqlite-wal',
      'stagecoach.sqlite-shm',
      'secrets.key',
    ])
      expect(mode(path.join(fresh, f)), f).toBe(0o600);
  });
});
