// D1: the delivery API of a published 1 MB workspace, `npm run bench:delivery`.
// Our bundled server in its own process; autocannon here. The 304 path (If-None-Match) and the
// 200 path (a serialization cached per ETag). D2: how fast waiting long-polls (`?wait=`) learn of a
// change. Prints a table and merges it into bench/RESULTS.md (BENCH_ONLY=D2 runs one of them).
import os from 'node:os';
import autocannon from 'autocannon';
import { startServer } from './sync/servers.ts';
import { seedBig } from './sync/workloads.ts';
import { Report, fmt } from './results.ts';

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const only = (process.env.BENCH_ONLY ?? 'D1,D2').split(',');
/** D2: runtime keys × waiting long-polls per key (DELIVERY_WAITS_PER_KEY's default). */
const KEYS = 25;
const PER_KEY = 20;
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

  if (only.includes('D1')) {
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
  }

  if (only.includes('D2')) {
    // Waiting long-polls on production, then one variable override: each must come back 200.
    const keys = [key];
    while (keys.length < KEYS)
      keys.push(
        (
          await call<{ key: string }>('POST', `/api/environments/${prod.id}/runtime-keys`, {
            name: `bench ${keys.length}`,
          })
        ).key,
      );
    const current = await fetch(url, { headers: { authorization: `Bearer ${key}` } });
    const now = current.headers.get('etag')!;
    await current.arrayBuffer();
    let woken = 0;
    const answered: number[] = [];
    const headed: number[] = [];
    let changedAt = 0;
    const waits = keys.flatMap((k) =>
      Array.from({ length: PER_KEY }, async () => {
        const res = await fetch(`${url}?wait=60`, {
          headers: { authorization: `Bearer ${k}`, 'if-none-match': now },
        });
        headed.push(performance.now() - changedAt);
        await res.arrayBuffer();
        if (res.status === 200) woken++;
        answered.push(performance.now() - changedAt);
      }),
    );
    // The waits are held once the server answers a further one 429 (every key's places taken).
    for (;;) {
      const probe = await fetch(`${url}?wait=1`, {
        headers: { authorization: `Bearer ${keys.at(-1)!}`, 'if-none-match': now },
      });
      await probe.arrayBuffer();
      if (probe.status === 429) break;
    }
    changedAt = performance.now();
    await call('PUT', `/api/environments/${prod.id}/variables/company`, { value: 'Bench Ltd' });
    const putMs = performance.now() - changedAt;
    await Promise.all(waits);
    answered.sort((a, b) => a - b);
    headed.sort((a, b) => a - b);
    const at = (q: number, xs = answered) =>
      xs[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;
    report.say();
    report.say(
      `## D2 — long-poll wake-up: ${keys.length * PER_KEY} waiting \`GET /api/delivery/:envId?wait=60\` (${keys.length} runtime keys × ${PER_KEY}), one variable override in production (target: every waiter answered 200 within a second)`,
    );
    report.say();
    report.say(
      `(ms after the PUT was sent; "headers": the 200 reached the client, "body": its ${(size / 1e6).toFixed(2)} MB were read — the client reads all bodies on one core; load average ${os.loadavg()[0]!.toFixed(1)})`,
    );
    report.say();
    report.say(
      '| waiters | woken (200) | PUT ms | headers first | headers p50 | headers p99 | headers last | body p50 | body last |',
    );
    report.say('|---|---|---|---|---|---|---|---|---|');
    report.say(
      `| ${answered.length} | ${woken} | ${fmt(putMs, 1)} | ${fmt(headed[0]!, 1)} | ${fmt(at(0.5, headed), 1)} | ${fmt(at(0.99, headed), 1)} | ${fmt(headed.at(-1)!, 1)} | ${fmt(at(0.5), 1)} | ${fmt(answered.at(-1)!, 1)} |`,
    );
  }
} finally {
  await server.stop();
}
report.write();
process.exit(0);
