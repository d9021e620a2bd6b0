import type { EventEnvelope } from '@mdp/contracts';
import { envelopeFor, type EventBus } from '@mdp/pulse';
import { Clock, systemClock } from '../rate/clock';
import type { PipelineMetrics } from '../metrics/pipeline-metrics';
import { MarketRecord, RECORD_KINDS } from '../providers/provider';

export interface BatchPublisherOptions {
  /** Publish a stream's buffer once it holds this many records. */
  batchSize: number;
  /** ...or at the latest every this many ms (sooner when the producer waits: `flushIfIdle`). */
  flushIntervalMs: number;
  clock?: Clock;
  metrics?: PipelineMetrics;
}

/**
 * Buffers records per stream (`md.bars`, `md.options`, ...) and publishes them with `bus.publishBatch`
 * as `EventEnvelope`s keyed by symbol. A failed publish keeps the batch (nothing is dropped) and the
 * error reaches the caller, so the router backs off instead of reading more; the bus logs the outage. `close()` flushes what is
 * left.
 */
export class BatchPublisher {
  private readonly buffers = new Map<string, EventEnvelope[]>();
  private readonly clock: Clock;
  private chain: Promise<unknown> = Promise.resolve();
  private readonly stop = new AbortController();
  private ticker?: Promise<void>;
  private publishFailing = false;
  /** Publishes scheduled and not yet settled. */
  private publishing = 0;

  constructor(
    private readonly bus: EventBus,
    private readonly opts: BatchPublisherOptions,
  ) {
    this.clock = opts.clock ?? systemClock;
  }

  /** Publishing has failed and not worked since (the bus logs the outage itself, once). */
  get failing(): boolean {
    return this.publishFailing;
  }

  /** Starts the periodic flush. */
  start(): void {
    if (this.ticker) return;
    this.ticker = (async () => {
      while (!this.stop.signal.aborted) {
        await this.clock.sleep(this.opts.flushIntervalMs, this.stop.signal);
        if (this.stop.signal.aborted) break;
        await this.flush().catch(() => undefined); // already logged and counted; the batch stays buffered
      }
    })();
  }

  /**
   * Buffers one record; when that fills the stream's batch, publishes it and returns the publish to
   * wait for (nothing otherwise: most records are only buffered, and a promise each would cost more
   * than the buffering).
   */
  add(provider: string, record: MarketRecord): Promise<void> | undefined {
    const { stream, schemaId } = RECORD_KINDS[record.kind];
    const envelope: EventEnvelope = envelopeFor(schemaId, record.data, {
      key: record.key,
      ts: this.clock.now() / 1000,
      track: this.bus.track,
      headers: { provider },
    });
    let buffer = this.buffers.get(stream);
    if (!buffer) this.buffers.set(stream, (buffer = []));
    buffer.push(envelope);
    return buffer.length >= this.opts.batchSize ? this.flushStream(stream) : undefined;
  }

  /**
   * The producer has to wait (its budget is spent for now): publish what is buffered at once, unless
   * a publish is under way; then the records join the next batch (group commit). A failure is
   * counted and logged as any publish's; the records stay buffered for the next one.
   */
  flushIfIdle(): void {
    if (this.publishing > 0 || this.buffered() === 0) return;
    this.flush().catch(() => undefined);
  }

  buffered(): number {
    let n = 0;
    for (const b of this.buffers.values()) n += b.length;
    return n;
  }

  /** Publishes every buffered batch; rejects if any publish failed (those records stay buffered). */
  async flush(): Promise<void> {
    const errors: unknown[] = [];
    for (const stream of [...this.buffers.keys()])
      await this.flushStream(stream).catch((e) => errors.push(e));
    if (errors.length) throw errors[0];
  }

  /** Stops the periodic flush and publishes what is left. */
  async close(): Promise<void> {
    this.stop.abort();
    await this.ticker;
    await this.flush();
  }

  /** Serialised so batches of one stream leave in order and never interleave. */
  private flushStream(stream: string): Promise<void> {
    this.publishing++;
    const run = this.chain.then(() => this.publishNow(stream)).finally(() => this.publishing--);
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async publishNow(stream: string): Promise<void> {
    const batch = this.buffers.get(stream);
    if (!batch?.length) return;
    this.buffers.set(stream, []);
    try {
      for (let i = 0; i < batch.length; i += this.opts.batchSize) {
        const slice = batch.slice(i, i + this.opts.batchSize);
        try {
          await this.bus.publishBatch(stream, slice);
        } catch (err) {
          // Keep the unpublished part at the head of the buffer, ahead of anything added meanwhile.
          this.buffers.set(stream, [...batch.slice(i), ...(this.buffers.get(stream) ?? [])]);
          throw err;
        }
        this.opts.metrics?.publishedRecords.inc({ stream }, slice.length);
      }
      this.publishFailing = false;
    } catch (err) {
      this.opts.metrics?.publishErrors.inc({ stream });
      this.publishFailing = true;
      throw err;
    }
  }
}
