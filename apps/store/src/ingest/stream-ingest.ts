import { STREAMS, streamSchemaIds, type StreamName } from '@mdp/contracts';
import type { Delivery, EventBus, Subscription } from '@mdp/pulse';
import { QueueClosedError, QueueFullError } from '../coordinator/bounded-queue';
import type { SettleOutcome, WriteCoordinator } from '../coordinator/write-coordinator';
import { CopyBuffer, decodeTuple, tupleEncoderFor } from '../sinks/copy-binary';
import type { StoreItem } from '../sinks/store-sink';
import { Row, SINK_KINDS, SinkKind, TABLES } from '../sinks/tables';

/** Logical stream per sink (physical name `<ns>.<stream>`). */
export const MD_STREAMS: Record<SinkKind, StreamName> = {
  bars: STREAMS.bars,
  options: STREAMS.options,
  news: STREAMS.news,
  fundamentals: STREAMS.fundamentals,
};

export const STORE_GROUP = 'store';

/**
 * A delivery as coordinator work. Written: acked. Dead-lettered or dropped: on a Redis bus the
 * delivery went to the stream's `.dlq` (`deadLetter`, appended and acked in one MULTI), so the later
 * settle is a no-op; on the in-memory bus into the dead-letter file, then acked. `failed`: redeliver
 * it later. Classes rather than closures per row: tens of thousands of these are held while batches
 * are written, and each closure would be two more objects for the GC to copy.
 */
abstract class HeldDelivery implements StoreItem {
  abstract readonly row: Row;
  constructor(
    readonly kind: SinkKind,
    protected readonly delivery: Delivery<Row>,
  ) {}

  settle(outcome: SettleOutcome): void {
    if (outcome === 'failed')
      this.delivery.fail('store could neither write the row nor record it in the dead-letter file');
    else this.delivery.ack();
  }
}

/** A delivery held with its envelope, as the in-memory bus hands it (dead letters: the file). */
class DeliveryItem extends HeldDelivery {
  readonly row: Row;
  constructor(kind: SinkKind, delivery: Delivery<Row>) {
    super(kind, delivery);
    this.row = delivery.envelope.payload;
  }
}

/** A delivery whose dead letter goes to its source stream's `.dlq` (a durable bus). */
class StreamDeadLetterItem extends DeliveryItem {
  deadLetter(reason: string): void {
    this.delivery.deadLetter(reason);
  }
}

/**
 * A stream delivery held as its row's COPY binary tuple, its envelope released: a few bytes in a
 * chunk shared with the rows read with it, where the decoded envelope was a dozen objects that every
 * scavenge copied and promoted while the row waited in the queue (garbage collection was a fifth of
 * the store's CPU at full rate). Only the fallbacks (a batch the insert-only COPY could not take)
 * decode the row again; its dead letter is the entry as written, which Pulse reads back.
 */
class TupleItem extends HeldDelivery {
  constructor(
    kind: SinkKind,
    delivery: Delivery<Row>,
    readonly tuples: CopyBuffer,
    readonly tupleStart: number,
    readonly tupleEnd: number,
  ) {
    super(kind, delivery);
  }

  get row(): Row {
    return decodeTuple(TABLES[this.kind], this.tuples.buf, this.tupleStart);
  }

  deadLetter(reason: string): void {
    this.delivery.deadLetter(reason);
  }
}

/** Bytes a chunk starts with per row (a bar's tuple is ~110): it grows if rows are larger. */
const TUPLE_BYTES_GUESS = 128;

export interface StreamIngestOptions {
  consumer: string;
  group?: string;
  kinds?: readonly SinkKind[];
  batchSize?: number;
  blockMs?: number;
  /** Unacked deliveries one subscription may hold. */
  maxInFlight?: number;
  /** Another consumer's unacked delivery is reclaimed once idle this long. */
  minIdleMs?: number;
  /** Remove consumers idle this long that hold nothing (0: never). */
  consumerGraceMs?: number;
  /** XREADGROUP calls kept ahead per subscription (Pulse's `readAhead`). */
  readAhead?: number;
  /** Subscriptions per stream (consumer names `<consumer>-<i>`): overlaps reads with decoding. */
  consumersPerStream?: number;
  log?: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void };
}

/**
 * Reads the md.* streams with the `store` group and feeds the coordinator. A message is acked only
 * when its row is written or dead-lettered; while the coordinator's queue is full (`block`) the
 * handler does not return, so the subscription stops reading. On stop, new deliveries are left
 * pending (unacked) for the next consumer.
 */
export class StreamIngest {
  private subscriptions: Subscription[] = [];
  private accepting = false;
  private suspendedByOperator = false;
  /** `start` was called (the store is up): what `resume` returns to. */
  private wanted = false;
  received = 0;

  constructor(
    private readonly bus: EventBus,
    private readonly coordinator: WriteCoordinator<StoreItem>,
    private readonly opts: StreamIngestOptions,
  ) {}

