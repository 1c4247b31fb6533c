import { OwnedElsewhere } from './draft-log.ts';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { AppError, CLOSE, type CloseReason } from '#schema/errors.ts';
import { can } from '#schema/permissions.ts';
import type { Accounts, Credential } from '../domain/accounts.ts';
import type { Projects } from '../domain/projects.ts';
import type { Access } from '../domain/access.ts';
import { authenticate } from '../request/authenticate.ts';
import { sendWithin } from './backpressure.ts';
import { ConnectionLimits } from './connection-limits.ts';
import { UnfinishedFrames } from './unfinished-frames.ts';
import { hopOf, requestScheme } from '../request/client.ts';
import type { Peer, Room } from './room.ts';
import type { Rooms } from './rooms.ts';
import type { OpenCredentials } from './credentials.ts';
import type { Tickets } from '../cluster/tickets.ts';
import { relayToOwner, RELAY_HEADER, RELAY_PATH, type Upstream } from './relay.ts';

export interface CollabDeps {
  accounts: Accounts;
  projects: Projects;
  rooms: Rooms;
  access: Access;
  credentials: OpenCredentials;
  maxFrameBytes: number;
  /** A socket holding more unsent bytes than this is dropped (4429). */
  maxBufferedBytes: number;
  maxConnectionsPerUser: number;
  maxConnections: number;
  allowedOrigins: readonly string[];
  /** TRUST_PROXY: the scheme the browser used comes from X-Forwarded-Proto (the Origin check compares it). */
  trustProxy?: boolean;
  log: (msg: string, err?: unknown) => void;
  /**
   * Several processes (PG-140): a socket of a draft another process owns is relayed to it, and
   * sockets relayed here by the others are accepted on a signed ticket. Absent: one process.
   */
  relay?: { tickets: Tickets; nodeId: string };
}

const PATH = /^\/collab\/([A-Za-z0-9_-]{1,64})$/;
/**
 * Every connection is pinged this often; one that has not answered the previous ping by the next is
 * dropped (terminated: a vanished network sends no close frame). A collaborator whose network went
 * away is therefore gone, and their presence removed for everyone, within PING_MS to 2 × PING_MS
 * (2.5–5 s) plus the presence batch. Browsers answer pings below the page, so a busy or background
 * tab still answers. Cost per connection every 2.5 s: one timer, a 2-byte ping and a 6-byte pong
 * (about 110 bytes with TCP/IP headers); at the COLLAB_MAX_CONNECTIONS default (10,000) that is
 * 4,000 round trips a second, under 0.5 MB/s in all. (Was 30 s: a vanished collaborator showed for
 * up to a minute.)
 */
export const PING_MS = 2_500;
/**
 * A ping that travels behind much data (over BUSY_BYTES sent in the interval before it, or bytes
 * still waiting in the socket's buffer: a slow link downloading a large draft, readers of full
 * replies) may take this many pings (30 s, the former bound) to be answered. Honest editing sends
 * far less than 64 KB in 2.5 s, so a vanished collaborator in a busy draft still goes at once.
 */
const SLOW_PINGS = 12;
const BUSY_BYTES = 64 * 1024;

