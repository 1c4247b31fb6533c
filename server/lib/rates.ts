/** Rates: a token bucket (smooth, with bursts; may go into debt) and a sliding window (at most N per window). */
/**
 * A token bucket: refills at `perSecond` tokens a second up to `capacity`. `take` spends a token
 * only when one is there; `charge` spends after the fact (a cost known only once paid) and may
 * leave the bucket in debt, which `waitMs` turns into the time until it is out of debt.
 */
export class TokenBucket {
  private readonly perSecond: number;
  private readonly capacity: number;
  private tokens: number;
  private at: number;

  /** Starts full. */
  constructor(perSecond: number, capacity: number) {
    this.perSecond = perSecond;
    this.capacity = capacity;
    this.tokens = capacity;
    this.at = performance.now();
  }

  private refill(): number {
    const now = performance.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.at) * this.perSecond) / 1000);
    this.at = now;
    return this.tokens;
  }

  take(n = 1): boolean {
    if (this.refill() < n) return false;
    this.tokens -= n;
    return true;
  }

  charge(n: number): void {
    this.refill();
    this.tokens -= n;
  }

  /** Milliseconds until the bucket is out of debt (0: it is not in debt). */
  waitMs(): number {
    const level = this.refill();
    return level >= 0 ? 0 : Math.ceil((-level / this.perSecond) * 1000);
  }
}

/**
 * Seconds until one more action fits a sliding window of `max` per `windowMs` that already holds
 * `times` (0: it fits now); the wait ends when the oldest action in the window leaves it.
 */
export function windowRetryAfter(
  times: readonly number[],
  max: number,
  windowMs: number,
  now: number,
): number {
  const recent = times.filter((t) => now - t < windowMs);
  if (recent.length < max) return 0;
  return Math.max(1, Math.ceil((Math.min(...recent) + windowMs - now) / 1000));
}
