import { WebSocket } from 'ws';
import { CLOSE, type CloseReason } from '#schema/errors.ts';
import type { Tickets } from '../cluster/tickets.ts';
import type { Peer } from './room.ts';

/** The header that carries a relay ticket to the owner (PG-140). */
export const RELAY_HEADER = 'x-stagecoach-relay';
/** The owner's endpoint for relayed sockets; only a signed ticket opens it (PG-141). */
export const RELAY_PATH = /^\/internal\/collab\/([A-Za-z0-9_-]{1,64})$/;
/** How long the owner may take to accept a relayed socket before the client is told to reconnect. */
const OPEN_TIMEOUT_MS = 5_000;

export interface RelayDeps {
  tickets: Tickets;
  /** This process's NODE_ID, named in the ticket (the owner's log says where a socket came from). */
  nodeId: string;
  /** The same bound as a client socket's (SEC-2): bytes the owner has not read yet, at most. */
  maxBufferedBytes: number;
  /** How often the owner is pinged; one that has not answered the previous ping is dropped. */
  pingMs: number;
  log: (msg: string, err?: unknown) => void;
}

/** The part of a relayed connection its client side talks to. */
export interface Upstream {
  /** A frame from the client, to the owner (queued, bounded, until the relay is open). */
  send(frame: Uint8Array): void;
  /** The client went away: the owner's side of it goes too (its presence is removed there). */
  close(): void;
}

const reasonOf = new Map<number, CloseReason>(
  (Object.entries(CLOSE) as [CloseReason, number][]).reverse().map(([k, v]) => [v, k]),
);

/**
 * A socket that reached a process that does not own its draft is relayed to the owner (PG-140):
 * an internal websocket to the owner's INTERNAL_URL carrying a ticket (who, which draft, whether
 * read-only — all decided here, where the person signed in), on which the owner serves it as an
 * ordinary peer. Frames pass through unchanged both ways; the owner validates, stores and
 * broadcasts as for its own sockets. However the owner's side ends, the client is closed with the
 * owner's code (a rights change stays a rights change), or `owner_moved` (4502, reconnect) when
 * the owner went away, moved the draft, or could not be reached.
 */
export function relayToOwner(
  deps: RelayDeps,
  ownerUrl: string,
  draftId: string,
  client: Peer,
): Upstream {
  const target = new URL(`/internal/collab/${draftId}`, ownerUrl);
  target.protocol = target.protocol === 'https:' ? 'wss:' : 'ws:';
  const ticket = deps.tickets.sign('relay', {
    draftId,
    userId: client.userId,
    userName: client.userName,
    readOnly: client.readOnly,
    from: deps.nodeId,
  });
  const up = new WebSocket(target, {
    headers: { [RELAY_HEADER]: ticket },
    perMessageDeflate: false,
    handshakeTimeout: OPEN_TIMEOUT_MS,
    followRedirects: false,
  });
  let queued: Uint8Array[] | null = [];
  let queuedBytes = 0;
  let unanswered = 0;
  let ended = false;
  const end = (reason: CloseReason, detail: string) => {
    if (ended) return;
    ended = true;
    clearInterval(ping);
    queued = null;
    client.close(reason, detail);
    if (up.readyState === WebSocket.OPEN) up.close(1000);
    else up.terminate();
  };
  // A paused or cut-off owner answers nothing: its clients reconnect to the draft's next owner.
  const ping = setInterval(() => {
    if (up.readyState !== WebSocket.OPEN) return;
    if (unanswered > 0 && up.bufferedAmount === 0)
      return end('owner_moved', 'the server holding this draft stopped answering; reconnect');
    unanswered++;
    up.ping();
  }, deps.pingMs);
  ping.unref();
  up.on('pong', () => (unanswered = 0));
  up.on('open', () => {
    for (const frame of queued ?? []) up.send(frame);
    queued = null;
    queuedBytes = 0;
  });
  up.on('message', (data, isBinary) => {
    if (!isBinary) return;
    const frame = Array.isArray(data)
      ? Buffer.concat(data)
      : Buffer.isBuffer(data)
        ? data
        : Buffer.from(data);
    unanswered = 0;
    client.send(new Uint8Array(frame.buffer, frame.byteOffset, frame.byteLength));
  });
  up.on('unexpected-response', (_req, res) => {
    deps.log(
      `collab ${draftId}: the owner at ${target.host} refused a relayed socket (${res.statusCode})`,
    );
    res.resume();
    end(
      res.statusCode === 429 ? 'too_many_messages' : 'owner_moved',
      res.statusCode === 429
        ? 'too many connections'
        : 'another server holds this draft; reconnect',
    );
  });
  up.on('error', (err) => {
    if (!ended) deps.log(`collab ${draftId}: relay to ${target.host}: ${err.message}`);
    end('owner_moved', 'the server holding this draft cannot be reached; reconnect');
  });
  up.on('close', (code, why) => {
    const reason = reasonOf.get(code);
    end(
      reason ?? 'owner_moved',
      reason ? why.toString('utf8') : 'the server holding this draft went away; reconnect',
    );
  });
  return {
    send(frame) {
      if (ended) return;
      if (queued) {
        queuedBytes += frame.byteLength;
        queued.push(frame);
        if (queuedBytes > deps.maxBufferedBytes)
          end('too_slow', 'too many bytes before the relay opened');
        return;
      }
      // The owner reads what it is sent; one that does not is treated as gone.
      if (up.bufferedAmount > deps.maxBufferedBytes)
        return end('owner_moved', 'the server holding this draft is not reading; reconnect');
      up.send(frame);
    },
    close() {
      if (ended) return;
      ended = true;
      clearInterval(ping);
      queued = null;
      if (up.readyState === WebSocket.OPEN) up.close(1000);
      else up.terminate();
    },
  };
}
