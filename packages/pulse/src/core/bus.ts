/**
 * The bus: one EventBus implementation over a Transport (Redis Streams or the in-memory emulation).
 * Publishing is one pipeline per call; subscriptions go to the `Router` (one consumer loop each);
 * dead letters are read back and replayed here.
 */
import type { EventEnvelope, SchemaTrack } from '@mdp/contracts';
import { createEnvelope, type CreateEnvelopeOptions } from '../wire/envelope';
import { OutcomeTally, PulseMetrics } from './metrics';
import { coreStream, dlqStream, partitionOf, physicalStream, physicalStreams } from './names';
import { OutageLog } from './outage-log';
import { Router } from './router';
import { DEFAULTS } from './defaults';
import { signEnvelope } from '../wire/signing';
import type { GroupStats, StreamInfo, Transport } from './transport';
import type {
  BatchHandler,
  BusBackend,
  EventBus,
  EventBusOptions,
  MessageHandler,
  PublishOptions,
  SubscribeOptions,
  Subscription,
  WireLayout,
} from './types';
import {
  DLQ_FIELD,
  encodeCoreEntry,
  encodeEntry,
  FIELD,
  fieldsToObject,
  objectToFields,
  type DeadLetterInfo,
  type Fields,
} from '../wire/wire';

/** One dead-letter entry, as read back by `readDeadLetters`. */
export interface DeadLetter extends Omit<DeadLetterInfo, 'fields' | 'failedAt'> {
  /** DLQ stream and its entry id (what `replayDeadLetters` selects by). */
  dlqStream: string;
  dlqEntryId: string;
  /** Epoch seconds. */
  failedAt: number;
  /** Envelope id, when the entry had one. */
  envelopeId?: string;
  /** The original envelope JSON verbatim, when the entry had one. */
  envelope?: string;
  /** All original entry fields. */
  original: Record<string, string>;
}

export interface ReadDeadLettersOptions {
  /** Per physical DLQ stream; default 100. */
  count?: number;
  /** Exclusive lower bound entry id (paging); default from the start. */
  after?: string;
  /** Layout of the source stream (whose `.dlq` is read); default the bus's. */
  wire?: WireLayout;
}

/** The bus with pulse's extras beyond the shared `EventBus` interface. */
export interface PulseBus extends EventBus {
  readonly metrics: PulseMetrics;
  /** Layout this bus uses unless a call says otherwise. */
  readonly wire: WireLayout;
  /** Physical streams of a logical stream in a layout (one unless partitioned; the core layout has one). */
  physicalStreams(stream: string, wire?: WireLayout): string[];
  /** An envelope on this bus's track. */
  envelope<T>(schemaId: string, payload: T, opts?: CreateEnvelopeOptions): EventEnvelope<T>;
  readDeadLetters(stream: string, opts?: ReadDeadLettersOptions): Promise<DeadLetter[]>;
  /**
   * Appends the selected dead letters' original entries to their source stream again and removes
   * them from the DLQ (one MULTI). Returns how many were replayed.
   */
  replayDeadLetters(
    stream: string,
    select: string[] | ((dl: DeadLetter) => boolean),
    wire?: WireLayout,
  ): Promise<number>;
  /**
   * A setting every process of this namespace must agree on (`<namespace>.settings.<name>`): stored
   * by the first process, returned to each later one to compare with its own.
   */
  claimSetting(name: string, value: string): Promise<string>;
  /**
   * Takes the lease `<namespace>.lease.<name>` for `holder` when free, or extends it when `holder`
   * has it, for `ttlMs`; returns who holds it now.
   */
  holdLease(name: string, holder: string, ttlMs: number): Promise<string>;
  /** Gives the lease up if `holder` has it. */
  releaseLease(name: string, holder: string): Promise<void>;
  /**
   * Each physical stream (partition) of a logical stream: length, the group's pending entries and
   * consumers, and in a Redis Cluster the slot and the master that owns it.
   */
  streamTopology(stream: string, group: string): Promise<StreamInfo[]>;
  /** Pending / undelivered counts of a group, summed over partitions. */
  groupStats(stream: string, group: string): Promise<GroupStats>;
  /**
   * Drops every connection at once without draining or acking: what a crash looks like to Redis.
   * Unacked deliveries stay pending for other consumers. For tests and fatal-exit paths.
   */
  disconnect(): void;
}

export class Bus implements PulseBus {
  readonly namespace: string;
  readonly track: SchemaTrack;
  readonly wire: WireLayout;
  readonly metrics: PulseMetrics;
  private readonly router: Router;
  /** Shared by publishing and every consumer of this bus: one outage is one pair of log lines. */
  private readonly outage: OutageLog;
  private closed = false;
  private readonly maxEntryBytes: number;

