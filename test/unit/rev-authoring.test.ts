import { describe, expect, it } from 'vitest';
import { EditorSelection, EditorState } from '@codemirror/state';
import { markdown } from '@codemirror/lang-markdown';
import {
  MAX_COMPLETIONS,
  brokenReferences,
  completionAt,
  filterNames,
  guessVariableType,
  typedOverMarker,
} from '#web/lib/authoring.ts';
import {
  brokenNames,
  continuedField,
  listEnter,
  menuField,
  overMarker,
  setVariables,
  templateAids,
} from '#web/lib/editor/authoring.ts';
import { readTemplate } from '#schema/content/templates.ts';

/** `|` marks the cursor. */
const at = (s: string) => completionAt(s.replace('|', ''), s.indexOf('|'));

describe('REV-40 {{ completion of variable names', () => {
  it('REV-40 opens after {{ with what was typed, and only in an open reference', () => {
    expect(at('Hello {{|')).toEqual({ from: 8, to: 8, query: '', closed: false });
    expect(at('Hello {{ us|')).toEqual({ from: 9, to: 11, query: 'us', closed: false });
    expect(at('Hi {{user.na|')?.query).toBe('user.na');
    // Editing inside a closed reference replaces its whole name and keeps its `}}`.
    expect(at('Hi {{us|er }} there')).toEqual({ from: 5, to: 9, query: 'us', closed: true });
    expect(at('Hello |')).toBeNull();
    expect(at('Hello {|')).toBeNull();
    expect(at('{{a}} b|')).toBeNull();
    expect(at('{{a b|')).toBeNull();
    expect(at('{{{|')).toBeNull();
  });

  it('REV-40 filters case-insensitively, prefix matches first, bounded', () => {
    const names = ['order_id', 'company', 'support_email', 'user.email', 'Orders_api'];
    expect(filterNames(names, '')).toEqual(names);
    expect(filterNames(names, 'or')).toEqual(['order_id', 'Orders_api', 'support_email']);
    expect(filterNames(names, 'email')).toEqual(['support_email', 'user.email']);
    expect(filterNames(names, 'zz')).toEqual([]);
    const many = Array.from({ length: 500 }, (_, i) => `v${i}`);
    expect(filterNames(many, 'v')).toHaveLength(MAX_COMPLETIONS);
  });
});

describe('REV-40 REV-41 the editor state: typing opens the list, the variables judge references', () => {
  it('REV-40 typing {{ opens the list on the cursor line; a remote change does not', () => {
    let state = EditorState.create({
      doc: 'First line\nHi ',
      selection: EditorSelection.cursor(14),
      extensions: templateAids('list'),
    });
    state = state.update({
      effects: setVariables.of({ names: ['order_id', 'company', 'user.name'], judged: true }),
    }).state;
    const type = (text: string, userEvent = 'input.type') => {
      const pos = state.selection.main.head;
      state = state.update({
        changes: { from: pos, insert: text },
        selection: EditorSelection.cursor(pos + text.length),
        userEvent,
      }).state;
    };
    type('{{');
    expect(state.field(menuField)?.options).toEqual(['order_id', 'company', 'user.name']);
    type('c');
    expect(state.field(menuField)).toMatchObject({
      options: ['company'],
      context: { from: 16, to: 17, query: 'c', closed: false },
    });
    type(' ');
    expect(state.field(menuField)).toBeNull();
    // A collaborator's `{{` (no user event) opens nothing here.
    type('{{', 'remote');
    expect(state.field(menuField)).toBeNull();
  });

  it('REV-41 broken names follow the text and the variables, and nothing is judged before the variables are known', () => {
    let state = EditorState.create({
      doc: 'Hi {{company}} {{nope}} {{nope}}',
      extensions: templateAids('list'),
    });
    expect(brokenNames(state)).toEqual([]);
    state = state.update({ effects: setVariables.of({ names: ['company'], judged: true }) }).state;
    expect(brokenNames(state)).toEqual(['nope']);
    state = state.update({
      effects: setVariables.of({ names: ['company', 'nope'], judged: true }),
    }).state;
    expect(brokenNames(state)).toEqual([]);
    state = state.update({ effects: setVariables.of({ names: [], judged: false }) }).state;
    expect(brokenNames(state)).toEqual([]);
  });
});

describe('REV-41 broken references are found where they are', () => {
  it('REV-41 ranges of unknown names, the same references validation reads', () => {
    const text = 'Hi {{user.name}}, order {{ order_id }} by {{nope}} and {{ }}.';
    const known = new Set(['user.name', 'order_id']);
    const broken = brokenReferences(text, known);
    expect(broken.map((b) => [text.slice(b.from, b.to), b.name])).toEqual([
      ['{{nope}}', 'nope'],
      ['{{ }}', ''],
    ]);
    expect(readTemplate(text).references).toEqual(['user.name', 'order_id', 'nope', '']);
  });

  it('REV-41 a created variable gets a sensible type from its name', () => {
    expect(guessVariableType('max_refund_eur')).toBe('number');
    expect(guessVariableType('orders_api')).toBe('url');
    expect(guessVariableType('is_vip')).toBe('boolean');
    expect(guessVariableType('company')).toBe('string');
  });
});

/** Runs the editor's Enter (and then types `typed`) on `doc` with the cursor at its end. */
function enter(doc: string, typed = ''): string {
  let state = EditorState.create({
    doc,
    selection: EditorSelection.cursor(doc.length),
    extensions: [markdown(), continuedField],
  });
  expect(listEnter({ state, dispatch: (tr) => (state = tr.state) })).toBe(true);
  for (const ch of typed) {
    const pos = state.selection.main.head;
    const spec = overMarker(state, pos, pos, ch) ?? {
      changes: { from: pos, insert: ch },
      selection: EditorSelection.cursor(pos + 1),
    };
    state = state.update(spec).state;
  }
  return state.doc.toString();
}

describe('REV-42 Markdown list continuation', () => {
  it('REV-42 Enter continues a list; typing a bullet oneself does not double it', () => {
    expect(enter('- item')).toBe('- item\n- ');
    expect(enter('- item', '- next')).toBe('- item\n- next');
    expect(enter('- item', 'next')).toBe('- item\n- next');
    expect(enter('1. one', '2. two')).toBe('1. one\n2. two');
    expect(enter('  * nested', '* b')).toBe('  * nested\n  * b');
  });

  it('REV-42 Enter on an empty item ends the list', () => {
    expect(enter('- item\n- ')).toBe('- item\n\n');
    expect(enter('Intro\n\n- a\n- b\n- ', 'Next')).toBe('Intro\n\n- a\n- b\n\nNext');
  });

  it('REV-42 a bullet typed on a line the person started keeps its text', () => {
    expect(typedOverMarker('- ', '-')).toBe('-');
    expect(typedOverMarker('- ', 'x')).toBeNull();
    expect(typedOverMarker('1. ', '-')).toBeNull();
    expect(typedOverMarker('- a', '-')).toBeNull();
    let state = EditorState.create({ doc: '- ', extensions: [continuedField] });
    // Not continued by the editor: "- -" stays possible (a rule "- - -").
    expect(overMarker(state, 2, 2, '-')).toBeNull();
    state = EditorState.create({ doc: '- ' });
    expect(overMarker(state, 2, 2, '-')).toBeNull();
  });
});
