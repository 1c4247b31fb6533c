import * as Y from 'yjs';

/**
 * What the benchmark writes into documents, shaped as the content spec allows (Stagecoach
 * refuses updates that do not fit it with 4422; the other servers take any shape): a number
 * is an integration's `timeoutMs`, a title an article's. Keys are item ids.
 */
const item = (doc: Y.Doc, section: string, key: string): Y.Map<unknown> => {
  const items = doc.getMap<Y.Map<unknown>>(section);
  let it = items.get(key);
  if (!it) {
    it = new Y.Map<unknown>();
    items.set(key, it);
  }
  return it;
};

/** Sets the number under `key` (one transaction, so it travels as one update). */
export function setNumber(doc: Y.Doc, key: string, value: number): void {
  doc.transact(() => item(doc, 'integrations', key).set('timeoutMs', value));
}

export const numberAt = (doc: Y.Doc, key: string): unknown =>
  doc.getMap<Y.Map<unknown>>('integrations').get(key)?.get('timeoutMs');

export function setTitle(doc: Y.Doc, key: string, title: string): void {
  doc.transact(() => item(doc, 'knowledge', key).set('title', title));
}
