/**
 * A page's or panel's loads and writes, so none of them repeats busy / error / try-finally.
 * `running` is the key of the write under way (`true` for an unkeyed one; a row's key lets that
 * row's button say "Saving…"), `busy` whether any runs (the buttons wait); `error` is the message
 * of the last failure (cleared when the next write starts) and `failed` the key of the write that
 * failed (null: a load's failure). `after` runs after each successful write, e.g. to reload what
 * the write changed.
 */
export class Pending<K = true> {
  running = $state<K | null>(null);
  error = $state<string | null>(null);
  failed = $state<K | null>(null);
  readonly #after: () => Promise<unknown>;

  constructor(after: () => Promise<unknown> = () => Promise.resolve()) {
    this.#after = after;
  }

  get busy(): boolean {
    return this.running !== null;
  }

  /**
   * Runs `write`, then `after`; resolves true if both succeeded (a failure only sets `error`). Give
   * `key` when K is not `true`.
   */
  async run(write: () => Promise<unknown>, key: K = true as K): Promise<boolean> {
    this.running = key;
    this.error = null;
    this.failed = null;
    try {
      await write();
      await this.#after();
      return true;
    } catch (err) {
      this.error = (err as Error).message;
      this.failed = key;
      return false;
    } finally {
      this.running = null;
    }
  }

  /**
   * A read (nothing waits for it): its failure sets `error`. `read` starts at once, so an `$effect`
   * calling this tracks what it reads.
   */
  load(read: () => Promise<unknown>): Promise<void> {
    return read().then(
      () => undefined,
      (err: unknown) => {
        this.error = (err as Error).message;
      },
    );
  }
}
