/**
 * CodeMirror wiring for the authoring aids (the pure rules are in web/lib/authoring.ts):
 * - `{{` completion: a state field says whether a completion list is open, for which typed name
 *   and which option is active; the component renders the list (ARIA listbox) from it, and the
 *   editable content is its combobox. Choosing edits the document, so y-codemirror carries the
 *   change into the Y.Text: collaborators see it and undo takes it back.
 * - broken references underlined where they are;
 * - Markdown list continuation that does not double the bullet and ends on an empty item.
 */
import {
  EditorSelection,
  Prec,
  StateEffect,
  StateField,
  type EditorState,
  type Extension,
  type StateCommand,
  type Transaction,
  type TransactionSpec,
} from '@codemirror/state';
import { Decoration, EditorView, keymap, type DecorationSet } from '@codemirror/view';
import { insertNewlineContinueMarkup } from '@codemirror/lang-markdown';
import {
  brokenReferences,
  completionAt,
  filterNames,
  isEmptyItem,
  typedOverMarker,
  type CompletionContext,
} from '#web/lib/authoring.ts';

export interface Variables {
  /** Every name a template may use (declared and system variables), in display order. */
  names: readonly string[];
  /** Whether unknown names are problems here (false while the variables are not known). */
  judged: boolean;
}

export interface Menu {
  context: CompletionContext;
  options: string[];
  active: number;
}

export const setVariables = StateEffect.define<Variables>();
const moveActive = StateEffect.define<number>();
const closeMenu = StateEffect.define<null>();

const variablesField = StateField.define<Variables>({
  create: () => ({ names: [], judged: false }),
  update: (value, tr) => tr.effects.find((e) => e.is(setVariables))?.value ?? value,
});

function menuFor(state: EditorState, previous: Menu | null): Menu | null {
  const sel = state.selection.main;
  if (!sel.empty) return null;
  // A reference never spans lines: only the cursor's line is read (bounded work per keystroke).
  const line = state.doc.lineAt(sel.head);
  const inLine = completionAt(line.text, sel.head - line.from);
  if (!inLine) return null;
  const context = { ...inLine, from: inLine.from + line.from, to: inLine.to + line.from };
  const options = filterNames(state.field(variablesField).names, context.query);
  if (options.length === 0) return null;
  const keep = previous ? options.indexOf(previous.options[previous.active] ?? '') : -1;
  return { context, options, active: Math.max(0, keep) };
}

/** The open completion list, if any. Typing opens it; a remote change or moving the cursor only keeps it current. */
export const menuField = StateField.define<Menu | null>({
  create: () => null,
  update(menu, tr) {
    for (const e of tr.effects) {
      if (e.is(closeMenu)) return null;
      if (e.is(moveActive) && menu) {
        const n = menu.options.length;
        return { ...menu, active: (menu.active + e.value + n) % n };
      }
    }
    const typed = tr.isUserEvent('input.type') || tr.isUserEvent('delete.backward');
    if (typed || (menu && (tr.docChanged || tr.selection)) || (menu && tr.effects.length > 0))
      return menuFor(tr.state, menu);
    return menu;
  },
});

/** Replaces the typed name with `name` (and closes the reference unless it already is). */
export function choose(view: EditorView, name: string): void {
  const menu = view.state.field(menuField);
  if (!menu) return;
  const { from, to, closed } = menu.context;
  // Past the `}}` either way: after the one inserted, or after the one already there.
  const gap = closed ? view.state.doc.sliceString(to, to + 200).indexOf('}}') : 0;
  view.dispatch({
    changes: { from, to, insert: closed ? name : `${name}}}` },
    selection: EditorSelection.cursor(from + name.length + gap + 2),
    effects: closeMenu.of(null),
    userEvent: 'input.complete',
  });
}

const whenOpen =
  (run: (view: EditorView, menu: Menu) => void) =>
  (view: EditorView): boolean => {
    const menu = view.state.field(menuField);
    if (!menu) return false;
    run(view, menu);
    return true;
  };

const menuKeys = Prec.highest(
  keymap.of([
    { key: 'ArrowDown', run: whenOpen((v) => v.dispatch({ effects: moveActive.of(1) })) },
    { key: 'ArrowUp', run: whenOpen((v) => v.dispatch({ effects: moveActive.of(-1) })) },
    { key: 'Enter', run: whenOpen((v, m) => choose(v, m.options[m.active]!)) },
    { key: 'Tab', run: whenOpen((v, m) => choose(v, m.options[m.active]!)) },
    { key: 'Escape', run: whenOpen((v) => v.dispatch({ effects: closeMenu.of(null) })) },
  ]),
);

