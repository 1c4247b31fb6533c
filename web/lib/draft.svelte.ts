import * as Y from 'yjs';
import { WebsocketProvider } from 'y-websocket';
import * as encoding from 'lib0/encoding';
import * as syncProtocol from 'y-protocols/sync';
import { IndexeddbPersistence } from 'y-indexeddb';
import type { UserView } from '#schema/api.ts';
import { CLOSE } from '#schema/errors.ts';
import { SECTIONS, SYSTEM_VARIABLES, type Section } from '#schema/content/spec.ts';
import { guessVariableType } from './authoring.ts';
import {
  addItem,
  draftContent,
  listItems,
  sectionMap,
  type ItemSummary,
  type WorkspaceContent,
  type YItem,
} from '#schema/content/ydoc.ts';
import { validateContent, type Problem } from '#schema/content/validate.ts';
import { personColor } from './colors.ts';
import { registerLocalCopy } from './local-copies.ts';

export type ConnectionStatus = 'connecting' | 'connected' | 'offline';

export interface Place {
  section: Section;
  itemId: string | null;
}

export interface Presence {
  clientId: number;
  name: string;
  color: string;
  at: Place | null;
  self: boolean;
}

const PROBLEMS_DELAY_MS = 150;

/**
 * y-websocket stops reconnecting on 44xx closes; 4424 (an edit sent before this browser's sync
 * step 2 after a reconnect, depending on offline edits the server did not have yet) is the one
 * a reconnect fixes: the new handshake carries everything.
 */
const shouldReconnect = (event: CloseEvent): boolean =>
  event.code === CLOSE.incomplete_update || !(event.code >= 4400 && event.code < 4500);

/**
 * One open draft in the browser. The Y.Doc, provider, local store and undo manager are plain
 * fields (never reactive state); observers keep small reactive views up to date, and every
 * observer is removed in destroy().
 */
export class DraftSession {
  readonly doc = new Y.Doc();
  readonly provider: WebsocketProvider;
  readonly local: IndexeddbPersistence;
  /** Undoes only this person's changes: remote and loaded updates have other origins. */
  readonly undoManager: Y.UndoManager;
  status = $state<ConnectionStatus>('connecting');
  /** The server has sent its state at least once in this session. */
  synced = $state(false);
  /** The browser's copy (IndexedDB) has been loaded. */
  savedLocally = $state(false);
  items = $state<Record<Section, ItemSummary[]>>(emptyLists());
  people = $state<Presence[]>([]);
  /**
   * The server says it cannot write its log right now (its presence state): changes wait in memory
   * and on this device.
   */
  serverCannotSave = $state(false);
  problems = $state.raw<Problem[]>([]);
  /**
   * The names templates may use (declared variables, sorted, then the system ones), and whether
   * unknown names are problems here (not while the variables have not arrived): what validation
   * judged the draft with, for completion and broken references.
   */
  variables = $state.raw<{ names: readonly string[]; judged: boolean }>({
    names: [...SYSTEM_VARIABLES],
    judged: false,
  });
  canUndo = $state(false);
  canRedo = $state(false);
  /** Set when the server refused this connection for good; says what to do. */
  refusal = $state<string | null>(null);
  private readonly cleanups: (() => void)[] = [];
  /**
   * What this draft's sections are judged against: the environment's other sections (a later
   * stage's draft holds only its own) and those not arrived there yet. Plain, not reactive: it
   * changes only through judgeAgainst().
   */
  private around: { content: Partial<WorkspaceContent>; notArrived: readonly Section[] } = {
    content: {},
    notArrived: [],
  };