  get running(): boolean {
    return this.accepting;
  }

  /** Whether an operator paused ingest (control action `pause`); `start` does nothing until `resume`. */
  get suspended(): boolean {
    return this.suspendedByOperator;
  }

  start(): void {
    this.wanted = true;
    if (this.accepting || this.suspendedByOperator) return;
    this.accepting = true;
    const perStream = Math.max(1, this.opts.consumersPerStream ?? 1);
    for (const kind of this.opts.kinds ?? SINK_KINDS) {
      for (let i = 0; i < perStream; i++) {
        const sub = this.bus.subscribeBatch<Row>(
          {
            stream: MD_STREAMS[kind],
            schemaIds: streamSchemaIds(MD_STREAMS[kind]),
            group: this.opts.group ?? STORE_GROUP,
            consumer: perStream === 1 ? this.opts.consumer : `${this.opts.consumer}-${i}`,
            batchSize: this.opts.batchSize ?? 500,
            blockMs: this.opts.blockMs ?? 1000,
            maxInFlight: this.opts.maxInFlight,
            readAhead: this.opts.readAhead,
            minIdleMs: this.opts.minIdleMs,
            consumerGraceMs: this.opts.consumerGraceMs,
            // Redelivered rows are harmless (idempotent upserts), so no per-message dedup cache.
            idempotency: false,
          },
          (batch) => this.handle(kind, batch),
        );
        this.subscriptions.push(sub);
      }
    }
    this.opts.log?.info(
      { kinds: this.opts.kinds ?? SINK_KINDS, consumer: this.opts.consumer },
      'stream ingest started',
    );
  }

  /**
   * Stops reading: reads already on their way are still handed to the coordinator (so nothing read is
   * left pending), then no more. Subscriptions stay open so acks still land while the queue drains.
   */
  async stopReading(): Promise<void> {
    await Promise.all(this.subscriptions.map((s) => s.stopReading()));
    this.accepting = false;
  }

  /**
   * Operator pause: closes the subscriptions, so nothing more is read and what was read but not
   * handed over stays pending for this consumer; rows already queued are still written.
   */
  async suspend(): Promise<void> {
    this.suspendedByOperator = true;
    await this.close();
  }

  /** Ends an operator pause; reading resumes (with this consumer's pending entries first) if ingest had been started. */
  resume(): boolean {
    this.suspendedByOperator = false;
    if (this.wanted) this.start();
    return this.accepting;
  }

  /** Closes the subscriptions (whatever is unacked stays pending on the streams). */
  async close(): Promise<void> {
    this.accepting = false;
    const subs = this.subscriptions;
    this.subscriptions = [];
    await Promise.all(subs.map((s) => s.close()));
  }

  private async handle(kind: SinkKind, batch: Delivery<Row>[]): Promise<void> {
    if (!this.accepting || batch.length === 0) return;
    this.received += batch.length;
    const items: StoreItem[] = new Array(batch.length);
    if (this.bus.backend === 'redis') this.toStreamItems(kind, batch, items);
    // The in-memory bus keeps nothing across a restart: its dead letters go to the file, row and all.
    else for (let i = 0; i < batch.length; i++) items[i] = new DeliveryItem(kind, batch[i]);
    if (this.coordinator.overflow === 'error') {
      // Enqueue one by one so exactly the rejected messages are failed (and redelivered later).
      await this.submitEach(items, batch);
      return;
    }
    try {
      await this.coordinator.submitMany(items);
    } catch (err) {
      if (err instanceof QueueClosedError) return; // shutting down: the rest stays pending
      throw err;
    }
  }

  /**
   * Rows of a binary-encodable table are encoded now, into one chunk per read, and their envelopes
   * released; a row the binary form cannot carry (the server decides on its text) keeps its envelope.
   */
  private toStreamItems(kind: SinkKind, batch: Delivery<Row>[], items: StoreItem[]): void {
    const encode = tupleEncoderFor(TABLES[kind]);
    const chunk = encode ? new CopyBuffer(batch.length * TUPLE_BYTES_GUESS) : undefined;
    for (let i = 0; i < batch.length; i++) {
      const d = batch[i];
      const start = chunk?.at ?? 0;
      if (chunk && encode!(d.envelope.payload, chunk)) {
        items[i] = new TupleItem(kind, d, chunk, start, chunk.at);
        d.release();
      } else items[i] = new StreamDeadLetterItem(kind, d);
    }
  }

  private async submitEach(items: StoreItem[], batch: Delivery<Row>[]): Promise<void> {
    for (let i = 0; i < items.length; i++) {
      try {
        await this.coordinator.submit(items[i]);
      } catch (err) {
        if (err instanceof QueueClosedError) return;
        if (!(err instanceof QueueFullError)) throw err;
        batch[i].fail('store queue full (overflow=error)');
      }
    }
  }
}
