import type * as Y from 'yjs';
import type { WorkspaceContent } from '#schema/content/ydoc.ts';

/**
 * How the domain reaches live drafts without knowing about websockets (collab/rooms.ts provides
 * it). One port; each consumer takes the capabilities it uses (`Pick<Drafts, 'read'>` for
 * readers), so a reader's signature says it never writes.
 */
export interface Drafts {
  /** The draft's content now, as connected editors see it. */
  read(draftId: string): Promise<WorkspaceContent>;
  /**
   * Changes a draft server-side in one transaction that connected editors see live; false when it
   * could not be stored.
   */
  edit(draftId: string, reason: string, change: (doc: Y.Doc) => void): Promise<boolean>;
  /** Disconnects everyone from the draft: it closed (default), or what they may do in it changed. */
  close(draftId: string, reason?: 'draft_closed' | 'rights_changed'): void;
}
