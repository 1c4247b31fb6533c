import { afterEach } from 'vitest';

/**
 * What to undo after each test of a file (servers to close, clients to destroy): push to the
 * array this returns; an afterEach runs them, last first. Call once, at the top level of the file.
 */
export function cleanupAfterEach(): (() => unknown)[] {
  const cleanup: (() => unknown)[] = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });
  return cleanup;
}
