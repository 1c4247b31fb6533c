import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as Y from 'yjs';
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import { AppError } from '#schema/errors.ts';
import { OwnedElsewhere } from '../collab/draft-log.ts';
import type { Rooms } from '../collab/rooms.ts';
import type { Tickets } from './tickets.ts';

/** The header that carries an edit ticket to the owner. */
const TICKET_HEADER = 'x-stagecoach-ticket';
const EDIT_PATH = /^\/internal\/drafts\/([A-Za-z0-9_-]{1,64})\/edit$/;
/** Tries before a caller is told to retry (503 draft_elsewhere): the owner may be moving. */
const ATTEMPTS = 3;
/** Waits between tries: together under a lease's life, so a dead owner's successor is found. */
const BACKOFF_MS = [250, 1_000];
/** How long the owner may take to store a change (its append waits for PostgreSQL). */
const FORWARD_TIMEOUT_MS = 15_000;

export interface DraftGatewayDeps {
  rooms: Rooms;
  tickets: Tickets;
  /** Largest change body the owner reads (its draft-size bound applies after). */
  maxBodyBytes: number;
  log: (msg: string, err?: unknown) => void;
}

type Forwarded = 'stored' | 'not_stored' | 'moved';

/** A change that applies updates made elsewhere (applying one twice changes nothing). */
const applyAll = (updates: readonly Uint8Array[]) => (doc: Y.Doc) => {
  for (const u of updates) Y.applyUpdate(doc, u);
};

/**
 * Server-side changes of drafts, wherever their owner is (PG-151): made in the room here when
 * this process owns the draft (or takes it: nobody did); for a draft another process owns, the
 * change is made on the draft as its log holds it and the resulting Yjs updates are sent to the
 * owner, which applies them through its room — stored (fenced) before its peers see them — and
 * answers only then. Replaying a sent change applies nothing twice (Yjs skips what it has).
 */
export function createDraftGateway(deps: DraftGatewayDeps) {
  const { rooms, tickets } = deps;

  async function forward(
    ownerUrl: string,
    draftId: string,
    reason: string,
    updates: Uint8Array[],
    durable: boolean,
  ): Promise<Forwarded> {
    const enc = encoding.createEncoder();
    encoding.writeVarString(enc, reason);
    encoding.writeUint8(enc, durable ? 1 : 0);
    encoding.writeVarUint(enc, updates.length);
    for (const u of updates) encoding.writeVarUint8Array(enc, u);
    const body = encoding.toUint8Array(enc);
    const digest = createHash('sha256').update(body).digest('base64url');
    try {
      const res = await fetch(new URL(`/internal/drafts/${draftId}/edit`, ownerUrl), {
        method: 'POST',
        headers: {
          'content-type': 'application/octet-stream',
          [TICKET_HEADER]: tickets.sign('edit', { draftId, digest }),
        },
        body,
        redirect: 'error',
        signal: AbortSignal.timeout(FORWARD_TIMEOUT_MS),
      });
      const answer = (await res.json().catch(() => null)) as { stored?: boolean } | null;
      if (res.status === 200 && typeof answer?.stored === 'boolean')
        return answer.stored ? 'stored' : 'not_stored';
      if (res.status !== 409)
        deps.log(`draft ${draftId}: the owner refused a forwarded change (${res.status})`);
      return 'moved';
    } catch (err) {
      deps.log(`draft ${draftId}: could not reach its owner at ${new URL(ownerUrl).host}`, err);
      return 'moved';
    }
  }

  return {
    /**
     * `Rooms.edit`, wherever the draft's owner is. `durable`: as Rooms.edit. Throws
     * `draft_elsewhere` (503, nothing changed) when no owner could be reached in ATTEMPTS tries.
     */
    async edit(
      draftId: string,
      reason: string,
      change: (doc: Y.Doc) => void,
      durable = false,
    ): Promise<boolean> {
      // Made once: every later try sends these same updates (to whoever owns the draft then, or
      // applies them here), so a try whose answer was lost (a timeout after the owner stored
      // it) cannot apply the change twice — Yjs skips updates it has.
      let updates: Uint8Array[] | null = null;
      for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
        if (attempt > 0) await new Promise((r) => setTimeout(r, BACKOFF_MS[attempt - 1]));
        try {
          return await rooms.edit(draftId, reason, updates ? applyAll(updates) : change, durable);
        } catch (err) {
          if (!(err instanceof OwnedElsewhere)) throw err;
          updates ??= await rooms.changeFromLog(draftId, change);
          if (updates.length === 0) return true;
          const answer = await forward(err.owner.url, draftId, reason, updates, durable);
          if (answer !== 'moved') return answer === 'stored';
        }
      }
      throw new AppError('draft_elsewhere');
    },

    /** `POST /internal/drafts/:id/edit` from another process; false when the path is not this one's. */
    handles(url: string): boolean {
      return EDIT_PATH.test(url);
    },

    async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
      const answer = (status: number, body: object) =>
        void res
          .writeHead(status, { 'content-type': 'application/json' })
          .end(JSON.stringify(body));
      const draftId = EDIT_PATH.exec(req.url ?? '')?.[1];
      const claims = tickets.verify('edit', req.headers[TICKET_HEADER] as string | undefined);
      if (req.method !== 'POST' || !draftId || !claims || claims.draftId !== draftId) {
        req.resume();
        return answer(401, { error: { id: 'unauthenticated' } });
      }
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of req as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > deps.maxBodyBytes) {
          req.destroy();
          return;
        }
        chunks.push(chunk);
      }
      const body = Buffer.concat(chunks);
      if (createHash('sha256').update(body).digest('base64url') !== claims.digest)
        return answer(401, { error: { id: 'unauthenticated' } });
      let reason: string;
      let durable: boolean;
      const updates: Uint8Array[] = [];
      try {
        const dec = decoding.createDecoder(body);
        reason = decoding.readVarString(dec);
        durable = decoding.readUint8(dec) === 1;
        const n = decoding.readVarUint(dec);
        for (let i = 0; i < n; i++) updates.push(decoding.readVarUint8Array(dec));
      } catch {
        return answer(400, { error: { id: 'invalid_body' } });
      }
      try {
        const stored = await rooms.edit(draftId, reason, applyAll(updates), durable);
        answer(200, { stored });
      } catch (err) {
        // Not the owner (any more): the sender finds the owner anew. Never relayed on.
        if (err instanceof OwnedElsewhere) return answer(409, { error: { id: 'draft_elsewhere' } });
        deps.log(`draft ${draftId}: a forwarded change failed`, err);
        answer(500, { error: { id: 'internal' } });
      }
    },
  };
}

export type DraftGateway = ReturnType<typeof createDraftGateway>;
