/** Bounded concurrency: the one worker pool of the archiver (the run's workspaces, `verify`'s objects). */

/**
 * Runs `task` over `items` with at most `limit` in flight, in the order of `items`; resolves when
 * all are done, rejects with the first failure (the tasks already started still finish).
 *
 * @example
 * ```ts
 * await forEachLimited(workspaces, 4, (w) => archiveWorkspace(w));
 * ```
 */
export async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  task: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await task(item);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}
