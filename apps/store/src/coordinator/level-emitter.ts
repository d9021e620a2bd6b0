import type { BackpressureLevel, FeedbackEvent } from '@mdp/contracts';
import type { WatermarkTransition } from './watermarks';

/** What the emitter needs to know about the queue when it builds an event. */
export interface QueueView {
  readonly coordinatorId: string;
  readonly capacity: number;
  size(): number;
  /** Items that have left the queue so far (written, dead-lettered, dropped): the drain rate's source. */
  drained(): number;
}

export interface LevelEmitterOptions {
  /**
   * A published level stands at least this long before the next one is published. Changes inside the
   * dwell are coalesced: when it ends, the level the watermarks hold then is published (if it differs),
   * so an oscillating queue yields at most one level event per dwell instead of one per crossing.
   * 0 publishes every transition at once.
   */
  minDwellMs?: number;
  /** Re-publish the current level this often while it is soft or hard (0: never). */
  refreshMs?: number;
  /** ... and this often while it is ok (0: never). */
  refreshOkMs?: number;
  now?: () => number;
}

/** Each event's `ttl_s` is this many refresh intervals: one or two lost refreshes do not make it stale. */
export const TTL_INTERVALS = 4;
/** Window of the drain rate. */
const DRAIN_WINDOW_MS = 500;
const DRAIN_SAMPLE_MS = 50;

export type LevelEventListener = (event: FeedbackEvent) => void;

/**
 * Turns the watermark tracker's transitions into published level events under a minimum dwell time.
 * The watermarks give hysteresis in queue depth; the dwell bounds the event rate in time
 * (at most 60 000 / minDwellMs level events a minute, whatever the queue does).
 *
 * Between changes the current level is re-published (`reason: "refresh"`) every `refreshMs` while
 * not ok and every `refreshOkMs` while ok, so a consumer can tell "still hard" from "the store went
 * silent". Every event carries `seq`, `started_at` (this instance), `ttl_s` (TTL_INTERVALS refresh
 * intervals) and `drain_rate`.
 */
export class LevelEmitter {
  private readonly minDwellMs: number;
  private readonly now: () => number;
  private published: BackpressureLevel = 'ok';
  private publishedAt = -Infinity;
  private wanted: WatermarkTransition = { level: 'ok' };
  private timer?: NodeJS.Timeout;
  private refreshTimer?: NodeJS.Timeout;
  private sampler?: NodeJS.Timeout;
  private readonly samples: Array<{ at: number; drained: number }> = [];
  private readonly startedAt: number;
  private readonly refreshMs: number;
  private readonly refreshOkMs: number;
  private seq = 0;
  private closed = false;

  constructor(
    private readonly queue: QueueView,
    private readonly emit: LevelEventListener,
    opts: LevelEmitterOptions = {},
  ) {
    this.minDwellMs = opts.minDwellMs ?? 0;
    if (!(this.minDwellMs >= 0))
      throw new RangeError(`minDwellMs must be >= 0, got ${opts.minDwellMs}`);
    this.now = opts.now ?? Date.now;
    this.refreshMs = opts.refreshMs ?? 0;
    this.refreshOkMs = opts.refreshOkMs ?? 0;
    this.startedAt = this.now() / 1000;
  }

  /** Starts the refreshes (and the drain-rate sampling they report). */
  start(): void {
    if (this.closed || this.sampler || (this.refreshMs <= 0 && this.refreshOkMs <= 0)) return;
    this.sample();
    this.sampler = setInterval(() => this.sample(), DRAIN_SAMPLE_MS);
    this.sampler.unref?.();
    this.armRefresh();
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
    clearTimeout(this.refreshTimer);
    clearInterval(this.sampler);
    this.timer = this.refreshTimer = this.sampler = undefined;
  }

  /** Items/s that left the queue over the last half second (0 before there are two samples): short, so a recovered sink shows at the next refresh. */
  drainRate(): number {
    const now = this.now();
    const latest = { at: now, drained: this.queue.drained() };
    const from = this.samples[0];
    if (!from || latest.at <= from.at) return 0;
    return ((latest.drained - from.drained) * 1000) / (latest.at - from.at);
  }

  /** Builds an event for the given level from the queue as it is now. */
  event(level: BackpressureLevel, reason?: string): FeedbackEvent {
    const size = this.queue.size();
    const interval = level === 'ok' ? this.refreshOkMs : this.refreshMs;
    return {
      coordinator_id: this.queue.coordinatorId,
      queue_size: size,
      capacity: this.queue.capacity,
      level,
      source: 'store',
      ts: this.now() / 1000,
      utilization: Math.min(1, size / this.queue.capacity),
      ...(reason ? { reason } : {}),
      seq: this.seq++,
      started_at: this.startedAt,
      drain_rate: Math.round(this.drainRate() * 10) / 10,
      ...(interval > 0 ? { ttl_s: (interval * TTL_INTERVALS) / 1000 } : {}),
    };
  }

  private flush(): void {
    const { level, reason } = this.wanted;
    if (this.closed || level === this.published) return;
    this.published = level;
    this.publishedAt = this.now();
    this.emit(this.event(level, reason ?? (level === 'ok' ? 'queue_recovered' : undefined)));
    this.armRefresh(true);
  }

  /**
   * (Re)schedules the next refresh one interval of the published level from now. The first refresh
   * after a change comes at the quick interval whatever the level: the event of the change carries
   * the drain rate of the moment before it, and the refresh right after says what the sink does now
   * (after a recovery, how fast it empties the queue).
   */
  private armRefresh(afterChange = false): void {
    clearTimeout(this.refreshTimer);
    this.refreshTimer = undefined;
    const levelInterval = this.published === 'ok' ? this.refreshOkMs : this.refreshMs;
    const interval =
      afterChange && this.refreshMs > 0
        ? Math.min(this.refreshMs, levelInterval || Infinity)
        : levelInterval;
    if (this.closed || !this.sampler || interval <= 0) return;
    this.refreshTimer = setTimeout(() => {
      this.emit(this.event(this.published, 'refresh'));
      this.armRefresh();
    }, interval);
    this.refreshTimer.unref?.();
  }

  private sample(): void {
    const now = this.now();
    this.samples.push({ at: now, drained: this.queue.drained() });
    while (this.samples.length > 2 && now - this.samples[1].at >= DRAIN_WINDOW_MS)
      this.samples.shift();
  }
}
