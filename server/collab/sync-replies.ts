/**
 * Sync step 1 requests of one room's connections (SEC-3: no amplification). A
 * connection has at most one full-state reply in flight: while one is being written, later
 * requests are coalesced into the latest state vector, answered once the previous reply has
 * drained to the kernel. A client that asks a thousand times and never reads costs one reply
 * and one state vector, not a thousand encodings of the document.
 */
export class SyncReplies<P> {
  /** Connections with a reply written but not yet drained. */
  private readonly sending = new Set<P>();
  /** The latest unanswered state vector of each connection. */
  private readonly waiting = new Map<P, Uint8Array>();
  /** True when a reply may go out now (the room's log holds everything before it). */
  private readonly ready: () => boolean;
  /**
   * Sends the reply and returns 0, calling `drained` once it left the process (never, if the
   * connection went away); or returns how many ms to wait before it may be sent (the user's budget).
   */
  private readonly reply: (peer: P, stateVector: Uint8Array, drained: () => void) => number;
  /** Connections waiting for their user's budget, and the timer that tries again. */
  private readonly later = new Map<P, NodeJS.Timeout>();

  constructor(
    ready: () => boolean,
    reply: (peer: P, stateVector: Uint8Array, drained: () => void) => number,
  ) {
    this.ready = ready;
    this.reply = reply;
  }

  request(peer: P, stateVector: Uint8Array): void {
    this.waiting.set(peer, stateVector);
    this.pump(peer);
  }

  /** The log became writable again: answer whoever waits and has nothing in flight. */
  retry(): void {
    for (const peer of [...this.waiting.keys()]) this.pump(peer);
  }

  forget(peer: P): void {
    this.sending.delete(peer);
    this.waiting.delete(peer);
    clearTimeout(this.later.get(peer));
    this.later.delete(peer);
  }

  /** The room unloads. */
  destroy(): void {
    for (const timer of this.later.values()) clearTimeout(timer);
    this.later.clear();
  }

  private pump(peer: P): void {
    if (this.sending.has(peer) || this.later.has(peer) || !this.waiting.has(peer)) return;
    // ready() may flush, and a flush answers waiting connections itself (retry): look again after it.
    if (!this.ready() || this.sending.has(peer)) return;
    const stateVector = this.waiting.get(peer);
    if (!stateVector) return;
    this.waiting.delete(peer);
    this.sending.add(peer);
    const waitMs = this.reply(peer, stateVector, () => {
      this.sending.delete(peer);
      this.pump(peer);
    });
    if (waitMs === 0) return;
    // Not sent: keep it unless a newer request came in meanwhile, and try again when the budget allows.
    this.sending.delete(peer);
    if (!this.waiting.has(peer)) this.waiting.set(peer, stateVector);
    this.later.set(
      peer,
      setTimeout(() => {
        this.later.delete(peer);
        this.pump(peer);
      }, waitMs),
    );
  }
}
