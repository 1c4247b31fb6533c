import { isUtf8 } from 'node:buffer';
import * as Y from 'yjs';
import * as decoding from 'lib0/decoding';
import type { CloseReason } from '#schema/errors.ts';
import { SECTIONS, type Section } from '#schema/content/spec.ts';
import { isItemId } from '#schema/content/ids.ts';
import {
  ITEM_FIELD_KINDS,
  MAX_NESTING,
  PAIR_FIELDS,
  STEP_FIELD_KINDS,
  arrayOfMaps,
  arrayOfStrings,
  type FieldKind,
  type YType,
} from '#schema/content/layout.ts';

/**
 * What a peer's update may do to a draft, decided from the update or from the shadow's
 * transaction alone: the cost follows the update, never the document.
 */
export interface Refusal {
  reason: CloseReason;
  detail: string;
}

/** A document's delete set (yjs does not export the class's type). */
export type DeleteSet = ReturnType<typeof Y.createDeleteSetFromStructStore>;

/**
 * Whether a read-only peer's `update` (Yjs v1, not decoded) would change `doc`: it must not.
 * An honest read-only client answers sync step 1 with what it has that the server lacks, that
 * is no structs at all and a delete set of what is deleted already; any struct counts as a
 * change. The update is read by hand, nothing allocated per struct or range, stopping at the
 * first change: decoding a 16 MB frame of 8 million tiny structs took 2 s and 800 MB. Delete
 * ranges are looked up in `deleted`, the document's own delete set (sorted and merged per
 * client, see Room), never walked. The work is O(update × log document); the document is
 * never copied. Throws on a malformed update.
 */
export function readOnlyWouldChange(
  doc: Y.Doc,
  update: Uint8Array,
  deleted: () => DeleteSet,
): boolean {
  const d = decoding.createDecoder(update);
  const blocks = decoding.readVarUint(d);
  for (let i = 0; i < blocks; i++) {
    if (decoding.readVarUint(d) > 0) return true; // structs
    decoding.readVarUint(d); // client
    decoding.readVarUint(d); // clock
  }
  const clients = decoding.readVarUint(d);
  for (let i = 0; i < clients; i++) {
    const client = decoding.readVarUint(d);
    const have = Y.getState(doc.store, client);
    const ranges = decoding.readVarUint(d);
    for (let j = 0; j < ranges; j++) {
      const clock = decoding.readVarUint(d);
      const len = decoding.readVarUint(d);
      if (len === 0) continue;
      // Deleting what the server does not have yet is a change too (a pending delete).
      if (clock + len > have) return true;
      if (!coveredBy(deleted().clients.get(client), clock, len)) return true;
    }
  }
  if (decoding.hasContent(d)) throw new Error('trailing bytes after the update');
  return false;
}

/** Whether [clock, clock + len) lies inside one of `ranges` (sorted by clock, adjacent ranges merged). */
function coveredBy(
  ranges: readonly { clock: number; len: number }[] | undefined,
  clock: number,
  len: number,
): boolean {
  if (!ranges) return false;
  let lo = 0;
  let hi = ranges.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const r = ranges[mid]!;
    if (clock < r.clock) hi = mid - 1;
    else if (clock >= r.clock + r.len) lo = mid + 1;
    else return clock + len <= r.clock + r.len;
  }
  return false;
}

/**
 * Whether an item the transaction added ended up deleted at once (deleted in the same update, put
 * into a deleted parent, or a map value placed where a newer one wins): checkTransaction skips
 * such items, so their content was never held to the layout. Passed on as sent, that content
 * would reach the log and every peer; re-encoded by Yjs (the shadow collects it), it is gone.
 */
export function addedDeleted(doc: Y.Doc, tr: Y.Transaction): boolean {
  for (const struct of added(doc, tr)) if (struct instanceof Y.Item && struct.deleted) return true;
  return false;
}

