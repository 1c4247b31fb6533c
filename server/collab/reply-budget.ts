/**
 * How many bytes of full-state replies each user may have encoded afresh per second, over all
 * their connections and drafts (issue 12, point 3). Coalescing bounds one connection to one
 * reply in flight, but a client that reads fast asks again at once, with a new state vector
 * each time (missing the reply cache), on up to COLLAB_MAX_CONNECTIONS_PER_USER sockets: every
 * encoding of a large draft is one long task on the event loop. Charged after the encoding (its
 * size is known only then); a user in debt waits, their requests still coalescing meanwhile.
 */
export class ReplyBudget {
  private readonly bytesPerSecond: number;
  private readonly users = new Map<string, { tokens: number; at: number }>();

  constructor(bytesPerSecond: number) {
    this.bytesPerSecond = bytesPerSecond;
  }

  /** Milliseconds until `userId` may have another fresh encoding (0: now). */
  wait(userId: string): number {
    const account = this.refill(userId);
    return account.tokens >= 0 ? 0 : Math.ceil((-account.tokens / this.bytesPerSecond) * 1000);
  }

  charge(userId: string, bytes: number): void {
    this.refill(userId).tokens -= bytes;
  }

  private refill(userId: string): { tokens: number; at: number } {
    const now = performance.now();
    let account = this.users.get(userId);
    if (!account) {
      // Full (one second's worth): opening a large draft costs nothing extra.
      account = { tokens: this.bytesPerSecond, at: now };
      this.users.set(userId, account);
    }
    account.tokens = Math.min(this.bytesPerSecond, account.tokens + ((now - account.at) * this.bytesPerSecond) / 1000);
    account.at = now;
    return account;
  }
}
