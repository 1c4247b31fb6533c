/**
 * Runs `work` when asked, never two runs at once: any number of asks while it runs make one
 * more run after it, started at least `gapMs` after the last one ended. What a flood of asks
 * costs is one run at a time, never a queue of them (red team #16).
 */
export function coalesced(work: () => Promise<void>, gapMs = 0) {
  let running: Promise<void> | null = null;
  let again = false;

  async function loop(): Promise<void> {
    try {
      do {
        again = false;
        await work();
        if (again && gapMs > 0) await new Promise((r) => setTimeout(r, gapMs).unref());
      } while (again);
    } finally {
      running = null;
    }
  }

  return {
    /** Runs `work` now, or once more after the run in progress. */
    ask(): void {
      if (running) again = true;
      else running = loop();
    },
    /** Resolves once no run is in progress or asked for. */
    idle: (): Promise<void> => running ?? Promise.resolve(),
  };
}
