import { getContext, setContext } from 'svelte';

/** Whether the editor around a component is read-only for this person (set once by WorkspaceEditor). */
const KEY = Symbol('read-only');
export const provideReadOnly = (readOnly: boolean) => setContext(KEY, readOnly);
export const isReadOnly = (): boolean => getContext<boolean | undefined>(KEY) ?? false;
