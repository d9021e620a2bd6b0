import type { BackpressureLevel } from '@mdp/contracts';

export interface WatermarkTransition {
  level: BackpressureLevel;
  reason?: string;
}

/** Resolves the high/low watermarks (defaults 80% / 50% of capacity) and checks they make sense. */
export function resolveWatermarks(
  capacity: number,
  high?: number,
  low?: number,
): { high: number; low: number } {
  if (!Number.isInteger(capacity) || capacity <= 0)
    throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
  const h = high ?? Math.max(1, Math.floor(capacity * 0.8));
  // Small capacities: keep the default low watermark strictly below the high one.
  const l = low ?? Math.min(Math.floor(capacity * 0.5), h - 1);
  if (!Number.isInteger(h) || h <= 0 || h > capacity)
    throw new RangeError(`high watermark must be an integer in 1..${capacity}, got ${h}`);
  if (!Number.isInteger(l) || l < 0)
    throw new RangeError(`low watermark must be a non-negative integer, got ${l}`);
  if (l >= h) throw new RangeError(`low watermark (${l}) must be below the high watermark (${h})`);
  return { high: h, low: l };
}

/**
 * Hysteresis over the queue depth: `soft` when the depth first rises above the low watermark, `hard`
 * when it reaches the high one, `ok` (queue_recovered) once it is back at or below the low one. Each
 * level is reported once per excursion, so a queue hovering inside a band produces no events.
 */
export class WatermarkTracker {
  private current: BackpressureLevel = 'ok';

  constructor(
    readonly high: number,
    readonly low: number,
  ) {}

  get level(): BackpressureLevel {
    return this.current;
  }

  /** Feeds the depth after a change; returns the transition it caused, if any. */
  observe(size: number): WatermarkTransition | undefined {
    if (size >= this.high) {
      if (this.current === 'hard') return undefined;
      this.current = 'hard';
      return { level: 'hard' };
    }
    if (size <= this.low) {
      if (this.current === 'ok') return undefined;
      this.current = 'ok';
      return { level: 'ok', reason: 'queue_recovered' };
    }
    // Between the watermarks: escalate ok -> soft, but falling back from hard stays quiet until recovery.
    if (this.current === 'ok') {
      this.current = 'soft';
      return { level: 'soft' };
    }
    return undefined;
  }
}