/** The structs a transaction on `doc` added, client by client. */
function* added(doc: Y.Doc, tr: Y.Transaction): Generator<Y.Item | Y.GC> {
  for (const [client, after] of tr.afterState) {
    const before = tr.beforeState.get(client) ?? 0;
    if (after <= before) continue;
    const structs = doc.store.clients.get(client)!;
    for (let i = Y.findIndexSS(structs, before); i < structs.length; i++) yield structs[i]!;
  }
}

/** Whether a transaction changed anything: what Yjs asks before it emits an update. */
export function changedAnything(tr: Y.Transaction): boolean {
  if (tr.deleteSet.clients.size > 0) return true;
  for (const [client, clock] of tr.afterState)
    if (tr.beforeState.get(client) !== clock) return true;
  return false;
}

/**
 * Structs one peer update may hold. Decoding makes an object of each (a 16 MB frame of 8
 * million one-clock GC structs took 2 s and 1 GB, then applying it twice as long), so the count
 * is read by hand first, stopping past the bound. Honest updates hold far fewer: typing and
 * pasting make one struct per run, and a full draft of thousands of items tens of thousands.
 */
export const MAX_STRUCTS_PER_UPDATE = 250_000;

/** Skips a string (or, `utf8` false, bytes) without making it; throws where Yjs's fatal UTF-8 decoding would. */
const skipString = (d: decoding.Decoder, utf8 = true): void => {
  const len = decoding.readVarUint(d);
  if (len > d.arr.length - d.pos) throw new Error('truncated update');
  if (utf8 && !isUtf8(d.arr.subarray(d.pos, d.pos + len))) throw new Error('a string is not UTF-8');
  d.pos += len;
};

const skipId = (d: decoding.Decoder): void => {
  decoding.readVarUint(d); // client
  decoding.readVarUint(d); // clock
};

/** What a peer's update is made of, read by hand before it touches the shadow (`readShape`). */
export interface UpdateShape {
  /** More than the bound of structs (the rest was not read, nor anything below). */
  tooMany: boolean;
  /** Each block of structs: its client and first clock, in order. */
  blocks: { client: number; clock: number }[];
  /**
   * A Skip struct (a gap in a client's clocks), a client with two blocks, or bytes after the
   * update (Yjs ignores them): never passed on as sent.
   */
  irregular: boolean;
  /**
   * A top-level type an item names that is not a section (cut to 70 characters), else null. Yjs
   * makes every top-level type an update names while decoding it, even for items the draft has
   * already and skips: an update of known items naming new ones changed nothing and was
   * accepted, yet each name stayed on the shadow (600,000 names: every later update 210 ms).
   */
  unknownRoot: string | null;
  /** Delete ranges in all. */
  deleteRanges: number;
  /**
   * A client's delete ranges out of order or overlapping (over all its sections). Yjs walks every
   * struct a range covers, once per range: one range repeated a thousand times over many deleted
   * items costs a thousand walks of them (seconds, for 8 KB). No Yjs encoder writes such a delete
   * set (every one is sorted and merged first), so it is refused in O(update) instead.
   */
  disorderedDeletes: boolean;
}

/** The sections' names as UTF-8, to compare a top-level name with before making a string of it. */
const SECTION_NAMES = SECTIONS.map((name) => Buffer.from(name, 'utf8'));

/** Reads a top-level name: null for a section's, else the name (cut to 70 characters). */
function readRootName(d: decoding.Decoder): string | null {
  const at = d.pos;
  const len = decoding.readVarUint(d);
  const start = d.pos;
  if (len > d.arr.length - start) throw new Error('truncated update');
  const bytes = d.arr.subarray(start, start + len);
  if (SECTION_NAMES.some((name) => name.equals(bytes))) {
    d.pos = start + len;
    return null;
  }
  d.pos = at;
  return decoding.readVarString(d).slice(0, 70);
}

/** The shared types Yjs reads by number (readContentType): YArray … YXmlText. */
const TYPE_REFS = 7;

