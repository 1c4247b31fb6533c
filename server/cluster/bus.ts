import type { ClusterMessage, ClusterMessageType, MessageOf } from './messages.ts';

/**
 * Control messages between processes (PG-60): what one process publishes reaches the listeners of
 * every process, its own at once (synchronously, inside `publish`). Nothing durable travels here:
 * a message may be lost (Redis down), and `onResynced` tells a process when it must re-check what
 * such a message would have told it.
 */
export interface ClusterBus {
  /** Delivers to this process's listeners now and sends to the others. Never throws or waits. */
  publish(message: ClusterMessage): void;
  /** Listens for one type of message; returns the listener's removal. */
  on<T extends ClusterMessageType>(type: T, listener: (message: MessageOf<T>) => void): () => void;
  /**
   * Called after the bus came back from an outage in which messages may have been lost: the
   * server re-validates its open connections then (PG-62). Returns the listener's removal.
   */
  onResynced(listener: () => void): () => void;
  /** What happened so far (for tests and health): never decreasing, but for `sending`. */
  counts(): Readonly<BusCounts>;
  close(): Promise<void>;
}

export interface BusCounts {
  /** Published by this process (delivered locally; sent too when a bus connects processes). */
  published: number;
  /** Received from other processes and delivered to this process's listeners. */
  received: number;
  /** Dropped sends of a kept type (PG-180), sent again once Redis took sends again. */
  resent: number;
  /** Not sent: no connection to Redis, or too many sends still waiting for an answer. */
  droppedUnavailable: number;
  /** Received and dropped: not JSON or not a known message (zod). */
  droppedMalformed: number;
  /** Received (or about to be sent) and dropped: over MAX_MESSAGE_BYTES. */
  droppedOversized: number;
  /** Listeners that threw (the others still ran). */
  listenerErrors: number;
  /** Times `onResynced` listeners were called. */
  resyncs: number;
  /** Sends waiting for Redis's answer now (at most MAX_SENDS_IN_FLIGHT). */
  sending: number;
}

/**
 * Listeners per message type (and for resyncs) in one process (PG-61). Listeners belong to the
 * server's components (one each: the event hub fans out to its own bounded subscribers), not to
 * connections, so a small cap catches a leak instead of growing without end.
 */
export const MAX_LISTENERS_PER_TYPE = 100;

export type Log = (msg: string, err?: unknown) => void;

/** The listener registry and counters both buses share. */
export class Listeners {
  readonly counts: BusCounts = {
    published: 0,
    received: 0,
    resent: 0,
    droppedUnavailable: 0,
    droppedMalformed: 0,
    droppedOversized: 0,
    listenerErrors: 0,
    resyncs: 0,
    sending: 0,
  };
  private readonly byType = new Map<string, ((message: never) => void)[]>();
  private readonly log: Log;

  constructor(log: Log) {
    this.log = log;
  }

  on<T extends ClusterMessageType>(type: T, listener: (message: MessageOf<T>) => void): () => void {
    return this.add(type, listener);
  }

  onResynced(listener: () => void): () => void {
    // A type no message has ('resynced' is not a message type).
    return this.add(' resynced', listener);
  }

  deliver(message: ClusterMessage): void {
    this.call(message.type, message);
  }

  resynced(): void {
    this.counts.resyncs++;
    this.call(' resynced', undefined);
  }

  private add(key: string, listener: (message: never) => void): () => void {
    const list = this.byType.get(key) ?? [];
    if (list.length >= MAX_LISTENERS_PER_TYPE)
      throw new Error(`cluster bus: more than ${MAX_LISTENERS_PER_TYPE} listeners for ${key}`);
    list.push(listener);
    this.byType.set(key, list);
    return () => {
      const i = list.indexOf(listener);
      if (i >= 0) list.splice(i, 1);
    };
  }

  private call(key: string, arg: unknown): void {
    // A copy: a listener may remove itself (or another) while we iterate.
    for (const listener of [...(this.byType.get(key) ?? [])]) {
      try {
        (listener as (message: unknown) => void)(arg);
      } catch (err) {
        // One broken listener must not stop the others, nor the bus's receiving loop.
        this.counts.listenerErrors++;
        this.log(`cluster bus: a ${key.trim()} listener failed`, err);
      }
    }
  }
}

/**
 * The bus of one process without Redis (the default): today's behaviour, every message delivered
 * synchronously to this process's listeners, and no outage to resync after.
 */
export function createLocalBus(log: Log = () => {}): ClusterBus {
  const listeners = new Listeners(log);
  return {
    publish(message) {
      listeners.counts.published++;
      listeners.deliver(message);
    },
    on: (type, listener) => listeners.on(type, listener),
    onResynced: (listener) => listeners.onResynced(listener),
    counts: () => ({ ...listeners.counts }),
    close: async () => {},
  };
}
