/**
 * Array callbacks that await store calls (PG-10), one at a time in order: inside a transaction a
 * store's calls stay sequential, and a result lines up with its item as `.map` would.
 */
export async function mapInOrder<T, R>(
  items: Iterable<T>,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const out: R[] = [];
  let i = 0;
  for (const item of items) out.push(await fn(item, i++));
  return out;
}

/** `.filter` with an awaited predicate, one item at a time in order. */
export async function filterInOrder<T>(
  items: Iterable<T>,
  keep: (item: T) => Promise<boolean>,
): Promise<T[]> {
  const out: T[] = [];
  for (const item of items) if (await keep(item)) out.push(item);
  return out;
}
