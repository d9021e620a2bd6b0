import {
  CircuitBreakerPolicy,
  CircuitState,
  RetryPolicy,
  isBrokenCircuitError,
  isTaskCancelledError,
} from 'cockatiel';
import { Registry } from 'prom-client';
import { sleep } from '@mdp/pulse';
import type { FeedbackEvent } from '@mdp/contracts';
import { OutageLog } from '@mdp/pulse';
import { BoundedQueue, OverflowStrategy } from './bounded-queue';
import { CoordinatorMetrics, coordinatorMetrics } from './metrics';
import {
  BreakerSettings,
  DEFAULT_BREAKER,
  DEFAULT_RETRY,
  RetrySettings,
  buildCircuitBreaker,
  buildRetryPolicy,
  circuitStateName,
  halfOpenDelayMs,
  circuitStateValue,
} from './resilience';
import { LevelEmitter } from './level-emitter';

/** Where batches go. Must be idempotent: a batch may be written again after a partial failure. */
export interface BatchSink<T> {
  write(items: T[]): Promise<void>;
}

/** `failed`: neither written nor recorded in the dead-letter file (that write failed too). */
export type SettleOutcome = 'written' | 'dead_lettered' | 'dropped' | 'failed';

export interface FeedbackSink {
  publish(event: FeedbackEvent): void | Promise<void>;
}

export interface CoordinatorLogger {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
  info?(obj: object, msg: string): void;
}

export interface WriteCoordinatorOptions<T> {
  id: string;
  sink: BatchSink<T>;
  /** Records items that cannot be written (retries exhausted, rejected rows, overflow drops). */
  deadLetter: (items: T[], error: Error, attempts: number) => Promise<void>;
  /** Decides which errors are worth retrying (connection loss, timeouts, deadlocks...). */
  isRetryable: (err: Error) => boolean;
  /** Told once per item when it has been written, dead-lettered or dropped. */
  onSettled?: (items: T[], outcome: SettleOutcome) => void;
  feedback?: FeedbackSink;
  capacity?: number;
  highWatermark?: number;
  lowWatermark?: number;
  overflow?: OverflowStrategy;
  workers?: number;
  batchSize?: number;
  /** The longest a partial batch waits for more rows while another batch is being written. */
  flushIntervalMs?: number;
  retry?: Partial<RetrySettings>;
  breaker?: Partial<BreakerSettings>;
  registry?: Registry;
  logger?: CoordinatorLogger;
  /** Source of randomness for backoff jitter (tests pin it). */
  random?: () => number;
  /** How often the queue-depth gauge is refreshed. */
  metricsPollMs?: number;
  /** Minimum time a published backpressure level stands before the next (see LevelEmitter); default 0. */
  feedbackMinDwellMs?: number;
  /** Re-publish the level this often while soft or hard / while ok (see LevelEmitter); default 0: never. */
  feedbackRefreshMs?: number;
  feedbackRefreshOkMs?: number;
}

export interface CoordinatorHealth {
  coordinator_id: string;
  workers_alive: number;
  workers: number;
  queue_size: number;
  capacity: number;
  in_flight: number;
  level: string;
  circuit_state: string;
}

export interface StopResult {
  /** True when everything queued was written or dead-lettered before the timeout. */
  drained: boolean;
  /** Items neither written nor dead-lettered (left for redelivery). */
  pending: number;
}

const silentLogger: CoordinatorLogger = { warn: () => undefined, error: () => undefined };

class StopRequested extends Error {}

/**
 * Bounded queue + N sink workers with retry and a circuit breaker. Batching is group commit: a free
 * worker writes what is queued at once when no other batch is being written, so a moderate load is
 * written within one write's time; while batches are being written rows accumulate, so under load
 * batches grow to `batchSize` and every worker writes full ones. `flushIntervalMs` only caps how long
 * a partial batch waits behind a write in flight. Workers never die of a batch:
 * retryable failures are retried with backoff; an open circuit holds the batch (attempts are not
 * spent) until the breaker half-opens; a batch the database keeps rejecting is bisected so the bad
 * rows are dead-lettered and the good ones written.
 */