  /** `onRightsChanged`: the server closed this connection because this person's roles changed (4401). */
  constructor(
    draftId: string,
    user: UserView,
    readOnly = false,
    onRightsChanged: () => void = () => undefined,
  ) {
    this.local = new IndexeddbPersistence(`stagecoach:${draftId}`, this.doc);
    this.cleanups.push(registerLocalCopy(draftId, this));
    this.local.whenSynced.then(
      () => (this.savedLocally = true),
      () => undefined,
    );

    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/collab`;
    this.provider = new WebsocketProvider(url, draftId, this.doc, {
      maxBackoffTime: 4000,
      connect: navigator.onLine,
      params: readOnly ? { mode: 'read' } : {},
      shouldReconnect,
    });
    const awareness = this.provider.awareness;
    awareness.setLocalStateField('user', { id: user.id, name: user.name, ...personColor(user.id) });

    this.undoManager = new Y.UndoManager(
      SECTIONS.map((s) => sectionMap(this.doc, s)),
      { captureTimeout: 400 },
    );
    const onStack = () => {
      this.canUndo = this.undoManager.undoStack.length > 0;
      this.canRedo = this.undoManager.redoStack.length > 0;
    };
    for (const ev of ['stack-item-added', 'stack-item-popped', 'stack-cleared'] as const) {
      this.undoManager.on(ev, onStack);
      this.cleanups.push(() => this.undoManager.off(ev, onStack));
    }

    const onStatus = ({ status }: { status: 'connected' | 'connecting' | 'disconnected' }) => {
      if (status === 'connected') this.status = 'connected';
      else if (this.status !== 'connecting' || status === 'disconnected') this.status = 'offline';
    };
    const onSync = (s: boolean) => {
      if (s) this.synced = true;
    };
    const onClose = (event: CloseEvent | null) => {
      // 4401 is shared with rights_changed; the reason tells them apart. Retrying could only meet 401 at the upgrade.
      if (event?.code === CLOSE.session_ended && event.reason === 'session_ended') {
        this.provider.disconnect();
        this.refusal =
          'Your sign-in ended (signed out, expired or removed): sign in again to go on editing.';
        return;
      }
      if (event?.code === CLOSE.rights_changed) onRightsChanged();
      if (event?.code === CLOSE.read_only)
        this.refusal =
          'This draft is read-only for you: your last change was not accepted. Reload the page.';
      if (event?.code === CLOSE.malformed_message || event?.code === CLOSE.invalid_shape)
        this.refusal =
          'The server refused a change from this browser. Reload the page; if it happens again, export your draft and contact an admin.';
      if (event?.code === CLOSE.draft_too_large)
        this.refusal =
          'This draft has reached its size limit: your last change was not accepted. Remove content (or ask an admin to raise COLLAB_MAX_DRAFT_BYTES), then reload the page.';
    };
    this.provider.on('status', onStatus);
    this.provider.on('sync', onSync);
    this.provider.on('connection-close', onClose);
    this.cleanups.push(() => {
      this.provider.off('status', onStatus);
      this.provider.off('sync', onSync);
      this.provider.off('connection-close', onClose);
    });

    // y-websocket does not watch the browser's network state: do it, so going offline shows at once.
    const goOffline = () => {
      this.provider.disconnect();
      this.status = 'offline';
    };
    const goOnline = () => this.provider.connect();
    window.addEventListener('offline', goOffline);
    window.addEventListener('online', goOnline);
    this.cleanups.push(() => {
      window.removeEventListener('offline', goOffline);
      window.removeEventListener('online', goOnline);
    });
    if (!navigator.onLine) this.status = 'offline';

    let timer: ReturnType<typeof setTimeout> | null = null;
    const refresh = () => {
      this.items = Object.fromEntries(SECTIONS.map((s) => [s, listItems(this.doc, s)])) as Record<
        Section,
        ItemSummary[]
      >;
      // Validation of the whole draft is cheap but not free: at most once per short pause.
      timer ??= setTimeout(() => {
        timer = null;
        this.validate();
      }, PROBLEMS_DELAY_MS);
    };
    this.doc.on('update', refresh);
    this.cleanups.push(() => {
      this.doc.off('update', refresh);
      if (timer) clearTimeout(timer);
    });
    refresh();

    const onAwareness = () => {
      const people: Presence[] = [];
      let failing = false;
      for (const [clientId, state] of awareness.getStates()) {
        if ((state as { server?: { storage?: unknown } }).server?.storage === 'failing')
          failing = true;
        const u = (state as { user?: { name?: unknown; color?: unknown } }).user;
        if (!u || typeof u.name !== 'string') continue;
        const at = (state as { at?: Partial<Place> }).at;
        people.push({
          clientId,
          name: u.name,
          color: typeof u.color === 'string' ? u.color : '#64748b',
          at:
            at && SECTIONS.includes(at.section as Section)
              ? {
                  section: at.section as Section,
                  itemId: typeof at.itemId === 'string' ? at.itemId : null,
                }
              : null,
          self: clientId === this.doc.clientID,
        });
      }
      this.serverCannotSave = failing;
      this.people = people.sort(
        (a, b) => Number(b.self) - Number(a.self) || a.name.localeCompare(b.name),
      );
    };
    awareness.on('change', onAwareness);
    this.cleanups.push(() => awareness.off('change', onAwareness));
    onAwareness();
  }

  /** Tells the others where this person is. */
  moveTo(place: Place): void {
    this.provider.awareness.setLocalStateField('at', place);
  }

  item(section: Section, id: string): YItem | undefined {
    const item = sectionMap(this.doc, section).get(id);
    return item instanceof Y.Map ? item : undefined;
  }

  /**
   * Resolves once the server holds everything typed here so far. The server answers a sync
   * step 1 only after storing every update that came before it on this connection, so its
   * step 2 is the receipt. A connection that dropped is waited for within the same time (a
   * reconnect sends everything typed meanwhile); rejects when it does not come back: the changes
   * are then only on this device.
   */
  confirmSaved(timeoutMs = 10_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = (err?: Error) => {
        clearTimeout(timer);
        this.provider.off('sync', onSync);
        this.provider.off('status', onStatus);
        if (err) reject(err);
        else resolve();
      };
      const timer = setTimeout(
        () =>
          done(
            new Error(
              this.provider.wsconnected
                ? 'The server did not confirm your last changes. Check the connection and try again.'
                : 'You are offline: your last changes are saved on this device only. Reconnect, then try again.',
            ),
          ),
        timeoutMs,
      );
      const onSync = (synced: boolean) => {
        if (synced) done();
      };
      const ask = () => {
        const ws = this.provider.ws;
        if (!this.provider.wsconnected || !ws) return;
        this.provider.synced = false;
        const e = encoding.createEncoder();
        encoding.writeVarUint(e, 0);
        syncProtocol.writeSyncStep1(e, this.doc);
        ws.send(encoding.toUint8Array(e));
      };
      // A reconnect runs its own sync: its step 2 is the receipt too.
      const onStatus = ({ status }: { status: string }) => {
        if (status === 'connected') ask();
      };
      this.provider.on('sync', onSync);
      this.provider.on('status', onStatus);
      ask();
    });
  }

  undo(): void {
    this.undoManager.undo();
  }

  redo(): void {
    this.undoManager.redo();
  }

  private validate(): void {
    const content = { ...draftContent(this.doc), ...this.around.content };
    this.problems = validateContent(content, { notArrived: this.around.notArrived });
    const declared = Object.values(content.variables ?? {})
      .map((v) => v.name)
      .filter((n): n is string => typeof n === 'string' && n !== '')
      .sort((a, b) => a.localeCompare(b))
      .filter((n, i, all) => n !== all[i - 1]);
    const names = [...declared, ...SYSTEM_VARIABLES.filter((n) => !declared.includes(n))];
    const judged = !this.around.notArrived.includes('variables');
    const was = this.variables;
    if (was.judged !== judged || was.names.join('\n') !== names.join('\n'))
      this.variables = { names, judged };
  }

  /** The quick fix for a broken `{{name}}`: a variable of that name, typed from its name. */
  createVariable(name: string): void {
    if (this.variables.names.includes(name)) return;
    addItem(this.doc, 'variables', { name, type: guessVariableType(name) });
  }

  /** Judges this draft's sections within its environment: `content` = the sections it does not hold (see `around`). */
  judgeAgainst(content: Partial<WorkspaceContent>, notArrived: readonly Section[]): void {
    this.around = { content, notArrived };
    this.validate();
  }

  destroy(): void {
    for (const c of this.cleanups.splice(0)) c();
    this.undoManager.destroy();
    this.provider.destroy();
    void this.local.destroy();
    this.doc.destroy();
  }
}

function emptyLists(): Record<Section, ItemSummary[]> {
  return {
    agents: [],
    workflows: [],
    knowledge: [],
    integrations: [],
    channels: [],
    variables: [],
  };
}
