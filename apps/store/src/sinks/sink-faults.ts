import type { BatchSink } from '../coordinator/write-coordinator';
import { sleep } from '@mdp/pulse';

/**
 * A slow database on demand, for system tests and benchmarks (`MDS_FAULT_SINK_*`): every batch waits
 * `delayMs` before it is written, and rows are admitted at most `maxRowsPerSec` across all workers.
 * The fault lasts `durationMs` from the first batch it holds back (unset: for good), so a test can
 * watch the store fall behind and then recover without restarting it; timing it from the first write
 * rather than from start-up keeps a slow start (a busy host, services started one after another) from
 * using up the window before any load arrives. The wrapped sink is untouched:
 * what reaches the database, and when a write counts as done, is exactly what it would be without.
 */
export interface SinkFaults {
  delayMs: number;
  maxRowsPerSec?: number;
  durationMs?: number;
}

export function sinkFaultsActive(f: SinkFaults): boolean {
  return f.delayMs > 0 || f.maxRowsPerSec !== undefined;
}

export class FaultySink<T> implements BatchSink<T> {
  /** End of the fault; undefined until the first write after `set` starts its window. */
  private until?: number;
  /** When the next row may go: admissions are booked one after another, so workers share the rate. */
  private nextFreeAt = 0;

  constructor(
    private readonly inner: BatchSink<T>,
    private faults: SinkFaults,
    private readonly now: () => number = Date.now,
  ) {
    this.set(faults);
  }

  get settings(): SinkFaults {
    return { ...this.faults };
  }

  /**
   * Replaces the faults while running (`PUT /admin/faults/sink` with MDS_FAULT_SINK_ADMIN): from now
   * on, as if the store had started with them; rows already booked at the old rate are forgotten.
   */
  set(faults: SinkFaults): void {
    this.faults = { ...faults };
    this.until = faults.durationMs === undefined ? Infinity : undefined;
    this.nextFreeAt = 0;
  }

  get active(): boolean {
    return this.until === undefined || this.now() < this.until;
  }

  async write(items: T[]): Promise<void> {
    const wait = this.admit(items.length);
    if (wait > 0) await sleep(wait);
    return this.inner.write(items);
  }

  /** Milliseconds this batch must wait (0 once the fault is over). */
  admit(rows: number): number {
    const now = this.now();
    this.until ??= now + this.faults.durationMs!;
    if (now >= this.until) return 0;
    let wait = this.faults.delayMs;
    const rate = this.faults.maxRowsPerSec;
    if (rate !== undefined) {
      const start = Math.max(now, this.nextFreeAt);
      this.nextFreeAt = start + (rows / rate) * 1000;
      wait = Math.max(wait, this.nextFreeAt - now);
    }
    // Never hold a batch past the end of the fault.
    return Math.min(wait, this.until - now);
  }
}

/** The sink itself when no fault is configured and none may be set at run time (`adjustable`). */
export function withSinkFaults<T>(
  sink: BatchSink<T>,
  faults: SinkFaults,
  adjustable = false,
): BatchSink<T> {
  return sinkFaultsActive(faults) || adjustable ? new FaultySink(sink, faults) : sink;
}
