/**
 * The public shape of the bus. Both backends (inmem, redis) implement `EventBus` and pass one shared
 * behavioural suite. Store, pipeline and orchestrator code depends only on these types.
 */
import type { EventEnvelope, SchemaTrack } from '@mdp/contracts';
import type { Registry } from 'prom-client';
import type { IdempotencyStore } from './idempotency';
import type { InMemoryStreams } from '../inmem/inmem-transport';

/**
 * pino-compatible subset used for what the bus cannot throw (reader loop errors, outages: see
 * `OutageLog`). `info` (the end of an outage) falls back to `warn` when absent.
 */
export interface PulseLogger {
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  info?(obj: object, msg?: string): void;
}

export type BusBackend = 'inmem' | 'redis';

/**
 * Stream entry layout (README "Wire format"). `mdp`: key `<namespace>.<stream>`, fields `id`,
 * `schema_id`, `track`, `envelope`. `core`: the Python market-data-core's, key
 * `<namespace>:<namespace>.<stream>`, one field `data`, the Redis entry id as envelope id.
 */
export type WireLayout = 'mdp' | 'core';
export const WIRE_LAYOUTS: readonly WireLayout[] = ['mdp', 'core'];

export interface EventBusOptions {
  backend: BusBackend;
  /** `redis`: a single server (required unless `clusterNodes` is given). */
  redisUrl?: string;
  /**
   * `redis`: Redis Cluster seed nodes (`host:port`, a list or a comma-separated string). When set it
   * wins over `redisUrl`: commands go through ioredis's `Cluster`, each reader to its slot's owner.
   */
  clusterNodes?: string | string[];
  /** Stream name prefix; default `mdp`. Physical stream = `<namespace>.<stream>`. */
  namespace?: string;
  /** Track this process publishes (it reads both). Default `v1`. */
  track?: SchemaTrack;
  /** When set, publishers sign envelopes (HMAC header) and consumers dead-letter bad signatures. */
  publisherToken?: string;
  /** prom-client registry for pulse_* metrics; default: a private one. */
  registry?: Registry;
  /** Logical stream -> number of physical partitions (hash of the envelope key). Default 1. */
  partitions?: Record<string, number>;
  /** `inmem` only: share one in-memory "server" between several buses (acts like separate processes). */
  inmem?: InMemoryStreams;
  /** Layout this bus publishes and subscribes in unless a call says otherwise; default `mdp`. */
  wire?: WireLayout;
  /** `redis` only: CLIENT SETNAME prefix for this bus's connections; default `pulse`. */
  clientName?: string;
  logger?: PulseLogger;
  /**
   * Largest field value a consumer reads (default 1 MiB): a larger entry is dead-lettered with reason
   * `too large` without being parsed, and on Redis its bytes are dropped as they arrive, never buffered.
   */
  maxEntryBytes?: number;
}

export interface PublishOptions {
  /** Approximate MAXLEN trim applied with XADD. */
  maxLen?: number;
  /** MINID trim: drop entries older than this many ms (time-based retention). */
  retentionMs?: number;
  /** Entry layout (and so stream key) to write; default the bus's. */
  wire?: WireLayout;
}

/** One delivered message. `ack`/`fail` may be called after the handler returns (e.g. once rows are durable). */
export interface Delivery<T = unknown> {
  envelope: EventEnvelope<T>;
  /** Logical stream name (without namespace). */
  stream: string;
  /** Backend entry id (Redis stream id for `redis`). */
  entryId: string;
  /** 1 on first delivery; grows with every redelivery or reclaim. */
  deliveryCount: number;
  ack(): void;
  /** Counts an attempt; after `maxDeliveries` the message goes to `<stream>.dlq`. */
  fail(reason: string): void;
  /**
   * Dead-letters the message now, whatever its delivery count: it goes to `<stream>.dlq` with
   * `reason`, appended and acked in one MULTI like every dead letter (for data a handler knows will
   * never be accepted, e.g. a row the database refuses).
   */
  deadLetter(reason: string): void;
  /**
   * Drops the decoded envelope while the delivery waits to be settled, for handlers that keep what
   * they need in a form of their own and hold many deliveries at once (the store holds tens of
   * thousands while it writes them: each envelope is a dozen objects the garbage collector copies and
   * promotes). Settling works as before, a dead letter still carries the entry as it was written (it
   * is read back from the stream); reading `envelope` afterwards throws.
   */
  release(): void;
}

