/**
 * A page's or panel's writes: `busy` while one runs (its buttons wait), `error` the message of
 * the last failure (cleared when the next one starts). `after` runs after each success, e.g. to
 * reload what the write changed.
 */
export class Pending {
  busy = $state(false);
  error = $state<string | null>(null);
  readonly #after: () => Promise<unknown>;

  constructor(after: () => Promise<unknown> = () => Promise.resolve()) {
    this.#after = after;
  }

  /** Runs `write`, then `after`; resolves true if both succeeded (a failure only sets `error`). */
  async run(write: () => Promise<unknown>): Promise<boolean> {
    this.busy = true;
    this.error = null;
    try {
      await write();
      await this.#after();
      return true;
    } catch (err) {
      this.error = (err as Error).message;
      return false;
    } finally {
      this.busy = false;
    }
  }
}
