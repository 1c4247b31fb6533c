/**
 * How big a draft may grow. Measuring a Y.Doc exactly means encoding it (O(document)), too
 * dear for every update, so the room keeps an upper estimate instead: the encoded state at
 * load or at the last compaction plus the bytes of every update applied since (an update grows the
 * encoded state by about its own size at most; overwritten and deleted content makes the
 * estimate high, never low).
 *
 * An update that would pass the bound by the estimate is measured exactly before it is
 * refused, but only when enough was applied since the last measurement to matter (1/16 of the
 * bound): a peer whose updates keep being refused cannot make the server encode the whole
 * draft again and again; it has to add that much first.
 */
export class DraftBudget {
  readonly max: number;
  private estimate: number;
  private sinceMeasured = 0;

  constructor(max: number, initialBytes: number) {
    this.max = max;
    this.estimate = initialBytes;
  }

  /** The draft's size by the estimate (an upper bound of its encoded state). */
  get size(): number {
    return this.estimate;
  }

  /** May an update of `bytes` be applied? `measure` encodes the draft (called rarely, see above). */
  admits(bytes: number, measure: () => number): boolean {
    if (this.estimate + bytes <= this.max) return true;
    if (this.sinceMeasured >= this.max / 16) this.measured(measure());
    return this.estimate + bytes <= this.max;
  }

  /** An update of `bytes` was applied (from a peer or the server). */
  grew(bytes: number): void {
    this.estimate += bytes;
    this.sinceMeasured += bytes;
  }

  /** The draft's encoded state is `bytes` now (load, compaction). */
  measured(bytes: number): void {
    this.estimate = bytes;
    this.sinceMeasured = 0;
  }
}