/**
 * Reads a JSON value as Yjs does (it parses these when it decodes): throws on bad JSON. Only a
 * JSON content's values may be the word `undefined`.
 */
const readJson = (d: decoding.Decoder, undefinedToo = false): void => {
  const text = decoding.readVarString(d);
  if (!(undefinedToo && text === 'undefined')) JSON.parse(text);
};

/**
 * Reads `update` (Yjs v1) by hand, the layout of yjs's readClientsStructRefs, readItemContent and
 * readDeleteSet, allocating nothing per struct (decoding a 16 MB frame of 8 million one-clock GC
 * structs took 2 s and 1 GB; `Y.decodeUpdate` of a keystroke allocates ~2 KB). What Yjs would
 * throw on while decoding, this throws on too (truncation, unknown content, bad JSON, an unknown
 * shared type), so a malformed update is refused in O(update) before the shadow sees it. Stops
 * past `max` structs.
 */
export function readShape(update: Uint8Array, max = MAX_STRUCTS_PER_UPDATE): UpdateShape {
  const d = decoding.createDecoder(update);
  const out: UpdateShape = {
    tooMany: false,
    blocks: [],
    irregular: false,
    unknownRoot: null,
    deleteRanges: 0,
    disorderedDeletes: false,
  };
  let seen = 0;
  const blocks = decoding.readVarUint(d);
  // Blocks count too, empty or not: 4 million empty ones cost Yjs 5.8 s and +735 MB.
  if (blocks > max) {
    out.tooMany = true;
    return out;
  }
  const clients = new Set<number>();
  for (let b = 0; b < blocks; b++) {
    const count = decoding.readVarUint(d);
    seen += count;
    if (seen > max) {
      out.tooMany = true;
      return out;
    }
    const client = decoding.readVarUint(d);
    out.blocks.push({ client, clock: decoding.readVarUint(d) });
    if (clients.has(client)) out.irregular = true;
    clients.add(client);
    for (let i = 0; i < count; i++) {
      const info = decoding.readUint8(d);
      const ref = info & 31;
      if (ref === 0 || ref === 10) {
        if (ref === 10) out.irregular = true;
        decoding.readVarUint(d); // GC or Skip: a length
        continue;
      }
      if (info & 128) skipId(d); // origin
      if (info & 64) skipId(d); // right origin
      if ((info & (128 | 64)) === 0) {
        if (decoding.readVarUint(d) === 1) {
          // parent: a top-level name
          const root = readRootName(d);
          if (root !== null) out.unknownRoot ??= root;
        } else skipId(d); // parent: an item id
        if (info & 32) skipString(d); // parentSub
      }
      switch (ref) {
        case 1: // deleted: a length
          decoding.readVarUint(d);
          break;
        case 2: // JSON: strings
          for (let n = decoding.readVarUint(d); n > 0; n--) readJson(d, true);
          break;
        case 3: // binary
          skipString(d, false);
          break;
        case 4: // string
          skipString(d);
          break;
        case 5: // embed (JSON text)
          readJson(d);
          break;
        case 6: // format: key, JSON text
          skipString(d);
          readJson(d);
          break;
        case 7: {
          // type: its ref, and a node name for XmlElement (3) and XmlHook (5)
          const typeRef = decoding.readVarUint(d);
          if (typeRef >= TYPE_REFS) throw new Error(`unknown shared type ${typeRef}`);
          if (typeRef === 3 || typeRef === 5) skipString(d);
          break;
        }
        case 8: // any: values
          for (let n = decoding.readVarUint(d); n > 0; n--) decoding.readAny(d);
          break;
        case 9: {
          // doc: guid, options (Yjs reads them as an object)
          skipString(d);
          const options: unknown = decoding.readAny(d);
          if (options === null || options === undefined)
            throw new Error('subdocument without options');
          break;
        }
        default:
          throw new Error(`unknown content ${ref}`);
      }
    }
  }
  const ends = new Map<number, number>();
  for (let c = decoding.readVarUint(d); c > 0; c--) {
    const client = decoding.readVarUint(d);
    let end = ends.get(client) ?? 0;
    for (let r = decoding.readVarUint(d); r > 0; r--) {
      const clock = decoding.readVarUint(d);
      const len = decoding.readVarUint(d);
      out.deleteRanges++;
      if (clock < end) out.disorderedDeletes = true;
      end = clock + len;
    }
    ends.set(client, end);
  }
  if (decoding.hasContent(d)) out.irregular = true;
  return out;
}