export interface SubscribeOptions {
  /** Logical stream name, e.g. `telemetry.feedback`. */
  stream: string;
  /** Entry layout (and so stream key) to read; default the bus's. The core layout has no partitions. */
  wire?: WireLayout;
  /**
   * Schema ids this stream carries (the catalogue's `streamSchemaIds`): an envelope with another
   * `meta.schema_id` is dead-lettered as poison before any handler sees it. Default: any.
   */
  schemaIds?: readonly string[];
  group: string;
  consumer: string;
  /** XREADGROUP COUNT. */
  batchSize?: number;
  /** XREADGROUP BLOCK in ms. */
  blockMs?: number;
  /**
   * Unacked deliveries this subscription may hold before it stops reading (backpressure); default
   * batchSize * (readAhead + 1): a batch in the handler's hands and the reads ahead.
   */
  maxInFlight?: number;
  /** Dead-letter a message after this many deliveries/failures. */
  maxDeliveries?: number;
  /** Reclaim other consumers' pending messages idle at least this long. */
  minIdleMs?: number;
  /** Where to start when the group is created: `0` (everything) or `$` (new only). Default `0`. */
  startFrom?: '0' | '$';
  /**
   * Drop envelopes whose id was already handled (acked, counted `duplicate`). `memory`: in-process
   * memory of the last `idempotencyCacheSize` handled ids (default); `shared`: Redis SET NX EX keyed by namespace + group (across restarts and
   * instances); `false`: off; or a custom store.
   */
  idempotency?: 'memory' | 'shared' | false | IdempotencyStore;
  /** Handled ids `memory` idempotency remembers (the last ones, first in first out); default 10,000. */
  idempotencyCacheSize?: number;
  /** Expiry of `shared` idempotency keys; default 7 days. */
  idempotencyTtlSec?: number;
  /** Per-message middleware around the handler (`subscribe` only); first = outermost. */
  middleware?: MessageMiddleware<any>[]; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** Batch middleware around the (batch) handler; first = outermost. */
  batchMiddleware?: BatchMiddleware<any>[]; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** Partitioned streams: which partitions this consumer reads (see `assignPartitions`); default all. */
  partitions?: number[];
  /**
   * Remove the group's consumers (other than this one) that hold no pending entry and were idle at
   * least this long (XGROUP DELCONSUMER, checked and done atomically); default 0: never.
   */
  consumerGraceMs?: number;
  /** How often to look for other consumers' idle pending entries; default minIdleMs / 2. */
  reclaimIntervalMs?: number;
  /**
   * Reads kept in flight while entries flow (default 2), within `maxInFlight`: the next batches are
   * already on their way while this one is decoded, so neither Redis nor the consumer waits.
   */
  readAhead?: number;
}

/** Per-message handler: resolve = ack, throw = fail(error.message). */
export type MessageHandler<T = unknown> = (
  envelope: EventEnvelope<T>,
  delivery: Delivery<T>,
) => Promise<void> | void;

/** Batch handler with manual ack/fail on each delivery. */
export type BatchHandler<T = unknown> = (batch: Delivery<T>[]) => Promise<void> | void;

/** Wraps a per-message handler (retry, timeout, ...); see `middleware.ts`. */
export type MessageMiddleware<T = unknown> = (next: MessageHandler<T>) => MessageHandler<T>;
/** Wraps a batch handler. */
export type BatchMiddleware<T = unknown> = (next: BatchHandler<T>) => BatchHandler<T>;

export interface Subscription {
  /**
   * Stops reading (no new reads, no reclaims); reads already on their way are handed to the handler
   * first. Resolves once nothing more will be handed out. Settling and acking go on: the first step of
   * a graceful shutdown, before draining what was handed out and `close()`.
   */
  stopReading(): Promise<void>;
  /** Stops reading, lets in-flight handlers finish, acks what finished, leaves the rest pending. */
  close(): Promise<void>;
}

export interface EventBus {
  readonly backend: BusBackend;
  readonly namespace: string;
  readonly track: SchemaTrack;
  /** `<namespace>.<stream>`. */
  streamName(stream: string): string;
  publish<T>(stream: string, envelope: EventEnvelope<T>, opts?: PublishOptions): Promise<string>;
  publishBatch<T>(
    stream: string,
    envelopes: EventEnvelope<T>[],
    opts?: PublishOptions,
  ): Promise<string[]>;
  subscribe<T>(opts: SubscribeOptions, handler: MessageHandler<T>): Subscription;
  subscribeBatch<T>(opts: SubscribeOptions, handler: BatchHandler<T>): Subscription;
  /** Pings the backend; used by health checks. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
