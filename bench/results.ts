import fs from 'node:fs';
import os from 'node:os';

const FILE = 'bench/RESULTS.md';

/** Collects a run's report: printed as it goes, then merged into bench/RESULTS.md by workload id. */
export class Report {
  private readonly lines: string[] = [];

  constructor(title: string) {
    this.say(`# ${title}`);
    this.say();
    this.say(
      `${new Date().toISOString()} · ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'} · ${Math.round(os.totalmem() / 2 ** 30)} GiB · Node ${process.version}`,
    );
  }

  say(s = ''): void {
    console.log(s);
    this.lines.push(s);
  }

  /**
   * Writes the run's `## <id> …` sections into bench/RESULTS.md, keeping the sections of
   * workloads this run did not cover (runs can be narrowed with BENCH_ONLY).
   */
  write(): void {
    const sections = (text: string) =>
      new Map(
        text
          .split(/^(?=## )/m)
          .slice(1)
          .map((sec) => [sec.slice(3, sec.indexOf(' ', 3)), sec.trimEnd()]),
      );
    const text = this.lines.join('\n');
    const previous = fs.existsSync(FILE) ? fs.readFileSync(FILE, 'utf8') : '';
    const before = sections(previous);
    const now = sections(text);
    const header = `# Benchmark results\n\nEach section says when and on what it was measured. \`npm run bench\` (sync: S1–S4, S7–S10), \`npm run bench:cluster\` (S1-, S3-, S4-cluster: several processes on PostgreSQL), \`npm run bench:store\` (S5, S11, P1), \`npm run bench:delivery\` (D1, D2), \`npm run bench:events\` (E1).`;
    // S…, then P…, then E…, then D…; by number within a letter; S4 before S4-append.
    const order = (id: string) => [id[0]!, Number(/\d+/.exec(id)?.[0] ?? 0)] as const;
    const ids = [...new Set([...before.keys(), ...now.keys()])].sort((a, b) => {
      const [pa, na] = order(a);
      const [pb, nb] = order(b);
      return pa !== pb ? pb.localeCompare(pa) : na !== nb ? na - nb : a.length - b.length;
    });
    const stamp = text.split(/^## /m)[0]!.split('\n').slice(2).join('\n').trim();
    const merged = ids.map((id) =>
      now.has(id) ? `${now.get(id)!}\n\n_${stamp}_` : before.get(id)!,
    );
    fs.writeFileSync(FILE, `${[header, ...merged].join('\n\n')}\n`);
  }
}

export const fmt = (n: number, d = 2): string => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');
