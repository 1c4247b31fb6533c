import { AppError } from '#schema/errors.ts';

/** One bound on open connections: the setting that names it, its maximum, the refusal's words. */
export interface PlaceBound {
  limit: string;
  max: number;
  /** The message of the refusal, given how many are open (absent: the error's default). */
  message?: (open: number) => string;
}

/**
 * Open long-lived connections (project event streams, delivery waits) counted at several levels
 * at once — per person or runtime key, per project, in all — one key per level. One past any
 * bound is refused with `429 too_many_connections` naming that bound (`details: {limit, max}`),
 * and nothing is counted; `take` returns the release, which counts once however often it runs.
 */
export class OpenPlaces {
  private readonly bounds: readonly PlaceBound[];
  private readonly counts: Map<string, number>[];
  constructor(bounds: readonly PlaceBound[]) {
    this.bounds = bounds;
    this.counts = bounds.map(() => new Map<string, number>());
  }

  /** Takes a place under `keys` (one per bound, in order) or throws 429. */
  take(keys: readonly string[]): () => void {
    this.bounds.forEach((bound, i) => {
      const open = this.counts[i]!.get(keys[i]!) ?? 0;
      if (open >= bound.max)
        throw new AppError('too_many_connections', bound.message?.(open), {
          limit: bound.limit,
          max: bound.max,
        });
    });
    this.counts.forEach((count, i) => count.set(keys[i]!, (count.get(keys[i]!) ?? 0) + 1));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.counts.forEach((count, i) => {
        const left = (count.get(keys[i]!) ?? 1) - 1;
        if (left > 0) count.set(keys[i]!, left);
        else count.delete(keys[i]!);
      });
    };
  }
}