export class WriteCoordinator<T> {
  readonly id: string;
  readonly workerCount: number;
  readonly batchSize: number;
  readonly flushIntervalMs: number;
  readonly breaker: CircuitBreakerPolicy;
  private readonly queue: BoundedQueue<T>;
  private readonly retry: RetryPolicy;
  private readonly retrySettings: RetrySettings;
  private readonly breakerSettings: BreakerSettings;
  private readonly metrics: CoordinatorMetrics;
  private readonly log: CoordinatorLogger;
  /** Circuit open to closed is one database outage: one error line when it opens, one info when it closes. */
  private readonly outage: OutageLog;
  private readonly abort = new AbortController();
  private readonly levels: LevelEmitter;
  private workers: Promise<void>[] = [];
  private alive = 0;
  private inFlight = 0;
  /** Batches being written: a worker holds a partial batch back only while this is above zero. */
  private writing = 0;
  /** Items settled so far (written, dead-lettered, dropped, failed): what the drain rate counts. */
  private drained = 0;
  private openedAt = 0;
  /** Openings since the circuit last closed: the half-open wait doubles with each. */
  private opensInARow = 0;
  private started = false;
  private pollTimer?: NodeJS.Timeout;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly opts: WriteCoordinatorOptions<T>) {
    this.id = opts.id;
    this.workerCount = positiveInt('workers', opts.workers ?? 4);
    this.batchSize = positiveInt('batchSize', opts.batchSize ?? 500);
    this.flushIntervalMs = opts.flushIntervalMs ?? 250;
    if (!(this.flushIntervalMs > 0))
      throw new RangeError(`flushIntervalMs must be > 0, got ${this.flushIntervalMs}`);
    this.retrySettings = { ...DEFAULT_RETRY, ...opts.retry };
    this.breakerSettings = { ...DEFAULT_BREAKER, ...opts.breaker };
    this.metrics = coordinatorMetrics(opts.registry ?? new Registry());
    this.log = opts.logger ?? silentLogger;
    this.queue = new BoundedQueue<T>({
      capacity: opts.capacity ?? 10_000,
      highWatermark: opts.highWatermark,
      lowWatermark: opts.lowWatermark,
      overflow: opts.overflow,
      onDrop: (item) => this.handleDrop(item),
      onTransition: (t) => this.levels.transition(t),
    });
    const queue = this.queue;
    this.levels = new LevelEmitter(
      {
        coordinatorId: this.id,
        capacity: queue.capacity,
        size: () => queue.size,
        drained: () => this.drained,
      },
      (event) => this.emitFeedback(event),
      {
        minDwellMs: opts.feedbackMinDwellMs,
        refreshMs: opts.feedbackRefreshMs,
        refreshOkMs: opts.feedbackRefreshOkMs,
      },
    );
    this.retry = buildRetryPolicy(this.retrySettings, opts.isRetryable, opts.random);
    this.breaker = buildCircuitBreaker(this.breakerSettings, opts.isRetryable);
    this.outage = new OutageLog(
      this.log,
      {
        down: 'circuit open: the database is failing; holding batches until it answers again',
        downLevel: 'error',
        up: 'circuit closed: the database answers again; writes resumed',
      },
      { coordinator_id: this.id },
    );
    this.breaker.onBreak((reason) => {
      this.openedAt = Date.now();
      this.opensInARow++;
      // Every failed half-open probe breaks again: only the first opening starts the outage.
      this.outage.failed('error' in reason ? reason.error : 'isolated');
    });
    this.breaker.onReset(() => {
      this.opensInARow = 0;
      this.outage.succeeded();
    });
    this.breaker.onStateChange((s) =>
      this.metrics.circuitState.set({ coord_id: this.id }, circuitStateValue(s)),
    );
    this.metrics.circuitState.set({ coord_id: this.id }, 0);
    // Export zeros from the start so rate() and alerts see the series before the first event.
    this.metrics.itemsSubmitted.inc({ coord_id: this.id }, 0);
    this.metrics.itemsDropped.inc({ coord_id: this.id, reason: 'overflow' }, 0);
    this.metrics.rowsWritten.inc({ coord_id: this.id }, 0);
    this.metrics.workersAlive.set({ coord_id: this.id }, 0);
    for (const level of ['ok', 'soft', 'hard'])
      this.metrics.feedbackEvents.inc({ coordinator_id: this.id, level }, 0);
  }

  get overflow(): OverflowStrategy {
    return this.queue.overflow;
  }

  get capacity(): number {
    return this.queue.capacity;
  }

  get size(): number {
    return this.queue.size;
  }

  get circuitState(): CircuitState {
    return this.breaker.state;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    for (let i = 0; i < this.workerCount; i++) this.workers.push(this.runWorker(String(i)));
    this.metrics.queueCapacity.set({ coord_id: this.id }, this.queue.capacity);
    const poll = () => this.metrics.queueDepth.set({ coord_id: this.id }, this.queue.size);
    poll();
    this.pollTimer = setInterval(poll, this.opts.metricsPollMs ?? 250);
    this.pollTimer.unref();
    if (this.opts.feedback) this.levels.start();
  }

  /** Queues one item; with `block` it waits for space, which is how readers are slowed down. */
  async submit(item: T): Promise<void> {
    this.metrics.itemsSubmitted.inc({ coord_id: this.id });
    await this.queue.put(item);
  }

  async submitMany(items: readonly T[]): Promise<void> {
    if (items.length === 0) return;
    this.metrics.itemsSubmitted.inc({ coord_id: this.id }, items.length);
    await this.queue.putMany(items);
  }

  health(): CoordinatorHealth {
    return {
      coordinator_id: this.id,
      workers_alive: this.alive,
      workers: this.workerCount,
      queue_size: this.queue.size,
      capacity: this.queue.capacity,
      in_flight: this.inFlight,
      level: this.queue.level,
      circuit_state: circuitStateName(this.breaker.state),
    };
  }

  /** Resolves once the queue is empty and no batch is being written. */
  whenIdle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Stops accepting items, lets the workers drain the queue for up to `drainTimeoutMs`, then stops
   * them. Whatever is still queued or held is reported as pending and never settled, so stream
   * messages behind it stay unacknowledged for redelivery.
   */
  async stop(drainTimeoutMs = 10_000): Promise<StopResult> {
    this.queue.close();
    let timer: NodeJS.Timeout | undefined;
    const drained = await Promise.race([
      this.whenIdle().then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), drainTimeoutMs))),
    ]);
    clearTimeout(timer);
    const pending = this.queue.size + this.inFlight;
    this.abort.abort();
    // A statement already running at the database is allowed a short grace to finish.
    const grace = new AbortController();
    await Promise.race([
      Promise.all(this.workers),
      sleep(Math.min(5000, Math.max(100, drainTimeoutMs)), grace.signal),
    ]);
    grace.abort();
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.levels.close();
    this.metrics.queueDepth.set({ coord_id: this.id }, this.queue.size);
    if (!drained)
      this.log.warn(
        { coordinator_id: this.id, pending },
        'drain timeout reached; leaving the rest for redelivery',
      );
    return { drained, pending };
  }

  private async runWorker(workerId: string): Promise<void> {
    this.alive++;
    this.metrics.workersAlive.set({ coord_id: this.id }, this.alive);
    try {
      while (!this.abort.signal.aborted) {
        // Group commit: with no other write under way a partial batch goes at once; while one is,
        // rows gather for a full batch until a write ends or the flush interval caps the wait.
        await this.queue.waitForBatch(
          this.batchSize,
          this.flushIntervalMs,
          this.abort.signal,
          () => this.writing > 0,
        );
        const batch = this.queue.takeUpTo(this.batchSize);
        if (batch.length === 0) {
          if (this.queue.isClosed && this.queue.size === 0) break;
          continue;
        }
        this.inFlight += batch.length;
        this.writing++;
        try {
          await this.processBatch(workerId, batch);
        } catch (err) {
          // Only a stop request should land here; whatever it is, the worker carries on.
          if (!(err instanceof StopRequested))
            this.log.error(
              { err, coordinator_id: this.id, worker_id: workerId },
              'batch left unsettled',
            );
        } finally {
          this.inFlight -= batch.length;
          this.writing--;
          this.queue.recheck();
          this.notifyIdle();
        }
      }
    } finally {
      this.alive--;
      this.metrics.workersAlive.set({ coord_id: this.id }, this.alive);
    }
  }

  private async processBatch(workerId: string, batch: T[]): Promise<void> {
    const end = this.metrics.writeLatency.startTimer({ coord_id: this.id, worker_id: workerId });
    try {
      await this.writeResilient(workerId, batch);
    } finally {
      end();
    }
  }

  private async writeResilient(workerId: string, items: T[]): Promise<void> {
    let attempts = 0;
    for (;;) {
      if (this.abort.signal.aborted) throw new StopRequested();
      try {
        await this.retry.execute(
          () =>
            this.breaker.execute(() => {
              attempts++;
              return this.opts.sink.write(items);
            }),
          this.abort.signal,
        );
        this.metrics.batchesWritten.inc({ coord_id: this.id, worker_id: workerId });
        this.metrics.rowsWritten.inc({ coord_id: this.id }, items.length);
        this.settle(items, 'written');
        return;
      } catch (e) {
        const err = asError(e);
        if (this.abort.signal.aborted || isTaskCancelledError(err)) throw new StopRequested();
        if (isBrokenCircuitError(err)) {
          this.metrics.writeErrors.inc({
            coord_id: this.id,
            worker_id: workerId,
            error_type: 'circuit_open',
          });
          await this.waitForHalfOpen();
          continue;
        }
        this.metrics.writeErrors.inc({
          coord_id: this.id,
          worker_id: workerId,
          error_type: errorType(err),
        });
        const retryable = this.opts.isRetryable(err);
        if (retryable && this.breaker.state !== CircuitState.Closed) {
          // The database itself is failing (the breaker tripped): hold the batch rather than spend it.
          await this.waitForHalfOpen();
          continue;
        }
        // Retries exhausted while other writes succeed, or the database rejects the data: narrow down.
        if (items.length > 1) {
          const mid = Math.ceil(items.length / 2);
          await this.writeResilient(workerId, items.slice(0, mid));
          await this.writeResilient(workerId, items.slice(mid));
          return;
        }
        this.log.warn(
          { coordinator_id: this.id, err: err.message, attempts, retryable },
          'dead-lettering an item the sink rejects',
        );
        try {
          await this.opts.deadLetter(items, err, attempts);
        } catch (dlqErr) {
          this.log.error(
            { err: String(dlqErr), coordinator_id: this.id },
            'could not write the dead-letter file; failing the item back',
          );
          this.settle(items, 'failed');
          return;
        }
        this.settle(items, 'dead_lettered');
        return;
      }
    }
  }

  private async waitForHalfOpen(): Promise<void> {
    const remaining =
      this.openedAt + halfOpenDelayMs(this.breakerSettings, this.opensInARow) - Date.now();
    await sleep(Math.min(1000, Math.max(5, remaining)), this.abort.signal);
  }

  private handleDrop(item: T): void {
    this.metrics.itemsDropped.inc({ coord_id: this.id, reason: 'overflow' });
    const error = new Error(
      `dropped: queue full (capacity ${this.queue.capacity}, overflow drop_oldest)`,
    );
    this.opts.deadLetter([item], error, 0).then(
      () => this.settle([item], 'dropped'),
      (err) => {
        this.log.error(
          { err: String(err), coordinator_id: this.id },
          'could not dead-letter a dropped item; failing it back',
        );
        this.settle([item], 'failed');
      },
    );
  }

  private settle(items: T[], outcome: SettleOutcome): void {
    this.drained += items.length;
    try {
      this.opts.onSettled?.(items, outcome);
    } catch (err) {
      this.log.error({ err, coordinator_id: this.id }, 'onSettled callback failed');
    }
  }

  private emitFeedback(event: FeedbackEvent): void {
    if (event.reason !== 'refresh')
      this.metrics.feedbackEvents.inc({ coordinator_id: this.id, level: event.level });
    try {
      Promise.resolve(this.opts.feedback?.publish(event)).catch((err) =>
        this.log.warn({ err, coordinator_id: this.id }, 'feedback publish failed'),
      );
    } catch (err) {
      this.log.warn({ err, coordinator_id: this.id }, 'feedback publish failed');
    }
  }

  private isIdle(): boolean {
    return this.queue.size === 0 && this.inFlight === 0;
  }

  private notifyIdle(): void {
    if (!this.isIdle()) return;
    for (const w of this.idleWaiters.splice(0)) w();
  }
}

function positiveInt(name: string, v: number): number {
  if (!Number.isInteger(v) || v <= 0)
    throw new RangeError(`${name} must be a positive integer, got ${v}`);
  return v;
}

function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

/** SQLSTATE or errno code when there is one (`57P01`, `ECONNREFUSED`), else the error's name. */
function errorType(err: Error): string {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && code ? code : err.name;
}
