/**
 * Deep-frozen JSON. Live draft items are handed out frozen, and each later stage
 * (normalizing, canonical JSON, hashing) memoizes on a frozen object's identity: it can never
 * change, so the memo can never go stale.
 */
export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** `compute(key)`, remembered per frozen key object; unfrozen keys are computed every time. */
export function memoOnFrozen<K extends object, V>(compute: (key: K) => V): (key: K) => V {
  const memo = new WeakMap<K, V>();
  return (key) => {
    if (typeof key !== 'object' || key === null || !Object.isFrozen(key)) return compute(key);
    let v = memo.get(key);
    if (v === undefined) {
      v = compute(key);
      memo.set(key, v);
    }
    return v;
  };
}
