import type { LeaseStore } from '../store/pg/leases.ts';

export type AcquireResult = { epoch: number } | { owner: { node: string; url: string } };

export interface LeasesOptions {
  store: LeaseStore;
  /** This process's NODE_ID: unique among the processes (two sharing one take leases from each other). */
  nodeId: string;
  /** How other processes reach this one (INTERNAL_URL), kept in the lease for them. */
  url: string;
  /** How long a lease lasts without renewal. */
  ttlMs?: number;
  /** How often held leases are renewed (ttl/3: two renewals may fail before a lease lapses). */
  renewEveryMs?: number;
  /**
   * A held lease was lost: taken over, lapsed, or not provably ours any more. Called once per
   * loss; the owner must stop writing the draft (its writes are fenced from now on anyway).
   */
  onLost: (draftId: string) => void;
  log?: (msg: string) => void;
}

export const DEFAULT_LEASE_TTL_MS = 5_000;

interface Held {
  epoch: number;
  /** performance.now() until which the lease is surely ours (PG-71). */
  validUntil: number;
}

/**
 * The draft leases of one process (PG-70, PG-71): acquire, renew on a timer, release, look up.
 *
 * A lease is surely ours until ttl after a successful take or renewal was *sent* (PostgreSQL set
 * its expiry later than that, by its own clock): a monotonic local deadline, so a process cut off
 * from PostgreSQL — or paused — knows by itself when it can no longer prove it owns a draft, and
 * reports the loss then, even while its renewal hangs. A renewal that finds a lease superseded or
 * expired reports it lost at once.
 */
export class Leases {
  readonly nodeId: string;
  private readonly opts: LeasesOptions;
  private readonly ttlMs: number;
  private readonly log: (msg: string) => void;
  private readonly held = new Map<string, Held>();
  private readonly acquiring = new Map<string, Promise<AcquireResult>>();
  private readonly renewTimer: NodeJS.Timeout;
  private deadlineTimer: NodeJS.Timeout | undefined;
  /** One renewal at a time: while PostgreSQL hangs, renewals must not pile up on the pool. */
  private renewing = false;
  private failing = false;
  private closed = false;

  constructor(opts: LeasesOptions) {
    this.opts = opts;
    this.nodeId = opts.nodeId;
    this.ttlMs = opts.ttlMs ?? DEFAULT_LEASE_TTL_MS;
    this.log = opts.log ?? console.error;
    this.renewTimer = setInterval(
      () => void this.renew(),
      opts.renewEveryMs ?? Math.floor(this.ttlMs / 3),
    );
    this.renewTimer.unref();
  }

  /** The epoch of the lease held here for `draftId`, if one is (and its deadline has not passed). */
  epoch(draftId: string): number | undefined {
    const held = this.held.get(draftId);
    return held && held.validUntil > performance.now() ? held.epoch : undefined;
  }

  /**
   * Takes the draft's lease (free, expired, or a former incarnation of this node's), or says who
   * holds it. Concurrent calls for one draft share one attempt.
   */
  acquire(draftId: string): Promise<AcquireResult> {
    if (this.closed) return Promise.reject(new Error('leases closed'));
    const held = this.held.get(draftId);
    if (held && held.validUntil > performance.now()) return Promise.resolve({ epoch: held.epoch });
    // Past its deadline, whether or not the timer ran yet (a process just resumed from a pause).
    if (held) this.lose(draftId);
    let pending = this.acquiring.get(draftId);
    if (!pending) {
      pending = this.take(draftId).finally(() => this.acquiring.delete(draftId));
      this.acquiring.set(draftId, pending);
    }
    return pending;
  }

  private async take(draftId: string): Promise<AcquireResult> {
    const { store } = this.opts;
    // A lease that lapses or is released between the two statements: take again (rarely twice).
    for (let attempt = 0; attempt < 3; attempt++) {
      const sentAt = performance.now();
      const epoch = await store.take(draftId, this.nodeId, this.opts.url, this.ttlMs);
      if (epoch !== null) {
        if (this.closed) {
          await store.release(draftId, this.nodeId, epoch);
          throw new Error('leases closed');
        }
        this.held.set(draftId, { epoch, validUntil: sentAt + this.ttlMs });
        this.armDeadline();
        return { epoch };
      }
      const holder = await store.holder(draftId);
      if (holder) return { owner: { node: holder.node, url: holder.url } };
    }
    throw new Error(`draft ${draftId}: its lease changed hands three times in a row`);
  }

  /** Who holds the draft's lease now, or null when nobody does. */
  async owner(draftId: string): Promise<{ node: string; url: string; epoch: number } | null> {
    return this.opts.store.holder(draftId);
  }

  /** Gives the lease up (only if still ours at the epoch held), so another process need not wait the TTL. */
  async release(draftId: string): Promise<void> {
    const held = this.held.get(draftId);
    if (!held) return;
    this.held.delete(draftId);
    await this.opts.store.release(draftId, this.nodeId, held.epoch);
  }

  /** Renews every held lease in one statement (also run by the timer). */
  async renew(): Promise<void> {
    if (this.renewing || this.closed || this.held.size === 0) return;
    this.renewing = true;
    const sent = [...this.held].map(([draftId, h]) => ({ draftId, epoch: h.epoch }));
    const sentAt = performance.now();
    try {
      const renewed = await this.opts.store.renew(this.nodeId, sent, this.ttlMs);
      for (const { draftId, epoch } of sent) {
        const held = this.held.get(draftId);
        if (!held || held.epoch !== epoch) {
          // Lost (deadline passed) or released while the renewal ran, yet renewed: give it up
          // again rather than make other processes wait for it (a no-op if re-acquired since).
          if (renewed.has(draftId) && !this.closed)
            void this.opts.store.release(draftId, this.nodeId, epoch).catch(() => {});
          continue;
        }
        if (renewed.has(draftId)) held.validUntil = Math.max(held.validUntil, sentAt + this.ttlMs);
        else this.lose(draftId);
      }
      if (this.failing) this.log('leases: renewals work again');
      this.failing = false;
    } catch (e) {
      // PostgreSQL unreachable: the next tick tries again; the deadline reports what lapses
      // meanwhile. Said once per outage, not once a tick.
      if (!this.failing) this.log(`leases: renewal failed: ${(e as Error).message}`);
      this.failing = true;
    } finally {
      this.renewing = false;
      this.armDeadline();
    }
  }

  /** Stops renewing and gives every held lease up (best effort: they lapse anyway). */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.renewTimer);
    clearTimeout(this.deadlineTimer);
    const held = [...this.held];
    this.held.clear();
    await Promise.allSettled(
      held.map(([draftId, h]) => this.opts.store.release(draftId, this.nodeId, h.epoch)),
    );
  }

  private lose(draftId: string): void {
    this.held.delete(draftId);
    try {
      this.opts.onLost(draftId);
    } catch (e) {
      this.log(`leases: onLost(${draftId}) failed: ${(e as Error).message}`);
    }
  }

  /** One timer at the earliest local deadline of the held leases. */
  private armDeadline(): void {
    clearTimeout(this.deadlineTimer);
    this.deadlineTimer = undefined;
    if (this.closed || this.held.size === 0) return;
    let earliest = Infinity;
    for (const h of this.held.values()) earliest = Math.min(earliest, h.validUntil);
    this.deadlineTimer = setTimeout(
      () => {
        const now = performance.now();
        for (const [draftId, h] of [...this.held]) if (h.validUntil <= now) this.lose(draftId);
        this.armDeadline();
      },
      Math.max(0, earliest - performance.now()),
    );
    this.deadlineTimer.unref();
  }
}
