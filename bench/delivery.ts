// D1: the delivery API of a published 1 MB workspace, `npm run bench:delivery`.
// Our bundled server in its own process; autocannon here. The 304 path (If-None-Match) and the
// 200 path (a serialization cached per ETag). Prints a table and merges it into bench/RESULTS.md.
import autocannon from 'autocannon';
import { startServer } from './sync/servers.ts';
import { seedBig } from './sync/workloads.ts';
import { Report, fmt } from './results.ts';

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const report = new Report('Delivery benchmark');
const server = await startServer('stagecoach');
try {
  const http = server.providerBase.replace(/^ws/, 'http').replace(/\/collab$/, '');
  const auth = {
    authorization: `Bearer ${server.params.token!}`,
    'content-type': 'application/json',
  };
  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${http}${path}`, {
      method,
      headers: auth,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };
  const bytes = await seedBig(server, server.room, 400);
  const projects = await call<{ projects: { id: string }[] }>('GET', '/api/projects');
  const project = await call<{ environments: { id: string }[] }>(
    'GET',
    `/api/projects/${projects.projects[0]!.id}`,
  );
  const envs = project.environments;
  for (const e of envs.slice(0, -1))
    await call('POST', `/api/environments/${e.id}/sync`, { confirmMissingSecrets: true });
  const prod = envs[envs.length - 1]!;
  await call('POST', `/api/environments/${prod.id}/publish`, { confirmMissingSecrets: true });
  const { key } = await call<{ key: string }>('POST', `/api/environments/${prod.id}/runtime-keys`, {
    name: 'bench',
  });
  const url = `${http}/api/delivery/${prod.id}`;
  const first = await fetch(url, { headers: { authorization: `Bearer ${key}` } });
  const etag = first.headers.get('etag')!;
  const size = (await first.arrayBuffer()).byteLength;

  report.say();
  report.say(
    `## D1 — delivery API, published workspace (${(bytes / 1e6).toFixed(1)} MB as a Yjs document, ${(size / 1e6).toFixed(2)} MB of JSON), autocannon, 20 connections, ${seconds} s per path (target: report req/s and p99; the 200 path serves a cached serialization)`,
  );
  report.say();
  report.say('| path | req/s | p50 ms | p99 ms | max ms | MB/s | non-2xx/304 |');
  report.say('|---|---|---|---|---|---|---|');
  for (const [label, target, headers, expected] of [
    ['for scale: GET /api/health (no auth, no database)', `${http}/api/health`, {}, 200],
    ['304 (If-None-Match)', url, { authorization: `Bearer ${key}`, 'if-none-match': etag }, 304],
    ['200 (full body)', url, { authorization: `Bearer ${key}` }, 200],
  ] as const) {
    const r = await autocannon({
      url: target,
      connections: 20,
      duration: seconds,
      headers: { ...headers },
    });
    const statuses = r.statusCodeStats as unknown as Record<string, { count: number }>;
    const wrong = Object.entries(statuses)
      .filter(([code]) => Number(code) !== expected)
      .reduce((n, [, v]) => n + v.count, 0);
    report.say(
      `| ${label} | ${fmt(r.requests.average, 0)} | ${fmt(r.latency.p50, 1)} | ${fmt(r.latency.p99, 1)} | ${fmt(r.latency.max, 1)} | ${fmt(r.throughput.average / 1e6, 1)} | ${wrong} |`,
    );
  }
} finally {
  await server.stop();
}
report.write();
process.exit(0);
