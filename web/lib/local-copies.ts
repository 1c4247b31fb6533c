/**
 * The browser's copies of drafts (IndexedDB, one database per draft, for offline work). They
 * belong to the person signed in: signing out deletes them, so the next person on this
 * browser neither reads them nor sends them as their own.
 */
const PREFIX = 'stagecoach:';
const REGISTRY = 'stagecoach:local-drafts';

/** Drafts open in this tab now, to ask at sign-out whether some change has not reached the server. */
const open = new Set<{ status: string; synced: boolean }>();

export function registerLocalCopy(
  draftId: string,
  session: { status: string; synced: boolean },
): () => void {
  const known = new Set(readRegistry());
  known.add(draftId);
  localStorage.setItem(REGISTRY, JSON.stringify([...known]));
  open.add(session);
  return () => open.delete(session);
}

/** True when an open draft is not connected: its latest changes may be only in this browser. */
export const mayHoldUnsentChanges = (): boolean =>
  [...open].some((s) => s.status !== 'connected' || !s.synced);

function readRegistry(): string[] {
  try {
    const list: unknown = JSON.parse(localStorage.getItem(REGISTRY) ?? '[]');
    return Array.isArray(list) ? list.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

/** Deletes every draft copy this browser holds (a copy still open is deleted once it closes). */
export async function wipeLocalCopies(): Promise<void> {
  const names = new Set(readRegistry().map((id) => PREFIX + id));
  // Where the browser can list its databases, catch copies made before the registry existed too.
  const listed = await indexedDB.databases?.().catch(() => []);
  for (const db of listed ?? []) if (db.name?.startsWith(PREFIX)) names.add(db.name);
  await Promise.all(
    [...names].map(
      (name) =>
        new Promise<void>((resolve) => {
          const req = indexedDB.deleteDatabase(name);
          req.onsuccess = req.onerror = req.onblocked = () => resolve();
        }),
    ),
  );
  localStorage.removeItem(REGISTRY);
}
