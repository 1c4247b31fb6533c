import { AppError } from '#schema/errors.ts';

export interface ConnectionLimitOptions {
  /** COLLAB_MAX_CONNECTIONS_PER_USER */
  perUser: number;
  /** COLLAB_MAX_CONNECTIONS */
  perServer: number;
}

/**
 * Open collab websockets per user and per server (SEC-8). A socket counts from the
 * moment its upgrade is accepted for handling, before the handshake completes: a burst of
 * parallel upgrades cannot overshoot the limit while they are all still connecting. It stops
 * counting when the underlying socket closes, however the connection ends (handshake aborted,
 * closed, terminated).
 */
export class ConnectionLimits {
  private readonly opts: ConnectionLimitOptions;
  private readonly perUser = new Map<string, number>();
  private total = 0;

  constructor(opts: ConnectionLimitOptions) {
    this.opts = opts;
  }

  /** Counts one more socket of `userId`, or throws `too_many_connections` (429). Returns its release (idempotent). */
  acquire(userId: string): () => void {
    const mine = this.perUser.get(userId) ?? 0;
    if (mine >= this.opts.perUser) {
      throw new AppError(
        'too_many_connections',
        `You have ${mine} open connections (at most ${this.opts.perUser}): close some tabs, then try again.`,
        { limit: 'COLLAB_MAX_CONNECTIONS_PER_USER', max: this.opts.perUser },
      );
    }
    if (this.total >= this.opts.perServer) {
      throw new AppError(
        'too_many_connections',
        'The server holds as many connections as it may: try again shortly.',
        { limit: 'COLLAB_MAX_CONNECTIONS', max: this.opts.perServer },
      );
    }
    this.perUser.set(userId, mine + 1);
    this.total++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.total--;
      const left = (this.perUser.get(userId) ?? 1) - 1;
      if (left > 0) this.perUser.set(userId, left);
      else this.perUser.delete(userId);
    };
  }
}
