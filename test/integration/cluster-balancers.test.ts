import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cleanupAfterEach } from '../helpers/cleanup.ts';
import { connect, synced } from '../helpers/clients.ts';
import { startCluster, type Cluster } from '../helpers/cluster.ts';
import { newProject, overTheWire } from '../helpers/fixture.ts';
import { freePort } from '../helpers/postgres.ts';
import { exited } from '../helpers/process.ts';
import { setupAdmin } from '../helpers/server.ts';

/**
 * The nginx and HAProxy configurations of docs/scale/i17-cluster-harness.md in front of three real
 * nodes (PG-92, PG-93 for real balancers). Neither program is part of the project's machines:
 * these run only when NGINX_BIN / HAPROXY_BIN name a binary (and LD_LIBRARY_PATH what it needs).
 */
const NGINX = process.env.NGINX_BIN;
const HAPROXY = process.env.HAPROXY_BIN;
const DOC = 'docs/scale/i17-cluster-harness.md';
const EXAMPLE_NODES = ['10.0.0.11:3000', '10.0.0.12:3000', '10.0.0.13:3000'];

const cleanup = cleanupAfterEach();

/** The documented configuration in `lang`, pointed at the cluster's nodes. */
function documented(lang: 'nginx' | 'haproxy', cluster: Cluster): string {
  let conf = new RegExp('```' + lang + '\\n([\\s\\S]*?)```').exec(
    fs.readFileSync(DOC, 'utf8'),
  )![1]!;
  EXAMPLE_NODES.forEach(
    (node, i) => (conf = conf.replaceAll(node, `127.0.0.1:${cluster.nodes[i]!.port}`)),
  );
  return conf;
}

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stagecoach-balancer-'));
  cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function run(command: string, args: string[]): ChildProcess {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  cleanup.push(async () => {
    child.kill('SIGKILL');
    await exited(child);
  });
  return child;
}

/**
 * Through the balancer at `url` (whose log `served()` gives [path, upstream address] pairs): HTTP
 * spreads over the nodes, every upgrade of one draft goes to one node whatever its query string,
 * and a stock client of a draft syncs when its draft is hashed onto the node that holds it.
 */
async function proveBalancing(
  cluster: Cluster,
  url: string,
  served: () => [string, string][],
): Promise<void> {
  await expect
    .poll(
      () =>
        fetch(`${url}/api/health`).then(
          (r) => r.status,
          () => 0,
        ),
      { timeout: 10_000 },
    )
    .toBe(200);
  const nodeAt = Object.fromEntries(cluster.nodes.map((n) => [`127.0.0.1:${n.port}`, n.id]));
  for (let i = 0; i < 30; i++) expect((await fetch(`${url}/api/health`)).status).toBe(200);
  await expect.poll(() => served().filter(([p]) => p === '/api/health').length).toBeGreaterThan(30);
  const http = new Set(served().map(([, up]) => nodeAt[up]));
  expect(http).toEqual(new Set(['n1', 'n2', 'n3']));

  // Each node holds only its own drafts (SQLite): four each, so some are hashed onto their node.
  const drafts: { node: string; id: string; token: string }[] = [];
  for (const n of cluster.nodes) {
    const { token } = await setupAdmin(n.url);
    for (let k = 0; k < 4; k++) {
      const project = await newProject(overTheWire(n.url, token), { name: `p${k}` });
      drafts.push({ node: n.id, id: project.environments[0]!.draftId!, token });
    }
  }
  for (const query of ['', '?token=x', '?token=y&mode=read'])
    for (const d of drafts)
      await new Promise<void>((resolve) => {
        const ws = new WebSocket(`${url.replace('http', 'ws')}/collab/${d.id}${query}`);
        ws.addEventListener('close', () => resolve());
      });
  const collab = () => served().filter(([p]) => p.startsWith('/collab/'));
  await expect.poll(() => collab().length).toBeGreaterThanOrEqual(3 * drafts.length);
  const where = new Map<string, Set<string>>();
  for (const [p, up] of collab()) {
    const id = p.slice('/collab/'.length).split('?')[0]!;
    where.set(id, (where.get(id) ?? new Set()).add(nodeAt[up]!));
  }
  for (const d of drafts) expect(where.get(d.id)?.size, d.id).toBe(1);
  expect(new Set(drafts.map((d) => [...where.get(d.id)!][0])).size).toBeGreaterThan(1);

  const home = drafts.find((d) => where.get(d.id)!.has(d.node));
  expect(home, 'no draft was hashed onto its own node').toBeDefined();
  const client = connect(url, home!.id, { token: home!.token });
  cleanup.push(() => client.destroy());
  await synced(client);
}

describe('PG-92, PG-93: the documented balancer configurations', () => {
  it.skipIf(!NGINX)(
    'nginx (NGINX_BIN)',
    async () => {
      const cluster = await startCluster(cleanup, { nodes: 3, env: { TRUST_PROXY: 'true' } });
      const dir = tempDir();
      const port = await freePort();
      const site = documented('nginx', cluster)
        .replace(/listen 443 ssl http2;.*\n/, `listen 127.0.0.1:${port};\n`)
        .replace(/\n\s+ssl_certificate.*/g, '')
        .replace(/server \{\n {4}listen 80;[\s\S]*$/, '');
      fs.writeFileSync(path.join(dir, 'site.conf'), site);
      const temps = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
        .map((t) => `${t}_temp_path ${dir}/${t};`)
        .join(' ');
      fs.writeFileSync(
        path.join(dir, 'nginx.conf'),
        `daemon off; master_process off; error_log stderr; pid ${dir}/nginx.pid;
events {}
http { log_format up '$request_uri $upstream_addr'; access_log ${dir}/access.log up; ${temps}
  include ${dir}/site.conf; }
`,
      );
      run(NGINX!, ['-p', dir, '-c', path.join(dir, 'nginx.conf')]).stdout!.resume();
      const log = path.join(dir, 'access.log');
      await proveBalancing(cluster, `http://127.0.0.1:${port}`, () =>
        fs.existsSync(log)
          ? fs
              .readFileSync(log, 'utf8')
              .trim()
              .split('\n')
              .map((l) => l.split(' ') as [string, string])
          : [],
      );
    },
    90_000,
  );

  it.skipIf(!HAPROXY)(
    'HAProxy (HAPROXY_BIN)',
    async () => {
      const cluster = await startCluster(cleanup, { nodes: 3, env: { TRUST_PROXY: 'true' } });
      const dir = tempDir();
      const port = await freePort();
      const conf = documented('haproxy', cluster)
        .replace(/ {4}bind :80\n.*\n.*redirect.*\n/, `    bind 127.0.0.1:${port}\n`)
        .replace('option httplog', 'log-format "%[capture.req.uri] %si:%sp"');
      fs.writeFileSync(path.join(dir, 'haproxy.cfg'), conf);
      const lines: string[] = [];
      const child = run(HAPROXY!, ['-db', '-f', path.join(dir, 'haproxy.cfg')]);
      child.stdout!.on('data', (d: Buffer) => lines.push(...d.toString().trim().split('\n')));
      await proveBalancing(cluster, `http://127.0.0.1:${port}`, () =>
        lines.filter((l) => l.startsWith('/')).map((l) => l.split(' ') as [string, string]),
      );
    },
    90_000,
  );
});