  constructor(
    readonly backend: BusBackend,
    private readonly transport: Transport,
    private readonly opts: EventBusOptions,
  ) {
    this.namespace = opts.namespace ?? DEFAULTS.namespace;
    this.track = opts.track ?? DEFAULTS.track;
    this.wire = opts.wire ?? 'mdp';
    this.metrics = new PulseMetrics(opts.registry);
    this.maxEntryBytes = Math.max(1, opts.maxEntryBytes ?? DEFAULTS.maxEntryBytes);
    this.outage = new OutageLog(
      opts.logger,
      {
        down: 'pulse: Redis unavailable; publishing and consuming keep retrying',
        up: 'pulse: Redis available again',
      },
      { backend, namespace: this.namespace },
    );
    this.router = new Router(this, transport, opts, this.outage, this.maxEntryBytes);
  }

  streamName(stream: string): string {
    return physicalStream(this.namespace, stream);
  }

  physicalStreams(stream: string, wire: WireLayout = this.wire): string[] {
    if (wire === 'core') return [coreStream(this.namespace, stream)];
    return physicalStreams(this.namespace, stream, this.partitionCount(stream));
  }

  private partitionCount(stream: string): number {
    return Math.max(1, Math.floor(this.opts.partitions?.[stream] ?? 1));
  }

  envelope<T>(schemaId: string, payload: T, opts: CreateEnvelopeOptions = {}): EventEnvelope<T> {
    return createEnvelope(schemaId, payload, { track: this.track, ...opts });
  }

  async publish<T>(
    stream: string,
    envelope: EventEnvelope<T>,
    opts?: PublishOptions,
  ): Promise<string> {
    return (await this.publishBatch(stream, [envelope], opts))[0];
  }

  async publishBatch<T>(
    stream: string,
    envelopes: EventEnvelope<T>[],
    opts: PublishOptions = {},
  ): Promise<string[]> {
    this.assertOpen();
    if (!envelopes.length) return [];
    const token = this.opts.publisherToken;
    const tally = new OutcomeTally();
    const wire = opts.wire ?? this.wire;
    const metricStream =
      wire === 'core' ? coreStream(this.namespace, stream) : this.streamName(stream);
    const encoded: Fields[] = new Array(envelopes.length);
    for (let i = 0; i < envelopes.length; i++) {
      const env = envelopes[i];
      assertEnvelope(env, stream);
      encoded[i] =
        wire === 'core'
          ? encodeCoreEntry(env, token)
          : encodeEntry(token ? signEnvelope(env, token) : env);
      tally.add(env.meta.track, 'success');
    }
    const trim = opts.maxLen !== undefined || opts.retentionMs !== undefined ? opts : undefined;
    try {
      const parts = wire === 'core' ? 1 : this.partitionCount(stream);
      if (parts <= 1) {
        const ids = await this.transport.add(metricStream, encoded, trim);
        tally.flush(this.metrics.publishTotal, metricStream);
        this.outage.succeeded(undefined, 'publish');
        return ids;
      }
      const streams = this.physicalStreams(stream);
      const byPartition = streams.map(() => [] as number[]);
      envelopes.forEach((env, i) => byPartition[partitionOf(env.key, parts)].push(i));
      const ids: string[] = new Array(envelopes.length);
      await Promise.all(
        byPartition.map(async (indexes, p) => {
          if (!indexes.length) return;
          const got = await this.transport.add(
            streams[p],
            indexes.map((i) => encoded[i]),
            trim,
          );
          indexes.forEach((i, k) => (ids[i] = got[k]));
        }),
      );
      tally.flush(this.metrics.publishTotal, metricStream);
      this.outage.succeeded(undefined, 'publish');
      return ids;
    } catch (err) {
      const failed = new OutcomeTally();
      for (const env of envelopes) failed.add(env.meta.track, 'error');
      failed.flush(this.metrics.publishTotal, metricStream);
      this.outage.failed(err, { stream: metricStream }, 'publish');
      throw err;
    }
  }

  subscribe<T>(opts: SubscribeOptions, handler: MessageHandler<T>): Subscription {
    this.assertOpen();
    return this.router.subscribe(opts, handler);
  }

  subscribeBatch<T>(opts: SubscribeOptions, handler: BatchHandler<T>): Subscription {
    this.assertOpen();
    return this.router.subscribeBatch(opts, handler);
  }

  async readDeadLetters(stream: string, opts: ReadDeadLettersOptions = {}): Promise<DeadLetter[]> {
    const out: DeadLetter[] = [];
    for (const physical of this.physicalStreams(stream, opts.wire)) {
      const dlq = dlqStream(physical);
      const start = opts.after ? `(${opts.after}` : '-';
      for (const e of await this.transport.range(dlq, start, '+', opts.count ?? 100)) {
        if (e.fields) out.push(toDeadLetter(dlq, e.id, e.fields));
      }
    }
    return out;
  }

