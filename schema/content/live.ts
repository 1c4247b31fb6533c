import * as Y from 'yjs';
import { deepFreeze } from './frozen.ts';
import { SECTIONS, type Section } from './spec.ts';
import {
  emptyContent,
  itemJson,
  sectionMap,
  type ItemJson,
  type WorkspaceContent,
} from './ydoc.ts';

/**
 * The draft as plain JSON, kept up to date incrementally: an item's JSON is rebuilt only after
 * a change inside it, so reading a large, mostly unchanged draft costs a walk over its ids.
 * Items come back frozen and the same object while unchanged, so later stages (normalizing,
 * hashing, validating) can memoize on object identity.
 */
export class LiveContent {
  private readonly items = new Map<Section, Map<string, Readonly<ItemJson>>>();
  private readonly unsubscribe: (() => void)[] = [];

  private readonly doc: Y.Doc;

  constructor(doc: Y.Doc) {
    this.doc = doc;
    for (const section of SECTIONS) {
      const map = sectionMap(doc, section);
      const cache = new Map<string, Readonly<ItemJson>>();
      this.items.set(section, cache);
      const observer = (events: Y.YEvent<Y.AbstractType<unknown>>[]) => {
        for (const event of events) {
          if (event.target === map)
            for (const key of (event as Y.YMapEvent<unknown>).keysChanged) cache.delete(key);
          else cache.delete(String(event.path[0]));
        }
      };
      map.observeDeep(observer);
      this.unsubscribe.push(() => map.unobserveDeep(observer));
    }
  }

  read(): WorkspaceContent {
    const content = emptyContent();
    for (const section of SECTIONS) {
      const cache = this.items.get(section)!;
      for (const [id, item] of sectionMap(this.doc, section)) {
        if (!(item instanceof Y.Map)) continue;
        let json = cache.get(id);
        if (!json) {
          json = deepFreeze(itemJson(item));
          cache.set(id, json);
        }
        content[section][id] = json as ItemJson;
      }
    }
    return content;
  }

  destroy(): void {
    for (const u of this.unsubscribe) u();
  }
}
