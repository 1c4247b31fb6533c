import { TokenBucket } from '../lib/rates.ts';

/**
 * How many bytes of full-state replies each user may have encoded afresh per second, over all
 * their connections and drafts (SEC-3). Coalescing bounds one connection to one
 * reply in flight, but a client that reads fast asks again at once, with a new state vector
 * each time (missing the reply cache), on up to COLLAB_MAX_CONNECTIONS_PER_USER sockets: every
 * encoding of a large draft is one long task on the event loop. Charged after the encoding (its
 * size is known only then); a user in debt waits, their requests still coalescing meanwhile.
 */
export class ReplyBudget {
  private readonly bytesPerSecond: number;
  /** Full (one second's worth) at first: opening a large draft costs nothing extra. */
  private readonly users = new Map<string, TokenBucket>();

  constructor(bytesPerSecond: number) {
    this.bytesPerSecond = bytesPerSecond;
  }

  /** Milliseconds until `userId` may have another fresh encoding (0: now). */
  wait(userId: string): number {
    return this.bucket(userId).waitMs();
  }

  charge(userId: string, bytes: number): void {
    this.bucket(userId).charge(bytes);
  }

  private bucket(userId: string): TokenBucket {
    let bucket = this.users.get(userId);
    if (!bucket) {
      bucket = new TokenBucket(this.bytesPerSecond, this.bytesPerSecond);
      this.users.set(userId, bucket);
    }
    return bucket;
  }
}