  async replayDeadLetters(
    stream: string,
    select: string[] | ((dl: DeadLetter) => boolean),
    wire?: WireLayout,
  ): Promise<number> {
    const wanted = Array.isArray(select) ? new Set(select) : undefined;
    let replayed = 0;
    for (const physical of this.physicalStreams(stream, wire)) {
      const dlq = dlqStream(physical);
      // Select from the DLQ as it is now, then replay: an entry that fails again while the replay runs
      // lands behind the selection and waits for the next replay instead of being chased in a loop.
      const chosen: DeadLetter[] = [];
      let after: string | undefined;
      for (;;) {
        const page = await this.transport.range(dlq, after ? `(${after}` : '-', '+', 500);
        if (!page.length) break;
        after = page[page.length - 1].id;
        for (const e of page) {
          if (!e.fields) continue;
          const dl = toDeadLetter(dlq, e.id, e.fields);
          if (wanted ? wanted.has(dl.dlqEntryId) : select instanceof Function && select(dl))
            chosen.push(dl);
        }
      }
      for (let i = 0; i < chosen.length; i += 500) {
        await this.transport.replay(
          chosen.slice(i, i + 500).map((dl) => ({
            dlqStream: dl.dlqStream,
            dlqEntryId: dl.dlqEntryId,
            stream: dl.sourceStream,
            fields: objectToFields(dl.original),
          })),
        );
      }
      replayed += chosen.length;
    }
    return replayed;
  }

  streamTopology(stream: string, group: string): Promise<StreamInfo[]> {
    return Promise.all(
      this.physicalStreams(stream).map((s) => this.transport.streamInfo(s, group)),
    );
  }

  claimSetting(name: string, value: string): Promise<string> {
    this.assertOpen();
    return this.transport.claimSetting(`${this.namespace}.settings.${name}`, value);
  }

  holdLease(name: string, holder: string, ttlMs: number): Promise<string> {
    this.assertOpen();
    return this.transport.holdLease(`${this.namespace}.lease.${name}`, holder, ttlMs);
  }

  releaseLease(name: string, holder: string): Promise<void> {
    return this.transport.releaseLease(`${this.namespace}.lease.${name}`, holder);
  }

  async groupStats(stream: string, group: string): Promise<GroupStats> {
    let pending = 0;
    let lag: number | null = 0;
    for (const s of this.physicalStreams(stream)) {
      const st = await this.transport.groupStats(s, group);
      pending += st.pending;
      lag = lag === null || st.lag === null ? null : lag + st.lag;
    }
    return { pending, lag };
  }

  ping(): Promise<void> {
    return this.transport.ping();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.router.close();
    await this.transport.close();
  }

  disconnect(): void {
    this.closed = true;
    this.router.abandon();
    this.transport.abort();
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('event bus is closed');
  }
}

function assertEnvelope(env: EventEnvelope<unknown>, stream: string): void {
  if (
    !env ||
    typeof env.id !== 'string' ||
    !env.id ||
    !env.meta ||
    typeof env.meta.schema_id !== 'string' ||
    typeof env.meta.track !== 'string'
  ) {
    throw new TypeError(
      `publish to ${stream}: not an envelope (needs id, meta.schema_id, meta.track); build one with createEnvelope()`,
    );
  }
}

function toDeadLetter(dlq: string, id: string, fields: Fields): DeadLetter {
  const f = fieldsToObject(fields);
  let original: Record<string, string> = {};
  try {
    original = JSON.parse(f[DLQ_FIELD.raw] ?? '{}');
  } catch {
    original = {};
  }
  // The envelope is stored once, in its own field (older dead letters also have it inside `raw`).
  if (f[DLQ_FIELD.envelope] !== undefined && original[FIELD.envelope] === undefined)
    original[FIELD.envelope] = f[DLQ_FIELD.envelope];
  return {
    dlqStream: dlq,
    dlqEntryId: id,
    sourceStream: f[DLQ_FIELD.sourceStream] ?? '',
    sourceEntryId: f[DLQ_FIELD.sourceEntryId] ?? '',
    group: f[DLQ_FIELD.group] ?? '',
    consumer: f[DLQ_FIELD.consumer] ?? '',
    reason: f[DLQ_FIELD.reason] ?? '',
    attempts: Number(f[DLQ_FIELD.attempts] ?? 0),
    failedAt: Number(f[DLQ_FIELD.failedAt] ?? 0),
    envelopeId: f[DLQ_FIELD.id],
    envelope: f[DLQ_FIELD.envelope],
    original,
  };
}
