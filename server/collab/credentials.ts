import type { Credential, Ended } from '../domain/accounts.ts';

/** setTimeout holds at most 2^31 − 1 ms (about 24.8 days); a longer delay would fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

interface OpenSocket {
  credential: Credential;
  userId: string;
  close(): void;
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
  open(credential: Credential, userId: string, close: () => void): () => void {
    const socket: OpenSocket = { credential, userId, close };
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

  private end(socket: OpenSocket): void {
    clearTimeout(socket.timer);
    if (this.sockets.delete(socket)) socket.close();
  }
}
