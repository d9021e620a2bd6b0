/**
 * The router: handlers registered per stream, each subscription run by its own consumer loop (one
 * per partition on a Redis Cluster). A message goes through the consumer's fixed stages (see
 * `stages.ts`); user middleware (`retry`, `timeout`, ...) wraps the handler inside the handler stage,
 * in the spirit of Watermill's router.
 */
import { Consumer } from './consumer-loop';
import { DEFAULTS } from './defaults';
import {
  MemoryIdempotencyStore,
  SharedIdempotencyStore,
  type IdempotencyStore,
} from './idempotency';
import type { PulseMetrics } from './metrics';
import { compose, perMessage } from './middleware';
import type { OutageLog } from './outage-log';
import type { Transport } from './transport';
import type {
  BatchHandler,
  EventBusOptions,
  MessageHandler,
  SubscribeOptions,
  Subscription,
  WireLayout,
} from './types';

/** What the router needs from its bus: names and layout of streams, the shared metrics. */
export interface RoutedBus {
  readonly namespace: string;
  readonly wire: WireLayout;
  readonly metrics: PulseMetrics;
  streamName(stream: string): string;
  physicalStreams(stream: string, wire?: WireLayout): string[];
}

export class Router {
  private readonly consumers = new Set<Consumer>();

  constructor(
    private readonly bus: RoutedBus,
    private readonly transport: Transport,
    private readonly opts: EventBusOptions,
    /** Shared with the bus's publishing: one outage is one pair of log lines. */
    private readonly outage: OutageLog,
    private readonly maxEntryBytes: number,
  ) {}

  subscribe<T>(opts: SubscribeOptions, handler: MessageHandler<T>): Subscription {
    const wrapped = compose<MessageHandler<T>>(
      ...((opts.middleware ?? []) as Array<(h: MessageHandler<T>) => MessageHandler<T>>),
    )(handler);
    return this.subscribeBatch(opts, perMessage(wrapped));
  }

  subscribeBatch<T>(opts: SubscribeOptions, handler: BatchHandler<T>): Subscription {
    if (!opts.stream || !opts.group || !opts.consumer)
      throw new Error('subscribe needs stream, group and consumer');
    const wrapped = compose<BatchHandler<T>>(
      ...((opts.batchMiddleware ?? []) as Array<(h: BatchHandler<T>) => BatchHandler<T>>),
    )(handler);
    const batchSize = Math.max(1, opts.batchSize ?? DEFAULTS.batchSize);
    const minIdleMs = Math.max(0, opts.minIdleMs ?? DEFAULTS.minIdleMs);
    const readAhead = Math.max(1, Math.floor(opts.readAhead ?? DEFAULTS.readAhead));
    const wire = opts.wire ?? this.bus.wire;
    if (wire === 'core' && opts.partitions)
      throw new Error(`stream ${opts.stream}: the core layout has no partitions`);
    const all = this.bus.physicalStreams(opts.stream, wire);
    const physical = opts.partitions
      ? opts.partitions.map((p) => {
          if (!all[p])
            throw new Error(
              `stream ${opts.stream} has ${all.length} partition(s); no partition ${p}`,
            );
          return all[p];
        })
      : all;
    const clientName = (this.opts.clientName ?? 'pulse').replace(/\s/g, '_');
    const readerName = `${clientName}:${this.bus.namespace}:${opts.group}:${opts.consumer}`.replace(
      /\s/g,
      '_',
    );
    const config = {
      stream: opts.stream,
      metricStream: wire === 'core' ? all[0] : this.bus.streamName(opts.stream),
      physical,
      wire,
      group: opts.group,
      consumer: opts.consumer,
      batchSize,
      blockMs: Math.max(1, opts.blockMs ?? DEFAULTS.blockMs),
      maxInFlight: Math.max(1, opts.maxInFlight ?? batchSize * (readAhead + 1)),
      maxDeliveries: Math.max(1, opts.maxDeliveries ?? DEFAULTS.maxDeliveries),
      minIdleMs,
      reclaimIntervalMs: Math.max(5, opts.reclaimIntervalMs ?? Math.max(5, minIdleMs / 2)),
      readAhead,
      maxEntryBytes: this.maxEntryBytes,
      startFrom: opts.startFrom ?? '0',
      token: this.opts.publisherToken,
      schemaIds: opts.schemaIds ? new Set(opts.schemaIds) : undefined,
      idempotency: this.idempotencyFor(opts),
      readerName,
      consumerGraceMs: Math.max(0, opts.consumerGraceMs ?? 0),
    };
    const start = (physicalSet: string[], name: string) => {
      const consumer = new Consumer(
        { ...config, physical: physicalSet, statsStreams: physical, readerName: name },
        {
          transport: this.transport,
          metrics: this.bus.metrics,
          logger: this.opts.logger,
          outage: this.outage,
        },
        wrapped as BatchHandler<unknown>,
        (c) => this.consumers.delete(c),
      );
      this.consumers.add(consumer);
      return consumer;
    };
    if (physical.length === 1 || !this.transport.oneStreamPerReader)
      return start(physical, readerName);
    // Redis Cluster: one XREADGROUP reads one slot, so each partition gets its own loop and reader
    // connection (to that partition's slot owner), all under the same consumer name.
    const parts = physical.map((p) => start([p], `${readerName}:${p}`));
    return {
      stopReading: async () => void (await Promise.all(parts.map((c) => c.stopReading()))),
      close: async () => void (await Promise.all(parts.map((c) => c.close()))),
    };
  }

  private idempotencyFor(opts: SubscribeOptions): IdempotencyStore | undefined {
    const mode = opts.idempotency ?? 'memory';
    if (mode === false) return undefined;
    if (mode === 'memory')
      return new MemoryIdempotencyStore(opts.idempotencyCacheSize ?? DEFAULTS.idempotencyCacheSize);
    if (mode === 'shared') {
      return new SharedIdempotencyStore(
        this.transport,
        `${this.bus.namespace}.idem.${opts.group}.`,
        opts.idempotencyTtlSec ?? DEFAULTS.idempotencyTtlSec,
      );
    }
    return mode;
  }

  /** Lets in-flight handlers finish, acks what finished, leaves the rest pending. */
  async close(): Promise<void> {
    await Promise.all([...this.consumers].map((c) => c.close()));
  }

  /** Stops every consumer at once without flushing (crash semantics). */
  abandon(): void {
    for (const c of [...this.consumers]) c.abandon();
  }
}
