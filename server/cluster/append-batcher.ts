import { FencedError, type FencedBatch } from '../store/pg/drafts.ts';

/** Group appends in flight at once: one is being written while the next gathers. */
const IN_FLIGHT = 2;
/** Drafts per group append, and bytes (a group is one statement's parameters). */
const MAX_DRAFTS = 256;
const MAX_BYTES = 8 * 1024 * 1024;

interface Waiting {
  draftId: string;
  updates: readonly Uint8Array[];
  bytes: number;
  resolve: (lastSeq: number) => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit on PostgreSQL (PG-155): the appends of a process's drafts that arrive while group
 * appends are in flight go out together, as one fenced statement (one transaction, one WAL
 * flush), instead of one transaction per draft. Nothing waits for a timer: with nothing in flight
 * an append is sent at once, so a lone editor pays no delay; under load the statements grow. A
 * draft whose lease is not held is refused alone before any statement; one fenced by the database
 * refuses its group (the statement writes all or nothing), and the others are sent again at once.
 * Each Room keeps one append in flight, so a draft's updates stay in order.
 */
export class AppendBatcher {
  private readonly waiting: Waiting[] = [];
  private inFlight = 0;
  private readonly appendMany: (batches: FencedBatch[]) => Promise<number[]>;
  private readonly epoch: (draftId: string) => number;

  constructor(
    appendMany: (batches: FencedBatch[]) => Promise<number[]>,
    epoch: (draftId: string) => number,
  ) {
    this.appendMany = appendMany;
    this.epoch = epoch;
  }

  append(draftId: string, updates: readonly Uint8Array[]): Promise<number> {
    const bytes = updates.reduce((n, u) => n + u.byteLength, 0);
    return new Promise((resolve, reject) => {
      this.waiting.push({ draftId, updates, bytes, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < IN_FLIGHT && this.waiting.length > 0) {
      let n = 0;
      let bytes = 0;
      while (n < this.waiting.length && n < MAX_DRAFTS && (n === 0 || bytes < MAX_BYTES))
        bytes += this.waiting[n++]!.bytes;
      const group = this.waiting.splice(0, n);
      this.inFlight++;
      void this.send(group).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  private async send(group: Waiting[]): Promise<void> {
    const ready: { w: Waiting; epoch: number }[] = [];
    for (const w of group) {
      try {
        ready.push({ w, epoch: this.epoch(w.draftId) });
      } catch (err) {
        w.reject(err);
      }
    }
    if (ready.length === 0) return;
    try {
      const seqs = await this.appendMany(
        ready.map(({ w, epoch }) => ({ draftId: w.draftId, updates: w.updates, epoch })),
      );
      ready.forEach(({ w }, i) => w.resolve(seqs[i]!));
    } catch (err) {
      if (!(err instanceof FencedError)) {
        for (const { w } of ready) w.reject(err);
        return;
      }
      const fenced = new Set(err.draftIds);
      const others = ready.filter(({ w }) => !fenced.has(w.draftId)).map(({ w }) => w);
      for (const { w } of ready) if (fenced.has(w.draftId)) w.reject(new FencedError([w.draftId]));
      this.waiting.unshift(...others);
    }
  }
}
