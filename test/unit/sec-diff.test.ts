import { describe, expect, it } from 'vitest';
import { sampleContent } from '#schema/content/sample.ts';
import {
  DIFF_BUDGET_MS,
  DIFF_MAX_EDIT_LINES,
  diffContent,
  itemFieldChanges,
} from '#schema/content/diff.ts';
import { numberedLines, timed } from '../helpers/hostile.ts';

/** SEC-6 (the diff part): a line diff's work is bounded; past the bound a text shows as replaced whole, with a note. */
describe('SEC-6 bounded diffs', () => {
  it('SEC-6 two 16,000-line texts that share nothing diff in well under a second, as replaced whole with a note', async () => {
    const { ms, result } = await timed(() =>
      itemFieldChanges(
        'knowledge',
        { title: 'A', body: numberedLines('old', 16_000) },
        { title: 'A', body: numberedLines('new', 16_000) },
      ),
    );
    console.log(`SEC-6 itemFieldChanges, 2 × 16,000 lines: ${ms.toFixed(1)} ms`);
    expect(ms).toBeLessThan(1000);
    const body = result.find((f) => f.field === 'body')!;
    expect(body.kind).toBe('text');
    expect(body.lines).toBeUndefined();
    expect(body.note).toMatch(/replaced.*16,000 lines before, 16,000 after/);
  });

  it('SEC-6 the bound holds for a whole diff of many such items (one budget for all)', async () => {
    const a = sampleContent();
    const b = sampleContent();
    for (let i = 0; i < 20; i++) {
      a.knowledge[`kb_big${i}`] = { title: `Big ${i}`, body: numberedLines(`old${i}`, 16_000) };
      b.knowledge[`kb_big${i}`] = { title: `Big ${i}`, body: numberedLines(`new${i}`, 16_000) };
    }
    // Long lines sharing a long prefix make every line comparison costly: the time budget stops them.
    const prefix = 'x'.repeat(20_000);
    a.agents.agt_support!.instructions = Array.from(
      { length: 900 },
      (_, i) => `${prefix}a${i}`,
    ).join('\n');
    b.agents.agt_support!.instructions = Array.from(
      { length: 900 },
      (_, i) => `${prefix}b${i}`,
    ).join('\n');
    const { ms, result } = await timed(() => diffContent(a, b));
    console.log(
      `SEC-6 diffContent, 20 items of 2 × 16,000 lines and 900 costly lines: ${ms.toFixed(1)} ms`,
    );
    expect(ms).toBeLessThan(3 * DIFF_BUDGET_MS + 1000);
    expect(result.counts.knowledge).toBe(20);
    expect(
      result.sections.agents[0]!.fields.find((f) => f.field === 'instructions')!.note,
    ).toBeDefined();
  });

  it('SEC-6 small changes in long texts and texts added whole still diff line by line', () => {
    const before = numberedLines('same', 16_000);
    const after = before.replace('same line 8000\n', 'changed line 8000\n');
    const [changed] = itemFieldChanges(
      'knowledge',
      { title: 'A', body: before },
      { title: 'A', body: after },
    );
    expect(changed!.note).toBeUndefined();
    expect(changed!.lines!.filter((l) => l.op !== 'same')).toEqual([
      { op: 'del', text: 'same line 8000' },
      { op: 'add', text: 'changed line 8000' },
    ]);
    const added = itemFieldChanges(
      'knowledge',
      {},
      { title: 'A', body: numberedLines('new', 16_000) },
    ).find((f) => f.field === 'body')!;
    expect(added.lines).toHaveLength(16_000);
    expect(added.lines!.every((l) => l.op === 'add')).toBe(true);
    // Just within the bound: still a line diff.
    const edits = DIFF_MAX_EDIT_LINES / 2;
    const near = itemFieldChanges(
      'knowledge',
      { body: numberedLines('a', edits) },
      { body: numberedLines('b', edits) },
    ).find((f) => f.field === 'body')!;
    expect(near.lines).toHaveLength(2 * edits);
  });
});
