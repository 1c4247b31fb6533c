/**
 * Item ids (and field names) are keys of plain JSON objects everywhere content travels: an id
 * like `constructor` or `__proto__` would read as present in an empty section (inherited) or
 * vanish on assignment (the prototype setter). They are refused where ids enter, and looked up
 * with Object.hasOwn where content is read.
 */
export const ITEM_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** A new id for an item or a workflow step: 72 random bits in hex (made in the browser as on the server). */
export function newItemId(): string {
  const bytes = new Uint8Array(9);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** A name every plain object inherits (`constructor`, `toString`, `__proto__`, `valueOf`, …). */
export const isPrototypeName = (key: string): boolean => key in Object.prototype;

/** An id an item may have: 1–64 letters, digits, _ or -, and no inherited name. */
export const isItemId = (id: string): boolean => ITEM_ID.test(id) && !isPrototypeName(id);

/** An empty object keyed by ids: null-prototype, so an id like `__proto__` or `constructor` is plain data in it. */
export const emptySection = <T = Record<string, unknown>>(): Record<string, T> =>
  Object.create(null) as Record<string, T>;

/** `obj[key]` only when `obj` itself holds `key` (never an inherited member). */
export const own = <T>(obj: Readonly<Record<string, T>>, key: string): T | undefined =>
  Object.hasOwn(obj, key) ? obj[key] : undefined;
