export const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface WaitOptions {
  timeoutMs: number;
  intervalMs?: number;
  /** Named in the timeout error: "timed out after 10000 ms waiting for <what>". */
  what: string;
  /** Extra text for the timeout error (e.g. the last value seen, a process's log tail). */
  detail?: () => string;
}

/** Polls `probe` until it returns a value other than undefined/false; throws after `timeoutMs`. */
export async function waitFor<T>(
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  opts: WaitOptions,
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const why = lastError ? ` (last error: ${(lastError as Error).message})` : '';
      const detail = opts.detail ? `\n${opts.detail()}` : '';
      throw new Error(
        `timed out after ${opts.timeoutMs} ms waiting for ${opts.what}${why}${detail}`,
      );
    }
    await delay(opts.intervalMs ?? 100);
  }
}
