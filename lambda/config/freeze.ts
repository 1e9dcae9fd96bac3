/** Frozen configuration: what is validated cannot change afterwards. Pure, free of zod, so the handler's bundle can use it. */

/** Freezes `value` and everything in it (iteratively). */
export function deepFreeze<T>(value: unknown): T {
  const pending = [value];
  for (let next = pending.pop(); next !== undefined || pending.length > 0; next = pending.pop()) {
    if (typeof next === "object" && next !== null && !Object.isFrozen(next)) {
      Object.freeze(next);
      for (const child of Object.values(next)) pending.push(child);
    }
  }
  return value as T;
}
