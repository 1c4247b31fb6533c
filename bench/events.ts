// E1: the project event stream's fan-out, `npm run bench:events`. Our bundled server in its own
// process; N readers of `GET /api/projects/:id/events` here. Each round changes a gate (one
// `gates` event every reader may see) and times, per reader, from sending the change to the
// event's arrival. Prints a table and merges it into bench/RESULTS.md. There is no reference
// server for this: the figures are ours alone.
import { startServer } from './sync/servers.ts';
import { Report, fmt } from './results.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 20);
const READERS = (process.env.BENCH_READERS ?? '10,200,1000').split(',').map(Number);
const report = new Report('Event stream benchmark');
const server = await startServer('stagecoach');

/** Opens a stream and calls `onEvent(kind, receivedAt)` for each message. */
async function openStream(
  url: string,
  token: string,
  onEvent: (kind: string, at: number) => void,
): Promise<AbortController> {
  const abort = new AbortController();
  const res = await fetch(url, {
    headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
    signal: abort.signal,
  });
  if (res.status !== 200) throw new Error(`stream refused: ${res.status} ${await res.text()}`);
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  void (async () => {
    let buf = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buf += value;
        let end: number;
        while ((end = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          const data = block.split('\n').find((l) => l.startsWith('data:'));
          if (data)
            onEvent((JSON.parse(data.slice(5)) as { kind: string }).kind, performance.now());
        }
      }
    } catch {
      // aborted
    }
  })();
  return abort;
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};

try {
  const http = server.providerBase.replace(/^ws/, 'http').replace(/\/collab$/, '');
  const token = server.params.token!;
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${http}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return res.json() as Promise<unknown>;
  };
  const { projects } = (await call('GET', '/api/projects')) as { projects: { id: string }[] };
  const projectId = projects[0]!.id;
  const project = (await call('GET', `/api/projects/${projectId}`)) as {
    environments: { id: string }[];
  };
  const gated = project.environments[1]!.id;

  report.say();
  report.say(
    `## E1 — event stream fan-out: one \`gates\` event to N readers of one project, ${ROUNDS} rounds each (time from sending the change to the event reaching each reader, all on this machine)`,
  );
  report.say();
  report.say('| readers | change p50 ms | delivery p50 ms | p99 ms | max ms | events delivered |');
  report.say('|---|---|---|---|---|---|');
  for (const n of READERS) {
    let waiting = 0;
    let roundDone: (() => void) | null = null;
    let sentAt = 0;
    const delays: number[] = [];
    const changes: number[] = [];
    const streams: AbortController[] = [];
    for (let i = 0; i < n; i++)
      streams.push(
        await openStream(`${http}/api/projects/${projectId}/events`, token, (kind, at) => {
          if (kind !== 'gates' || sentAt === 0) return;
          delays.push(at - sentAt);
          if (--waiting === 0) roundDone?.();
        }),
      );
    for (let r = 0; r < ROUNDS; r++) {
      waiting = n;
      const done = new Promise<void>((resolve) => (roundDone = resolve));
      sentAt = performance.now();
      await call('PUT', `/api/environments/${gated}/gate`, {
        requiredApprovals: r % 2,
        allowSelfApproval: false,
      });
      changes.push(performance.now() - sentAt);
      await done;
      sentAt = 0;
    }
    for (const s of streams) s.abort();
    report.say(
      `| ${n} | ${fmt(pct(changes, 50), 1)} | ${fmt(pct(delays, 50), 1)} | ${fmt(pct(delays, 99), 1)} | ${fmt(Math.max(...delays), 1)} | ${delays.length} |`,
    );
  }
} finally {
  await server.stop();
}
report.write();
process.exit(0);
