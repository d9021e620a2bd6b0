import type { BackpressureLevel, FeedbackEvent } from '@mdp/contracts';
import type { WatermarkTransition } from './watermarks';

/** What the emitter needs to know about the queue when it builds an event. */
export interface QueueView {
  readonly coordinatorId: string;
  readonly capacity: number;
  size(): number;
}

export interface LevelEmitterOptions {
  /**
   * A published level stands at least this long before the next one is published. Changes inside the
   * dwell are coalesced: when it ends, the level the watermarks hold then is published (if it differs),
   * so an oscillating queue yields at most one level event per dwell instead of one per crossing.
   * 0 publishes every transition at once.
   */
  minDwellMs?: number;
  now?: () => number;
}

export type LevelEventListener = (event: FeedbackEvent) => void;

/**
 * Turns the watermark tracker's transitions into published level events under a minimum dwell time.
 * The watermarks give hysteresis in queue depth; the dwell bounds the event rate in time
 * (at most 60 000 / minDwellMs level events a minute, whatever the queue does).
 */
export class LevelEmitter {
  private readonly minDwellMs: number;
  private readonly now: () => number;
  private published: BackpressureLevel = 'ok';
  private publishedAt = -Infinity;
  private wanted: WatermarkTransition = { level: 'ok' };
  private timer?: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly queue: QueueView,
    private readonly emit: LevelEventListener,
    opts: LevelEmitterOptions = {},
  ) {
    this.minDwellMs = opts.minDwellMs ?? 0;
    if (!(this.minDwellMs >= 0)) throw new RangeError(`minDwellMs must be >= 0, got ${opts.minDwellMs}`);
    this.now = opts.now ?? Date.now;
  }

  /** The level last published (what consumers were told). */
  get level(): BackpressureLevel {
    return this.published;
  }

  /** Feeds a watermark transition; publishes now, or when the current dwell ends. */
  transition(t: WatermarkTransition): void {
    this.wanted = t;
    if (this.closed || this.timer) return;
    const wait = this.publishedAt + this.minDwellMs - this.now();
    if (wait <= 0) this.flush();
    else {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.flush();
      }, wait);
      this.timer.unref?.();
    }
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Builds an event for the given level from the queue as it is now. */
  event(level: BackpressureLevel, reason?: string): FeedbackEvent {
    const size = this.queue.size();
    return {
      coordinator_id: this.queue.coordinatorId,
      queue_size: size,
      capacity: this.queue.capacity,
      level,
      source: 'store',
      ts: this.now() / 1000,
      utilization: Math.min(1, size / this.queue.capacity),
      ...(reason ? { reason } : {}),
    };
  }

  private flush(): void {
    const { level, reason } = this.wanted;
    if (this.closed || level === this.published) return;
    this.published = level;
    this.publishedAt = this.now();
    this.emit(this.event(level, reason ?? (level === 'ok' ? 'queue_recovered' : undefined)));
  }
}