function refuse(socket: Duplex, err: AppError): void {
  const body = JSON.stringify({
    error: {
      id: err.id,
      message: err.message,
      ...(err.details === undefined ? {} : { details: err.details }),
    },
  });
  const reason =
    {
      401: 'Unauthorized',
      403: 'Forbidden',
      404: 'Not Found',
      410: 'Gone',
      429: 'Too Many Requests',
      503: 'Service Unavailable',
    }[err.status] ?? 'Bad Request';
  socket.end(
    `HTTP/1.1 ${err.status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/**
 * `GET /collab/:draftId` → websocket speaking the y-websocket protocol. Everything is
 * decided before the upgrade: who (session cookie + Origin, or ?token=), which draft, and
 * whether the connection may write (`?mode=read` asks for a read-only one).
 */
export function createCollabUpgrade(deps: CollabDeps) {
  const wss = new WebSocketServer({ noServer: true, maxPayload: deps.maxFrameBytes });
  const limits = new ConnectionLimits({
    perUser: deps.maxConnectionsPerUser,
    perServer: deps.maxConnections,
  });
  // Two frames of the largest size in flight per user: an honest client sends one at a time.
  const unfinished = new UnfinishedFrames(2 * deps.maxFrameBytes);

  function accept(
    ws: WebSocket,
    socket: Duplex,
    draftId: string,
    user: { id: string; name: string },
    readOnly: boolean,
    /** Absent for a socket another process relayed here: that process tracks its credential. */
    signedIn: { credential: Credential; recheck: () => Promise<boolean> } | null,
  ): void {
    /** Pings sent since the last pong. */
    let unanswered = 0;
    /** Bytes sent since the last ping, and in the interval before it (they travel ahead of it). */
    let sent = 0;
    let sentAhead = 0;
    const inFlight = unfinished.track(user.id);
    // Set when a message completes; the count is zeroed then.
    let completed = false;
    // After ws parsed the bytes (its listener came first): a chunk that completed a message is not
    // counted (the start of the next frame in its tail goes uncounted: at most one chunk).
    socket.on('data', (chunk: Buffer) => {
      if (completed) {
        completed = false;
        return;
      }
      if (inFlight.received(chunk.length)) return;
      // After this turn: a frame over the limit is ws's to refuse (1009), and ws reports that a few ticks later.
      setImmediate(() => {
        if (ws.readyState !== ws.OPEN) return;
        deps.log(
          `collab ${draftId}: dropped a connection whose user sent over ${2 * deps.maxFrameBytes} bytes of unfinished frames`,
        );
        ws.close(CLOSE.too_many_messages, 'too many bytes of unfinished frames');
        ws.terminate();
      });
    });
    // When another process owns the draft, the relay to it (PG-140).
    let upstream: Upstream | null = null;
    const peer: Peer = {
      userId: user.id,
      userName: user.name,
      readOnly,
      send(frame, drained) {
        sent += frame.byteLength;
        if (sendWithin(ws, frame, deps.maxBufferedBytes, drained) === 'too_slow') {
          deps.log(
            `collab ${draftId}: dropped a connection that did not read (over ${deps.maxBufferedBytes} bytes unsent)`,
          );
        }
      },
      close(reason: CloseReason, detail?: string) {
        if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING)
          ws.close(CLOSE[reason], (detail ?? reason).slice(0, 120));
        // Closed here (rights, session, draft): the owner's side goes now, not when the client
        // answers the close frame, which a hostile one never does (PG-200).
        upstream?.close();
      },
    };
    // Opening the room asks the flow-rule policy (a store read): frames that arrive meanwhile
    // wait in order (one store read's time).
    let room: Room | null = null;
    let forgetRelayed = () => {};
    let early: Uint8Array[] | null = [];
    let earlyBytes = 0;
    let gone = false;
    deps.rooms.connect(draftId, peer).then(
      (opened) => {
        if (gone) return deps.rooms.disconnect(opened, peer);
        room = opened;
        for (const frame of early ?? []) opened.receive(peer, frame);
        early = null;
      },
      (err: unknown) => {
        // Closed meanwhile (its client may not have answered yet): nothing to relay.
        if (gone || ws.readyState !== ws.OPEN) return;
        // Another live process owns the draft (PG-102): relayed to it, unless this socket is
        // itself relayed (never twice: the client reconnects and finds the owner anew).
        if (err instanceof OwnedElsewhere) {
          if (!deps.relay || !signedIn)
            return peer.close('owner_moved', 'another server holds this draft; reconnect');
          upstream = relayToOwner(
            {
              ...deps.relay,
              maxBufferedBytes: deps.maxBufferedBytes,
              pingMs: PING_MS,
              log: deps.log,
            },
            err.owner.url,
            draftId,
            peer,
          );
          forgetRelayed = deps.rooms.relaying(draftId, peer);
          for (const frame of early ?? []) upstream.send(frame);
          early = null;
          return;
        }
        deps.log(`collab ${draftId}: could not open the draft`, err);
        peer.close('shutting_down', 'could not open the draft; reconnect');
      },
    );
    const forget = signedIn
      ? deps.credentials.open(
          signedIn.credential,
          user.id,
          (why) => peer.close(why === 'rights' ? 'rights_changed' : 'session_ended'),
          signedIn.recheck,
        )
      : () => {};
    const ping = setInterval(
      () =>
        // Decided after the event loop's I/O phase: when the server was busy for longer than
        // PING_MS, a pong waiting unread in the socket is read first, so a busy server never drops
        // a connection that did answer (timers run before I/O in a loop turn; setImmediate after).
        setImmediate(() => {
          if (ws.readyState !== ws.OPEN) return;
          // Unanswered: dropped, unless the ping travels behind much data (a slow link downloading a
          // large draft gets it only after that data), which may take up to SLOW_PINGS.
          const busy = socket.writableLength > 0 || sentAhead > BUSY_BYTES;
          if (unanswered > 0 && (!busy || unanswered >= SLOW_PINGS)) return ws.terminate();
          unanswered++;
          sentAhead = sent;
          sent = 0;
          ws.ping();
        }),
      PING_MS,
    );
    // Control frames (pings, pongs) do not zero the count: they may come between the fragments of a message.
    ws.on('pong', () => {
      unanswered = 0;
    });
    ws.on('message', (data, isBinary) => {
      completed = true;
      inFlight.finished();
      // A socket the server closed writes nothing more, though its client may go on sending
      // until it answers the close frame (up to ws's 30 s close timeout) (PG-200).
      if (ws.readyState !== ws.OPEN) return;
      if (!isBinary) return peer.close('malformed_message', 'frames must be binary');
      const frame = Array.isArray(data)
        ? Buffer.concat(data)
        : Buffer.isBuffer(data)
          ? data
          : Buffer.from(data);
      const bytes = new Uint8Array(frame.buffer, frame.byteOffset, frame.byteLength);
      if (room) room.receive(peer, bytes);
      else if (upstream) upstream.send(bytes);
      else if (early) {
        // Opening may wait for PostgreSQL (the lease): what waits meanwhile is bounded (PG-203).
        earlyBytes += bytes.byteLength;
        if (earlyBytes > deps.maxBufferedBytes) {
          early = null;
          return peer.close('too_slow', 'too many bytes before the draft opened');
        }
        early.push(bytes);
      }
    });
    // ws closes oversized frames itself (1009) and reports it here; nothing of the frame was read.
    ws.on('error', (err) => deps.log(`collab ${draftId}: ${err.message}`));
    ws.on('close', () => {
      inFlight.finished();
      clearInterval(ping);
      forget();
      gone = true;
      if (room) deps.rooms.disconnect(room, peer);
      upstream?.close();
      forgetRelayed();
    });
  }

  /**
   * A socket another process relayed here (PG-141): who and what it may do were decided there and
   * signed with CLUSTER_SECRET; it counts toward the person's connections here as well.
   */
  function acceptRelayed(req: IncomingMessage, socket: Duplex, head: Buffer, draftId: string) {
    const claims = deps.relay?.tickets.verifyOnce('relay', req.headers[RELAY_HEADER] as string);
    if (
      !claims ||
      claims.draftId !== draftId ||
      typeof claims.userId !== 'string' ||
      typeof claims.userName !== 'string' ||
      typeof claims.readOnly !== 'boolean'
    )
      throw new AppError('unauthenticated', 'This endpoint is for the other Stagecoach processes.');
    const user = { id: claims.userId, name: claims.userName };
    const release = limits.acquire(user.id);
    if (socket.closed) release();
    else socket.once('close', release);
    wss.handleUpgrade(req, socket, head, (ws) =>
      accept(ws, socket, draftId, user, claims.readOnly as boolean, null),
    );
  }

  return {
    async handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
      socket.on('error', () => socket.destroy());
      try {
        const url = new URL(req.url ?? '/', 'http://localhost');
        if (deps.rooms.isClosing)
          throw new AppError('internal', 'The server is shutting down; reconnect shortly.');
        const relayed = RELAY_PATH.exec(url.pathname);
        if (relayed) return acceptRelayed(req, socket, head, relayed[1]!);
        const match = PATH.exec(url.pathname);
        if (!match) throw new AppError('not_found');
        const principal = await authenticate(
          deps.accounts,
          {
            authorization: req.headers.authorization,
            cookie: req.headers.cookie,
            queryToken: url.searchParams.get('token') ?? undefined,
            origin: req.headers.origin,
            host: req.headers.host,
            scheme: requestScheme(hopOf(req), deps.trustProxy ?? false),
            // A browser sends cookies on cross-site websocket upgrades: always check the Origin.
            needsOriginCheck: true,
          },
          deps.allowedOrigins,
        );
        const draftId = match[1]!;
        const askedRead = url.searchParams.get('mode') === 'read';
        // Read-only is decided here, once, from the one matrix: a viewer gets content, never a write path.
        const rightsNow = async (): Promise<boolean> => {
          const { environment } = await deps.projects.draft(draftId);
          const roles = await deps.access.rolesIn(principal, environment);
          if (!(await deps.access.isMember(principal, environment.projectId)))
            throw new AppError('draft_not_found');
          if (!can(roles, 'content.read', { hasDraft: true }))
            throw new AppError('forbidden', `You have no role in ${environment.name}.`);
          return askedRead || !can(roles, 'content.edit', { hasDraft: true });
        };
        const readOnly = await rightsNow();
        // The resync sweep (PG-112): the socket stands while its rights read the same.
        const recheck = async (): Promise<boolean> => {
          try {
            return (await rightsNow()) === readOnly;
          } catch (err) {
            if (err instanceof AppError) return false;
            throw err;
          }
        };
        // Counted from here, while still connecting, until the socket closes however it ends.
        const release = limits.acquire(principal.user.id);
        if (socket.closed) release();
        else socket.once('close', release);
        wss.handleUpgrade(req, socket, head, (ws) =>
          accept(ws, socket, draftId, principal.user, readOnly, {
            credential: principal.credential,
            recheck,
          }),
        );
      } catch (err) {
        if (err instanceof AppError) refuse(socket, err);
        else {
          deps.log('collab upgrade failed', err);
          refuse(socket, new AppError('internal'));
        }
      }
    },
    close(): void {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
    },
  };
}
