/**
 * Timers that can be given any delay. A Node.js timer holds at most 2^31 - 1 ms (about 24.8 days);
 * a longer delay fires after 1 ms with a `TimeoutOverflowWarning`, which a server's huge
 * `Retry-After` would turn into a busy loop. Everything in the archiver arms its timers through here.
 */

/** The longest delay a Node.js timer can hold. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** `ms` as a delay a timer can hold: 0 for nonsense (NaN, negative), at most {@link MAX_TIMER_MS}. */
export function timerDelay(ms: number): number {
  if (Number.isNaN(ms) || ms <= 0) return 0;
  return Math.min(Math.ceil(ms), MAX_TIMER_MS);
}

/**
 * Sleeps `ms` (in steps a timer can hold; NaN or negative is no wait), or rejects with the
 * signal's reason as soon as it aborts.
 *
 * @example await sleep(200, signal);
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const endsAt = Date.now() + (Number.isFinite(ms) && ms > 0 ? ms : 0);
    let timer: ReturnType<typeof setTimeout>;
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const arm = () => {
      const left = endsAt - Date.now();
      if (left <= 0) {
        signal?.removeEventListener("abort", onAbort);
        resolve();
        return;
      }
      timer = setTimeout(arm, timerDelay(left));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    arm();
  });
}