/** Whether `update` holds more than `max` structs (see `readShape`). Throws on a malformed update. */
export const tooManyStructs = (update: Uint8Array, max = MAX_STRUCTS_PER_UPDATE): boolean =>
  readShape(update, max).tooMany;

/** Delete ranges an update logged and sent as its peer sent it may hold (see `newAsSent`). */
export const AS_SENT_DELETE_RANGES = 16;

/**
 * Whether a peer's update, once applied, can be logged and sent as the peer sent it rather than
 * as Yjs re-encodes the transaction (6 µs a keystroke): each client's structs start exactly where
 * `doc` stops (nothing in them it has already, no gap, one block per client), and it holds at
 * most AS_SENT_DELETE_RANGES delete ranges (ranges deleted already cost a few bytes each then; a
 * reconnecting client's whole delete set is re-encoded down to what is new). Every keystroke and
 * paste an editor sends passes. O(update).
 */
export function newAsSent(shape: UpdateShape, doc: Y.Doc): boolean {
  if (shape.irregular || shape.deleteRanges > AS_SENT_DELETE_RANGES) return false;
  return shape.blocks.every(({ client, clock }) => clock === Y.getState(doc.store, client));
}

const shape = (detail: string): Refusal => ({ reason: 'invalid_shape', detail });

const typeOf = (content: unknown, kind: typeof Y.Map | typeof Y.Array | typeof Y.Text): boolean =>
  content instanceof Y.ContentType && content.type instanceof kind;
const isChars = (content: unknown): boolean =>
  content instanceof Y.ContentString || content instanceof Y.ContentFormat;
const plain = (content: unknown, kind: 'string' | 'number'): boolean =>
  content instanceof Y.ContentAny && content.arr.every((v) => typeof v === kind);

/** Whether an item's content is a value of one of `kinds` (as ydoc.ts writes it). */
function fits(kinds: ReadonlySet<FieldKind>, content: unknown): boolean {
  for (const kind of kinds) {
    if (
      kind === 'text'
        ? typeOf(content, Y.Text)
        : arrayOfMaps(kind) || arrayOfStrings(kind)
          ? typeOf(content, Y.Array)
          : plain(content, kind === 'number' ? 'number' : 'string')
    )
      return true;
  }
  return false;
}

/** The top-level type above `type`, or null when it sits deeper than the layout allows (the walk stops there). */
function rootOf(type: YType): YType | null {
  let t = type;
  for (let depth = 0; t._item; depth++) {
    if (depth >= MAX_NESTING) return null;
    t = t._item.parent as YType;
  }
  return t;
}

