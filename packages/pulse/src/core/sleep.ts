/**
 * Waits `ms`, or less when `signal` aborts: it then resolves (never rejects), so a loop that sleeps
 * between attempts just re-checks its stop condition. Node's `timers/promises` rejects on abort
 * instead, which every caller here would have to catch. The one sleep of the system.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    signal?.addEventListener('abort', done, { once: true });
  });
}
