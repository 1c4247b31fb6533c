import { getContext, setContext } from 'svelte';

/** Whether the editor around a component is read-only for this person (set once by WorkspaceEditor). */
const KEY = Symbol('read-only');
export const provideReadOnly = (readOnly: boolean) => setContext(KEY, readOnly);
export const isReadOnly = (): boolean => getContext<boolean | undefined>(KEY) ?? false;

/** Whether this person may add variables here (the quick fix "Create variable"): set by WorkspaceEditor. */
const VARIABLES = Symbol('variables-editable');
export const provideVariablesEditable = (editable: () => boolean) =>
  setContext(VARIABLES, editable);
export const mayCreateVariables = (): boolean =>
  getContext<(() => boolean) | undefined>(VARIABLES)?.() ?? false;