/** One new item against the layout: where it sits (section, item, field, entry) decides what it may hold. */
function checkItem(item: Y.Item, names: ReadonlyMap<YType, string>): Refusal | null {
  const chain: Y.Item[] = [item];
  let parent = item.parent as YType;
  while (parent._item) {
    // Bounded: a chain 20,000 maps deep costs as much as one MAX_NESTING deep.
    if (chain.length > MAX_NESTING) return shape('nests deeper than the content spec allows');
    chain.unshift(parent._item);
    parent = parent._item.parent as YType;
  }
  const name = names.get(parent) ?? '?';
  if (!(SECTIONS as readonly string[]).includes(name))
    return shape(`unknown top-level type "${name.slice(0, 70)}"`);
  const section = name as Section;
  const keys = chain.map((i) => i.parentSub);
  const bad = (what: string) => shape(`${section}: ${what}`);
  const at = chain.length - 1;
  if (at === 0)
    return typeof keys[0] === 'string' && isItemId(keys[0]) && typeOf(item.content, Y.Map)
      ? null
      : bad(
          `an item must be a map under an id of 1–64 letters, digits, _ or - (got "${String(keys[0]).slice(0, 70)}")`,
        );
  const field = keys[1];
  const kinds = typeof field === 'string' ? ITEM_FIELD_KINDS[section].get(field) : undefined;
  if (!kinds) return bad(`unknown field "${String(field).slice(0, 70)}"`);
  if (at === 1)
    return fits(kinds, item.content)
      ? null
      : bad(`${field} has the wrong type for a ${[...kinds].join(' or ')} field`);
  const value = chain[1]!.content;
  if (at === 2) {
    if (keys[2] !== null) return bad(`${field} is not a map`);
    if (typeOf(value, Y.Text))
      return isChars(item.content) ? null : bad(`${field} holds only text`);
    if ([...kinds].some(arrayOfMaps))
      return typeOf(item.content, Y.Map) ? null : bad(`${field} holds only maps`);
    return plain(item.content, 'string') ? null : bad(`${field} holds only strings`);
  }
  const key = keys[3];
  if (at === 3) {
    if (typeof key !== 'string') return bad(`an entry of ${field} is a map`);
    if (kinds.has('pairs'))
      return PAIR_FIELDS.has(key) && plain(item.content, 'string')
        ? null
        : bad(`a ${field} entry has only a name and a value`);
    const stepKinds = kinds.has('steps') ? STEP_FIELD_KINDS.get(key) : undefined;
    return stepKinds && fits(stepKinds, item.content)
      ? null
      : bad(`a step of ${field} has no field "${key.slice(0, 70)}" of this type`);
  }
  return keys[4] === null && typeOf(chain[3]!.content, Y.Text) && isChars(item.content)
    ? null
    : bad(`${field}: a step's ${String(key)} holds only text`);
}

/**
 * Checks one transaction on the shadow (a peer's update applied there first): every new item
 * fits the content spec's layout, the sections it changed may be changed here, and nothing
 * is left pending (an honest client never sends a struct or delete the server cannot place;
 * a pending delete would be applied later, inside someone else's change). Only what the
 * transaction added or changed is inspected.
 */
export function checkTransaction(
  doc: Y.Doc,
  tr: Y.Transaction,
  readOnlySections: ReadonlySet<string>,
): Refusal | null {
  const names = new Map<YType, string>();
  for (const [name, type] of doc.share) names.set(type, name);
  for (const struct of added(doc, tr)) {
    if (!(struct instanceof Y.Item) || struct.deleted) continue;
    const refusal = checkItem(struct, names);
    if (refusal) return refusal;
  }
  // What the transaction changed (items added, changed or deleted), by section: ownership is
  // checked on what happened, whatever the update claimed.
  const touched = new Set<string>();
  for (const type of tr.changed.keys()) {
    const root = rootOf(type);
    if (!root) return shape('nests deeper than the content spec allows');
    const name = names.get(root) ?? '?';
    if (!(SECTIONS as readonly string[]).includes(name))
      return shape(`unknown top-level type "${name.slice(0, 70)}"`);
    touched.add(name);
  }
  const forbidden = [...touched].filter((s) => readOnlySections.has(s));
  if (forbidden.length > 0)
    return {
      reason: 'read_only',
      detail: `${forbidden.join(', ')} ${forbidden.length === 1 ? 'is' : 'are'} read-only in this draft (flow rules)`,
    };
  if (doc.store.pendingStructs || doc.store.pendingDs)
    return {
      reason: 'incomplete_update',
      detail: 'the update depends on changes the server does not have',
    };
  return null;
}
