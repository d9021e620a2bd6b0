import { WatermarkTracker, WatermarkTransition, resolveWatermarks } from './watermarks';

export type OverflowStrategy = 'block' | 'drop_oldest' | 'error';
export const OVERFLOW_STRATEGIES: readonly OverflowStrategy[] = ['block', 'drop_oldest', 'error'];

export class QueueFullError extends Error {
  override readonly name = 'QueueFullError';
}

export class QueueClosedError extends Error {
  override readonly name = 'QueueClosedError';
}

export interface BoundedQueueOptions<T> {
  capacity: number;
  highWatermark?: number;
  lowWatermark?: number;
  overflow?: OverflowStrategy;
  /** Called for each item evicted by `drop_oldest` (after the eviction, outside any critical section). */
  onDrop?: (item: T) => void;
  /** Called once per watermark transition, asynchronously (never inside put/take). */
  onTransition?: (transition: WatermarkTransition, size: number) => void;
}

interface Waiter {
  ready: () => boolean;
  resolve: () => void;
}

/**
 * FIFO queue with a fixed capacity, watermark tracking and an overflow strategy. Node runs one
 * callback at a time, so the queue's "lock" is simply the synchronous body of each method; the
 * watermark callback is deferred with setImmediate so subscribers never run inside it.
 */
export class BoundedQueue<T> {
  readonly capacity: number;
  readonly overflow: OverflowStrategy;
  private readonly tracker: WatermarkTracker;
  private items: T[] = [];
  private head = 0;
  private closed = false;
  /** Consumers waiting for items (predicate checked on every put). */
  private readonly takers = new Set<Waiter>();
  /** Producers waiting for space, FIFO. */
  private readonly putters: Waiter[] = [];

  constructor(private readonly opts: BoundedQueueOptions<T>) {
    const { high, low } = resolveWatermarks(opts.capacity, opts.highWatermark, opts.lowWatermark);
    this.capacity = opts.capacity;
    this.overflow = opts.overflow ?? 'block';
    this.tracker = new WatermarkTracker(high, low);
  }

  get size(): number {
    return this.items.length - this.head;
  }

  get highWatermark(): number {
    return this.tracker.high;
  }

  get lowWatermark(): number {
    return this.tracker.low;
  }

  get level() {
    return this.tracker.level;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Adds one item. `block` waits for space, `error` throws QueueFullError, `drop_oldest` evicts the
   * oldest queued item.
   */
  async put(item: T): Promise<void> {
    this.assertOpen();
    if (this.size >= this.capacity) {
      if (this.overflow === 'error')
        throw new QueueFullError(`queue is full (capacity ${this.capacity})`);
      if (this.overflow === 'drop_oldest') {
        this.dropOldest();
      } else {
        let front = false;
        while (this.size >= this.capacity) {
          await this.waitForSpace(front);
          this.assertOpen();
          front = true; // lost the slot to a newer producer: keep our place at the front
        }
      }
    }
    this.push(item);
  }

  /** Adds items in order, waiting for space as `put` would; resolves once all are queued. */
  async putMany(items: readonly T[]): Promise<void> {
    let i = 0;
    while (i < items.length) {
      this.assertOpen();
      const room = this.capacity - this.size;
      if (room > 0) {
        const end = Math.min(items.length, i + room);
        for (; i < end; i++) this.items.push(items[i]);
        this.afterChange();
        this.wakeTakers();
        continue;
      }
      await this.put(items[i++]);
    }
  }

  /**
   * Waits for at least one item (or `signal`), then up to `lingerMs` for a full batch, and takes up to
   * `max` items. May return fewer than `max`, or none when another consumer got there first.
   */
  async takeBatch(max: number, lingerMs: number, signal?: AbortSignal): Promise<T[]> {
    await this.waitForBatch(max, lingerMs, signal);
    return this.takeUpTo(max);
  }

  /**
   * Resolves once there is at least one item (or `signal`, or the queue closed) and then either a full
   * batch of `max`, or `hold` (default: always) returned false, or `lingerMs` passed. The caller takes
   * with `takeUpTo` in the same tick, so what it saw is what it gets. `hold` is re-checked on every
   * put and on `recheck()`.
   */
  async waitForBatch(
    max: number,
    lingerMs: number,
    signal?: AbortSignal,
    hold: () => boolean = () => true,
  ): Promise<void> {
    if (this.size === 0) await this.waitFor(() => this.size > 0 || this.closed, signal);
    if (this.size < max && lingerMs > 0 && !signal?.aborted && !this.closed && hold()) {
      await this.waitFor(() => this.size >= max || this.closed || !hold(), signal, lingerMs);
    }
  }

  /** Re-evaluates waiting consumers after something their `hold` depends on changed. */
  recheck(): void {
    this.wakeTakers();
  }

  /** Takes up to `max` items without waiting. */
  takeUpTo(max: number): T[] {
    const n = Math.min(max, this.size);
    if (n === 0) return [];
    const batch = this.items.slice(this.head, this.head + n);
    this.head += n;
    this.compact();
    this.afterChange();
    this.wakePutters();
    return batch;
  }

  /** Stops accepting items and releases every waiter; queued items stay for `takeUpTo`. */
  close(): void {
    this.closed = true;
    for (const p of this.putters.splice(0)) p.resolve();
    for (const t of [...this.takers]) t.resolve();
    this.takers.clear();
  }

  private push(item: T): void {
    this.items.push(item);
    this.afterChange();
    this.wakeTakers();
  }

  private dropOldest(): void {
    const oldest = this.items[this.head];
    this.head += 1;
    this.compact();
    this.afterChange();
    this.opts.onDrop?.(oldest);
  }

  private compact(): void {
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }

  private afterChange(): void {
    const size = this.size;
    const transition = this.tracker.observe(size);
    if (transition && this.opts.onTransition) {
      const cb = this.opts.onTransition;
      setImmediate(() => cb(transition, size));
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new QueueClosedError('queue is closed');
  }

  private waitForSpace(front: boolean): Promise<void> {
    return new Promise((resolve) => {
      const waiter: Waiter = { ready: () => this.size < this.capacity || this.closed, resolve };
      if (front) this.putters.unshift(waiter);
      else this.putters.push(waiter);
    });
  }

  /** Wakes as many blocked producers as there are free slots (each re-checks before pushing). */
  private wakePutters(): void {
    const free = this.capacity - this.size;
    for (const p of this.putters.splice(0, Math.max(0, free))) p.resolve();
  }

  private wakeTakers(): void {
    for (const t of this.takers) {
      if (t.ready()) {
        this.takers.delete(t);
        t.resolve();
      }
    }
  }

  private waitFor(ready: () => boolean, signal?: AbortSignal, timeoutMs?: number): Promise<void> {
    if (ready() || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        this.takers.delete(waiter);
        resolve();
      };
      const waiter: Waiter = { ready, resolve: done };
      this.takers.add(waiter);
      signal?.addEventListener('abort', done, { once: true });
      if (timeoutMs !== undefined) timer = setTimeout(done, timeoutMs);
    });
  }
}
