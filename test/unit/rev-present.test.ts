import { describe, expect, it } from 'vitest';
import { diffContent, type LinePart } from '#schema/content/diff.ts';
import {
  diffTitle,
  fieldSpec,
  foldUnchanged,
  listDelta,
  lookupContent,
  lookupIn,
  pairsDelta,
  partsToLines,
  presentValue,
  shownText,
  summarize,
  unchangedLine,
  withUnit,
} from '#schema/content/present.ts';
import { sampleContent } from '#schema/content/sample.ts';
import type { WorkspaceContent } from '#schema/content/ydoc.ts';

const sample = sampleContent();
const look = lookupContent(sample);

describe('REV-10 content as a person reads it', () => {
  it('REV-10 references by name, single or lists; a dangling id reads "missing: <id>"', () => {
    expect(presentValue(fieldSpec('agents', 'integrations'), ['int_order_status'], look)).toEqual({
      kind: 'refs',
      single: false,
      refs: [
        {
          section: 'integrations',
          id: 'int_order_status',
          name: 'Order status API',
          text: 'Order status API',
        },
      ],
    });
    const gone = presentValue(fieldSpec('agents', 'workflows'), ['wf_ticket', 'wf_gone'], look);
    expect(shownText(gone)).toBe('Open a ticket, missing: wf_gone');
    expect(gone.kind === 'refs' && gone.refs[1]!.name).toBeNull();
    // Names from a diff's answer, per side.
    const names = lookupIn({ agents: { agt_escalation: 'Escalation agent' } });
    expect(names('agents', 'agt_escalation')).toBe('Escalation agent');
    expect(names('agents', 'toString')).toBeUndefined();
  });

  it('REV-10 enum codes read as their labels, from the spec', () => {
    expect(
      shownText(presentValue(fieldSpec('integrations', 'authType'), 'api_key_header', look)),
    ).toBe('API key header');
    expect(shownText(presentValue(fieldSpec('agents', 'tone'), 'empathetic', look))).toBe(
      'Empathetic',
    );
    expect(shownText(presentValue(fieldSpec('channels', 'position'), 'bottom-left', look))).toBe(
      'Bottom left',
    );
    expect(shownText(presentValue(fieldSpec('variables', 'type'), 'boolean', look))).toBe('Yes/No');
  });

  it('REV-10 headers as rows, numbers with units, Yes/No, lists as lists, empty as empty', () => {
    expect(
      presentValue(
        fieldSpec('integrations', 'headers'),
        sample.integrations.int_order_status!.headers,
        look,
      ),
    ).toEqual({
      kind: 'pairs',
      rows: [
        { name: 'Accept', value: 'application/json' },
        { name: 'X-Requested-By', value: '{{company}} support bot' },
      ],
    });
    expect(shownText(presentValue(fieldSpec('integrations', 'timeoutMs'), 30_000, look))).toBe(
      '30 s',
    );
    expect(withUnit(150, 'ms')).toBe('150 ms');
    expect(withUnit(1500, 'ms')).toBe('1.5 s');
    expect(withUnit(180_000, 'ms')).toBe('3 min');
    expect(withUnit(45, 's')).toBe('45 s');
    expect(shownText(presentValue(undefined, true, look))).toBe('Yes');
    expect(shownText(presentValue(undefined, false, look))).toBe('No');
    expect(presentValue(fieldSpec('knowledge', 'tags'), ['a', 'b'], look)).toEqual({
      kind: 'list',
      items: ['a', 'b'],
    });
    expect(presentValue(fieldSpec('knowledge', 'tags'), [], look)).toEqual({ kind: 'empty' });
    expect(presentValue(fieldSpec('knowledge', 'body'), '# Hi', look)).toEqual({
      kind: 'text',
      text: '# Hi',
      markdown: true,
    });
  });

  it('REV-10 workflow steps by their labels, references by name, jump targets by position', () => {
    const text = shownText(
      presentValue(fieldSpec('workflows', 'steps'), sample.workflows.wf_order_status!.steps, look),
    );
    expect(text).toContain('5. Hand off to an agent — Agent: Escalation agent');
    expect(text).toContain(
      '1. Ask a question — Question: Sure! What is your order number? · Save the answer in: order_id',
    );
    expect(text).toContain('Operator: is empty');
    expect(text).toContain('Then jump to step: step 5 (Hand off to an agent)');
    expect(text).not.toMatch(/\b(agt|var|int|st)_/);
  });

  it('REV-10 lists and header tables compared entry by entry', () => {
    expect(listDelta(['a', 'b', 'c'], ['a', 'c', 'd'])).toEqual([
      { op: 'same', value: 'a' },
      { op: 'del', value: 'b' },
      { op: 'same', value: 'c' },
      { op: 'add', value: 'd' },
    ]);
    expect(
      pairsDelta(
        [
          { name: 'Accept', value: 'text/plain' },
          { name: 'X-Old', value: '1' },
          { name: 'X-Same', value: 's' },
        ],
        [
          { name: 'Accept', value: 'application/json' },
          { name: 'X-Same', value: 's' },
          { name: 'X-New', value: '2' },
        ],
      ),
    ).toEqual([
      { op: 'changed', name: 'Accept', value: 'application/json', before: 'text/plain' },
      { op: 'same', name: 'X-Same', value: 's' },
      { op: 'add', name: 'X-New', value: '2' },
      { op: 'del', name: 'X-Old', value: '1' },
    ]);
  });

  it('REV-10 unchanged lines are context; runs longer than a few are folded', () => {
    const parts: LinePart[] = [
      { op: 'same', text: 'l1\nl2\nl3\nl4\nl5\nl6\nl7\nl8\nRefunds within ' },
      { op: 'del', text: 'thirty' },
      { op: 'add', text: 'forty' },
      { op: 'same', text: ' days.\nt1\nt2\n' },
    ];
    const lines = partsToLines(parts);
    expect(lines).toHaveLength(11);
    const hunks = foldUnchanged(lines, unchangedLine, 2, 3);
    expect(hunks.map((h) => [h.kind, h.start, h.lines.length])).toEqual([
      ['fold', 0, 6],
      ['show', 6, 5],
    ]);
    // A short run stays shown; nothing changed shows everything.
    expect(foldUnchanged([1, 0, 0, 0, 1], (x) => x === 0, 0, 3).map((h) => h.kind)).toEqual([
      'show',
    ]);
    expect(foldUnchanged([0, 0], (x) => x === 0)).toEqual([
      { kind: 'show', start: 0, lines: [0, 0] },
    ]);
  });

  it('REV-10 a summary first, and titles in the direction of the move', () => {
    const after = structuredClone(sample) as WorkspaceContent;
    after.agents.agt_support!.tone = 'formal';
    after.agents.agt_escalation!.tone = 'formal';
    after.agents.agt_escalation!.description = 'Changed.';
    after.workflows.wf_new = { ...sample.workflows.wf_ticket!, name: 'New flow' };
    delete after.knowledge.kb_sizes;
    expect(summarize(diffContent(sample, after))).toBe(
      '2 agents changed, 1 workflow added, 1 article removed — 3 fields',
    );
    expect(summarize(diffContent(sample, sample))).toBe('Nothing differs');

    const env = (ref: string, environment: string) => ({
      ref,
      label: environment,
      environment,
      snapshotId: null,
    });
    expect(diffTitle(env('env:t', 'TEST'), env('env:d', 'DEV'))).toBe(
      'What DEV would bring to TEST',
    );
    expect(diffTitle(env('live:p', 'PROD'), env('env:p', 'PROD'))).toBe(
      'What is live in PROD vs. what was synced',
    );
    expect(
      diffTitle(env('live:p', 'PROD'), {
        ref: 'snapshot:abc',
        label: 'x',
        snapshotId: 'abcdef0123',
      }),
    ).toBe('What snapshot #abcdef01 would bring live in PROD');
  });

  it('REV-10 a new item shows every field it holds, its defaults included (a first release is readable whole)', () => {
    const empty = {
      agents: {},
      workflows: {},
      knowledge: {},
      integrations: {},
      channels: {},
      variables: {},
    };
    const d = diffContent(empty, sample);
    const agent = d.sections.agents.find((a) => a.id === 'agt_support')!;
    expect(agent.kind).toBe('added');
    // 'friendly' is the tone's default: shown all the same, in the spec's order.
    expect(agent.fields.map((f) => f.field)).toEqual([
      'name',
      'description',
      'instructions',
      'behavior',
      'fallbackMessage',
      'tone',
      'integrations',
      'workflows',
      'audiences',
    ]);
    expect(agent.fields.find((f) => f.field === 'tone')).toMatchObject({
      kind: 'value',
      after: 'friendly',
    });
  });
});
