import type { Credential, Ended } from '../domain/accounts.ts';

/** setTimeout holds at most 2^31 − 1 ms (about 24.8 days); a longer delay would fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

interface OpenSocket {
  credential: Credential;
  userId: string;
  /** `rights`: the credential stands but the rights read at the open changed (the resync sweep). */
  close(why: 'ended' | 'rights'): void;
  /** Re-reads the rights it was opened with: false when they no longer hold (PG-112). */
  recheck?: () => Promise<boolean>;
  timer?: NodeJS.Timeout;
}

/**
 * The open sync sockets by the sign-in that opened them. A socket is authenticated once, at
 * the upgrade; without this a socket would outlive the session or token behind it. It is
 * closed when that credential ends (sign-out, revocation, the account removed: `closeFor`)
 * or expires (a timer set at connect, from the expiry read at the upgrade).
 */
export class OpenCredentials {
  // A plain set scanned on each ending: sign-outs and revocations are rare next to messages,
  // and a scan of the server-wide connection limit (10,000) takes well under a millisecond.
  private readonly sockets = new Set<OpenSocket>();

  get size(): number {
    return this.sockets.size;
  }

  /**
   * Registers a socket; `close` is called once when its credential ends. Returns what to call when
   * the socket closes.
   */
  open(
    credential: Credential,
    userId: string,
    close: (why: 'ended' | 'rights') => void,
    recheck?: () => Promise<boolean>,
  ): () => void {
    const socket: OpenSocket = { credential, userId, close, ...(recheck ? { recheck } : {}) };
    this.sockets.add(socket);
    this.arm(socket);
    return () => {
      clearTimeout(socket.timer);
      this.sockets.delete(socket);
    };
  }

  /** Closes every socket opened with what ended (for a user: with any of their sessions or tokens). */
  closeFor(ended: Ended): void {
    for (const s of [...this.sockets]) {
      const match =
        ended.kind === 'user'
          ? s.userId === ended.id
          : s.credential.kind === ended.kind && s.credential.id === ended.id;
      if (match) this.end(s);
    }
  }

  /**
   * The resync sweep (PG-112): after control messages may have been lost, re-reads each open
   * socket's credential (`holds`, once per credential) and its rights (`recheck`) from the store,
   * one socket at a time (bounded by the connection limits), and closes those that no longer hold.
   * A read that fails keeps the socket (the store is down; the next resync or message decides).
   * Answers how many were closed.
   */
  async revalidate(
    holds: (credential: Credential, userId: string) => Promise<boolean>,
    log: (msg: string, err?: unknown) => void,
  ): Promise<number> {
    const held = new Map<string, Promise<boolean>>();
    let closed = 0;
    for (const s of [...this.sockets]) {
      const key = `${s.credential.kind}:${s.credential.id}`;
      let valid = held.get(key);
      if (!valid) held.set(key, (valid = holds(s.credential, s.userId)));
      let why: 'ended' | 'rights';
      try {
        if (!(await valid)) why = 'ended';
        else if (s.recheck && !(await s.recheck())) why = 'rights';
        else continue;
      } catch (err) {
        log("resync: could not re-read a connection's rights; it stays open", err);
        continue;
      }
      if (this.sockets.has(s)) closed++;
      this.end(s, why);
    }
    return closed;
  }

  private arm(socket: OpenSocket): void {
    const { expiresAt } = socket.credential;
    if (expiresAt === null) return;
    const wait = expiresAt - Date.now();
    socket.timer = setTimeout(
      () => (wait > MAX_TIMER_MS ? this.arm(socket) : this.end(socket)),
      Math.max(0, Math.min(wait, MAX_TIMER_MS)),
    );
    socket.timer.unref();
  }

  private end(socket: OpenSocket, why: 'ended' | 'rights' = 'ended'): void {
    clearTimeout(socket.timer);
    if (this.sockets.delete(socket)) socket.close(why);
  }
}