/** The editable content is a combobox whose popup is the completion listbox `listId`. */
function comboboxAttributes(listId: string): Extension {
  return EditorView.contentAttributes.compute([menuField], (state) => {
    const menu = state.field(menuField);
    return {
      role: 'combobox',
      'aria-autocomplete': 'list',
      'aria-haspopup': 'listbox',
      'aria-expanded': menu ? 'true' : 'false',
      ...(menu
        ? { 'aria-controls': listId, 'aria-activedescendant': `${listId}-${menu.active}` }
        : {}),
    };
  });
}

const brokenMark = (name: string) =>
  Decoration.mark({
    class: 'cm-broken-ref',
    attributes: {
      title: name === '' ? 'Empty reference' : `No variable named “${name}”`,
    },
  });

interface Broken {
  marks: DecorationSet;
  /** Their names, each once (for the quick fixes). */
  names: string[];
}

/** Broken references, underlined where they are (one scan per change of the text or the variables). */
const brokenField = StateField.define<Broken>({
  create: () => ({ marks: Decoration.none, names: [] }),
  update(value, tr) {
    if (!tr.docChanged && !tr.effects.some((e) => e.is(setVariables))) return value;
    const vars = tr.state.field(variablesField);
    if (!vars.judged) return { marks: Decoration.none, names: [] };
    const broken = brokenReferences(tr.state.doc.sliceString(0), new Set(vars.names));
    return {
      marks: Decoration.set(broken.map((b) => brokenMark(b.name).range(b.from, b.to))),
      names: [...new Set(broken.map((b) => b.name))],
    };
  },
  provide: (f) => EditorView.decorations.from(f, (v) => v.marks),
});

/** The names of the broken references in the field (for quick fixes), each once. */
export const brokenNames = (state: EditorState): string[] => state.field(brokenField).names;

/** The template aids: completion and broken references. `listId`: the id of the rendered listbox. */
export function templateAids(listId: string): Extension {
  return [
    variablesField,
    menuField,
    brokenField,
    menuKeys,
    comboboxAttributes(listId),
    // Leaving the field closes the list (choosing with the mouse keeps the focus: see the component).
    EditorView.domEventHandlers({
      blur: (_event, view) => {
        if (view.state.field(menuField)) view.dispatch({ effects: closeMenu.of(null) });
      },
    }),
  ];
}

/** Where the editor last continued a list item (the new line's start), until anything else changes. */
const continued = StateEffect.define<number>();
export const continuedField = StateField.define<number>({
  create: () => -1,
  update(at, tr) {
    const mark = tr.effects.find((e) => e.is(continued));
    if (mark) return mark.value;
    return tr.docChanged || tr.selection ? -1 : at;
  },
});

/**
 * Enter in a list: on an empty item the list ends (the marker goes, a blank line ends it); otherwise the item continues
 * (lang-markdown's insertNewlineContinueMarkup), and the editor remembers it did.
 */
export const listEnter: StateCommand = ({ state, dispatch }) => {
  const sel = state.selection.main;
  if (!sel.empty || state.selection.ranges.length > 1) return false;
  const line = state.doc.lineAt(sel.head);
  if (sel.head === line.to && isEmptyItem(line.text)) {
    // The marker goes and a blank line follows, so what comes next is a paragraph, not a lazy
    // continuation of the last item.
    dispatch(
      state.update({
        changes: { from: line.from, to: line.to, insert: '\n' },
        selection: EditorSelection.cursor(line.from + 1),
        userEvent: 'delete',
      }),
    );
    return true;
  }
  let next: Transaction | null = null;
  insertNewlineContinueMarkup({ state, dispatch: (tr) => (next = tr) });
  if (!next) return false;
  const after = (next as Transaction).state;
  const head = after.selection.main.head;
  const now = after.doc.lineAt(head);
  dispatch(next);
  if (isEmptyItem(after.doc.sliceString(now.from, head)))
    dispatch(after.update({ effects: continued.of(now.from) }));
  return true;
};

/**
 * Typing `text` at `from` over the marker the editor just continued replaces it (`- ` then `- `
 * stays `- `): the change to make instead of the typed one, or null for ordinary typing.
 */
export function overMarker(
  state: EditorState,
  from: number,
  to: number,
  text: string,
): TransactionSpec | null {
  const at = state.field(continuedField, false) ?? -1;
  if (from !== to || at < 0) return null;
  const line = state.doc.lineAt(from);
  if (line.from !== at || from !== line.to) return null;
  const next = typedOverMarker(line.text, text);
  if (next === null) return null;
  return {
    changes: { from: line.from, to: line.to, insert: next },
    selection: EditorSelection.cursor(line.from + next.length),
    userEvent: 'input.type',
  };
}

const markerOverride = EditorView.inputHandler.of((view, from, to, text) => {
  const spec = overMarker(view.state, from, to, text);
  if (spec) view.dispatch(spec);
  return spec !== null;
});

/** Markdown list continuation without doubled bullets (takes Enter before lang-markdown's keymap). */
export const listContinuation: Extension = [
  continuedField,
  markerOverride,
  Prec.high(keymap.of([{ key: 'Enter', run: listEnter }])),
];
