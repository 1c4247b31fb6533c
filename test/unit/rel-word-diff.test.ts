import { describe, expect, it } from 'vitest';
import { DIFF_BUDGET_MS, diffBudget, wordDiff } from '#schema/content/diff.ts';
import { numberedLines, timed } from '../helpers/hostile.ts';

/** Issue 13 point 8: the conflict panel marks changed words; that work is bounded like line diffs. */
describe('REL-8 word marks for side-by-side diffs', () => {
  it('REL-8 one word changed deep in a long text: each side is its whole text, only that word marked', () => {
    const text = (w: string) =>
      `${numberedLines('same', 2000)}Refunds within ${w} days.\n${numberedLines('tail', 500)}`;
    const parts = wordDiff(text('thirty'), text('forty'), diffBudget())!;
    const side = (skip: 'add' | 'del') => parts.filter((p) => p.op !== skip);
    expect(
      side('add')
        .map((p) => p.text)
        .join(''),
    ).toBe(text('thirty'));
    expect(
      side('del')
        .map((p) => p.text)
        .join(''),
    ).toBe(text('forty'));
    expect(parts.filter((p) => p.op !== 'same').map((p) => [p.op, p.text])).toEqual([
      ['del', 'thirty'],
      ['add', 'forty'],
    ]);
  });

  it('REL-8 two long texts sharing nothing: no marks (shown whole), within the diff budget', async () => {
    const { ms, result } = await timed(() =>
      wordDiff(numberedLines('old', 16_000), numberedLines('new', 16_000), diffBudget()),
    );
    console.log(`REL-8 wordDiff, 2 × 16,000 lines sharing nothing: ${ms.toFixed(1)} ms`);
    expect(result).toBeUndefined();
    expect(ms).toBeLessThan(DIFF_BUDGET_MS + 1000);
  });
});
