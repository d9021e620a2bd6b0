/**
 * Everything a system test starts (processes, servers, proxies) is registered here, so it is stopped
 * after the test even when the test fails, and SIGKILLed if the test process itself goes away.
 */
export interface Stoppable {
  /** Graceful stop; must not throw. */
  stop(): Promise<void>;
  /** Last resort, synchronous: used when the test process exits. */
  killNow?(): void;
}

const live = new Set<Stoppable>();
let exitHookInstalled = false;

export function track<T extends Stoppable>(thing: T): T {
  live.add(thing);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const t of live) t.killNow?.();
    });
  }
  return thing;
}

export function untrack(thing: Stoppable): void {
  live.delete(thing);
}

/** Stops everything still running, newest first (services before the servers they use). */
export async function stopAll(): Promise<void> {
  const things = [...live].reverse();
  live.clear();
  for (const t of things) await t.stop().catch(() => undefined);
}
