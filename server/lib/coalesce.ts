/**
 * Runs `work` when asked, never two runs at once: any number of asks while it runs make one
 * more run after it, started at least `gapMs` after the last one ended. What a flood of asks
 * costs is one run at a time, never a queue of them (red team #16). A run that fails is
 * reported to `onError` and does not stop the ones asked for after it.
 */
export function coalesced(
  work: () => Promise<void>,
  opts: { gapMs?: number; onError: (err: unknown) => void },
) {
  let running: Promise<void> | null = null;
  let again = false;
  let stopped = false;
  /** Ends the gap before the next run early (stop). */
  let endGap: (() => void) | null = null;

  async function loop(): Promise<void> {
    try {
      do {
        again = false;
        // A microtask first: `running` is set before `work` runs, so an ask from inside it queues.
        await Promise.resolve();
        if (stopped) return;
        try {
          await work();
        } catch (err) {
          opts.onError(err);
        }
        if (again && !stopped && opts.gapMs)
          await new Promise<void>((resolve) => {
            const timer = setTimeout((endGap = resolve), opts.gapMs);
            timer.unref();
          });
        endGap = null;
      } while (again && !stopped);
    } finally {
      running = null;
    }
  }

  return {
    /** Runs `work` now, or once more after the run in progress. */
    ask(): void {
      if (stopped) return;
      if (running) again = true;
      else running = loop();
    },
    /** No more runs: the one in progress ends, none asked for after it starts. */
    stop(): void {
      stopped = true;
      endGap?.();
    },
    /** Resolves once no run is in progress or asked for. */
    idle: (): Promise<void> => running ?? Promise.resolve(),
  };
}
