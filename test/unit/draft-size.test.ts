import { describe, expect, it } from 'vitest';
import { DraftBudget } from '#server/collab/draft-size.ts';

describe('SEC-8 draft size budget', () => {
  it('SEC-8 admits by the estimate, measures before refusing, and a refused peer cannot make it measure again and again', () => {
    const budget = new DraftBudget(1000, 100);
    let measures = 0;
    const measure = (bytes: number) => () => (measures++, bytes);
    expect(budget.admits(800, measure(0))).toBe(true);
    budget.grew(800); // estimate 900
    // Over by the estimate, but the draft really holds 300 (content was overwritten): measured, admitted.
    expect(budget.admits(500, measure(300))).toBe(true);
    expect(measures).toBe(1);
    budget.grew(500); // estimate 800, 500 applied since the measurement
    // Really over: measured once, refused; refusing again costs no new measurement until enough was applied.
    for (let i = 0; i < 100; i++) expect(budget.admits(300, measure(800))).toBe(false);
    expect(measures).toBe(2);
    budget.grew(70); // ≥ 1/16 of the bound applied since: one more measurement allowed
    expect(budget.admits(300, measure(870))).toBe(false);
    expect(measures).toBe(3);
    budget.measured(200); // a compaction measured it
    expect(budget.admits(300, measure(0))).toBe(true);
    expect(measures).toBe(3);
  });
});
