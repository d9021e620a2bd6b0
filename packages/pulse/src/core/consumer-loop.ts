/**
 * The consumer core shared by both backends. One loop per subscription:
 *
 *   reclaim (XPENDING IDLE + XCLAIM, cursor carried) -> read (XREADGROUP COUNT/BLOCK, pending acks
 *   in the same round trip) -> decode + validate in a tight loop (poison -> DLQ) -> idempotency -> handler
 *
 * What this consumer holds (handed to the handler, unsettled) or has settled without the ack or
 * dead-letter move having landed is never claimed again, and a heartbeat (XCLAIM JUSTID every
 * `reclaimIntervalMs`) keeps it from looking idle to other consumers: a delivery count only grows
 * when an entry is handed to a handler again.
 *
 * Acks are coalesced into one XACK per stream per batch; dead-letter moves into one MULTI. The
 * number of unsettled deliveries is capped by `maxInFlight`: at the cap the loop stops reading.
 */
import type { EventEnvelope } from '@mdp/contracts';
import type { IdempotencyStore } from './idempotency';
import type { PulseMetrics } from './metrics';
import { OutcomeTally } from './metrics';
import { errorMessage } from './middleware';
import { dlqStream } from './names';
import type { OutageLog } from './outage-log';
import type {
  AckMap,
  DeadLetterMove,
  RawEntry,
  StreamBatch,
  Transport,
  TransportReader,
} from './transport';
import type { BatchHandler, Delivery, PulseLogger, Subscription, WireLayout } from './types';
import { decodeCoreEntry, decodeEntry, dlqFields, type Fields } from '../wire/wire';

export interface ConsumerConfig {
  /** Logical stream (Delivery.stream). */
  stream: string;
  /** Metric label: `<namespace>.<stream>`. */
  metricStream: string;
  /** Physical streams this consumer reads. */
  physical: string[];
  /**
   * Streams the group gauges (pending, lag) sum over; default `physical`. A subscription split into
   * one loop per partition (Redis Cluster) gives each loop all of them, so the gauges stay totals.
   */
  statsStreams?: string[];
  group: string;
  consumer: string;
  batchSize: number;
  blockMs: number;
  maxInFlight: number;
  maxDeliveries: number;
  minIdleMs: number;
  reclaimIntervalMs: number;
  /** XREADGROUP calls kept in flight on the reader connection while entries flow. */
  readAhead: number;
  /** Field values over this many bytes: the entry is dead-lettered as too large, unparsed. */
  maxEntryBytes: number;
  startFrom: '0' | '$';
  wire: WireLayout;
  token?: string;
  /** Accepted `meta.schema_id`s; undefined: any. */
  schemaIds?: ReadonlySet<string>;
  idempotency?: IdempotencyStore;
  readerName: string;
  /** Remove the group's consumers idle this long that hold nothing (0: never). */
  consumerGraceMs: number;
}

export interface ConsumerDeps {
  transport: Transport;
  metrics: PulseMetrics;
  logger?: PulseLogger;
  /** The bus's outage log: loop and flush failures log once per outage, not once per retry. */
  outage?: OutageLog;
}

/** A dead-letter move to send with the next flush. */
interface PendingDeadLetter {
  physical: string;
  entryId: string;
  fields: Fields | null;
  reason: string;
  attempts: number;
  /** Epoch ms. */
  failedAt: number;
}

/** Deliveries handed to the handler together; `open` counts the unsettled ones. */
interface HeldBatch {
  physical: string;
  deliveries: PulseDelivery<unknown>[];
  open: number;
}

class PulseDelivery<T> implements Delivery<T> {
  settled = false;
  held?: HeldBatch;
  constructor(
    readonly envelope: EventEnvelope<T>,
    readonly stream: string,
    readonly entryId: string,
    readonly deliveryCount: number,
    readonly physical: string,
    private readonly owner: Consumer,
  ) {}

  ack(): void {
    if (this.settled) return;
    this.settled = true;
    this.owner.settleAck(this as PulseDelivery<unknown>);
  }

  fail(reason: string): void {
    if (this.settled) return;
    this.settled = true;
    this.owner.settleFail(this as PulseDelivery<unknown>, reason);
  }

  deadLetter(reason: string): void {
    if (this.settled) return;
    this.settled = true;
    this.owner.settleDeadLetter(this as PulseDelivery<unknown>, reason);
  }
}

export class Consumer implements Subscription {
  private readonly reader: TransportReader;
  private readonly tally = new OutcomeTally();
  private acks: AckMap = new Map();
  private dlq: PendingDeadLetter[] = [];
  /** Acks and dead-letter moves on their way to Redis (settled, not yet confirmed). */
  private readonly sendingAcks = new Set<AckMap>();
  private readonly sendingDlq = new Set<PendingDeadLetter[]>();
  private readonly heartbeat: NodeJS.Timeout;
  private touching = false;
  private lateFlush?: NodeJS.Timeout;
  private inFlight = 0;
  /**
   * Batches with unsettled deliveries: a reclaim must not hand those entries out twice. Kept per
   * batch (not per id) so the hot path only counts; the id set is built when a reclaim needs it.
   */
  private readonly held = new Set<HeldBatch>();
  private readonly claimCursor = new Map<string, string>();
  private dispatching = false;
  private flushScheduled = false;
  private flushChain: Promise<void> = Promise.resolve();
  private closing = false;
  /** stopReading(): no more reads or claims; the loop finishes what is on its way and idles. */
  private readingStopped = false;
  private readsDone?: Promise<void>;
  private markReadsDone?: () => void;
  private abandoned = false;
  private groupsReady = false;
  private recovered = false;
  private nextReclaimAt = 0;
  private nextPruneAt = 0;
  private capacityWaiter?: () => void;
  private wakePause?: () => void;
  private readonly loop: Promise<void>;
  private closed?: Promise<void>;

  constructor(
    private readonly cfg: ConsumerConfig,
    private readonly deps: ConsumerDeps,
    private readonly handler: BatchHandler<unknown>,
    private readonly onClosed: (c: Consumer) => void,
  ) {
    this.reader = deps.transport.reader(cfg.readerName);
    this.heartbeat = setInterval(() => this.touchHeld(), cfg.reclaimIntervalMs);
    this.heartbeat.unref();
    this.loop = this.run();
  }

  // ---- settlement (called by deliveries, possibly long after the handler returned) ----

  settleAck(d: PulseDelivery<unknown>): void {
    this.release(d);
    this.cfg.idempotency?.mark(d.envelope.id);
    this.pushAck(d.physical, d.entryId);
    this.tally.add(d.envelope.meta.track, 'success');
    this.afterSettle();
  }

  settleFail(d: PulseDelivery<unknown>, reason: string): void {
    this.release(d);
    if (d.deliveryCount >= this.cfg.maxDeliveries) {
      this.toDeadLetter(
        d.physical,
        d.entryId,
        null,
        `failed ${d.deliveryCount} of ${this.cfg.maxDeliveries} allowed deliveries: ${reason}`,
        d.deliveryCount,
      );
      this.tally.add(d.envelope.meta.track, 'dead_letter');
    } else {
      // Left pending: redelivered through a reclaim once idle for minIdleMs.
      this.tally.add(d.envelope.meta.track, 'error');
    }
    this.afterSettle();
  }

  settleDeadLetter(d: PulseDelivery<unknown>, reason: string): void {
    this.release(d);
    this.toDeadLetter(d.physical, d.entryId, null, reason, d.deliveryCount);
    this.tally.add(d.envelope.meta.track, 'dead_letter');
    this.afterSettle();
  }

  private release(d: PulseDelivery<unknown>): void {
    this.inFlight--;
    const held = d.held;
    if (held && --held.open === 0) this.held.delete(held);
  }

  /**
   * Entry ids of `physical` this consumer must keep: handed to the handler and not yet settled, or
   * settled with the ack or dead-letter move not yet confirmed by Redis. Built only when a reclaim or
   * heartbeat needs it, so the hot path only counts.
   */
  private keptIds(physical: string): Set<string> {
    const ids = new Set<string>();
    for (const b of this.held) {
      if (b.physical !== physical) continue;
      for (const d of b.deliveries) if (!d.settled) ids.add(d.entryId);
    }
    for (const acks of [this.acks, ...this.sendingAcks])
      for (const id of acks.get(physical) ?? []) ids.add(id);
    for (const moves of [this.dlq, ...this.sendingDlq])
      for (const m of moves) if (m.physical === physical) ids.add(m.entryId);
    return ids;
  }

  /** The heartbeat: what this consumer keeps is marked as just delivered, without counting a delivery. */
  private touchHeld(): void {
    if (this.touching || this.closing || (!this.held.size && !this.inFlight)) return;
    this.touching = true;
    const touches = this.cfg.physical.map((stream) => {
      const ids = [...this.keptIds(stream)];
      return ids.length
        ? this.deps.transport.touch(stream, this.cfg.group, this.cfg.consumer, ids)
        : undefined;
    });
    Promise.all(touches)
      .catch((err) =>
        this.deps.logger?.warn(
          { err: errorMessage(err), stream: this.cfg.metricStream, consumer: this.cfg.consumer },
          'pulse: heartbeat over held entries failed; will retry',
        ),
      )
      .finally(() => (this.touching = false));
  }

  private afterSettle(): void {
    const wake = this.capacityWaiter;
    if (wake && this.inFlight < this.cfg.maxInFlight) {
      this.capacityWaiter = undefined;
      wake();
    }
    if (!this.dispatching) this.scheduleFlush();
    // While a handler is still busy (e.g. waiting for room downstream) the loop sends no read to
    // carry the acks: flush shortly unless a read has taken them by then.
    else
      this.lateFlush ??= setTimeout(() => {
        this.lateFlush = undefined;
        if (this.acks.size || this.dlq.length) this.scheduleFlush();
      }, LATE_FLUSH_MS);
  }

  private pushAck(stream: string, id: string): void {
    const list = this.acks.get(stream);
    if (list) list.push(id);
    else this.acks.set(stream, [id]);
  }

  private takeAcks(): AckMap {
    const acks = this.acks;
    this.acks = new Map();
    return acks;
  }

  private requeueAcks(acks: AckMap): void {
    for (const [stream, ids] of acks) for (const id of ids) this.pushAck(stream, id);
  }

  /** `fields` null: read the entry back from the stream when the move is sent. */
  private toDeadLetter(
    physical: string,
    entryId: string,
    fields: Fields | null,
    reason: string,
    attempts: number,
  ): void {
    this.dlq.push({ physical, entryId, fields, reason, attempts, failedAt: Date.now() });
  }

  private async deadLetterMoves(pending: PendingDeadLetter[]): Promise<DeadLetterMove[]> {
    const moves: DeadLetterMove[] = [];
    for (const p of pending) {
      let fields = p.fields;
      if (!fields) {
        // Deliveries do not hold their raw entry (a store holds tens of thousands in flight, and
        // dead-lettering is rare): it is still in the stream, pending, so read it back.
        const [entry] = await this.deps.transport.range(p.physical, p.entryId, p.entryId, 1);
        fields = entry?.id === p.entryId ? entry.fields : null;
        if (!fields) {
          // Trimmed away while pending: nothing is left to dead-letter; ack it like any trimmed entry.
          this.deps.logger?.warn(
            { stream: p.physical, entryId: p.entryId },
            'pulse: entry to dead-letter was trimmed from the stream; acking it',
          );
          this.pushAck(p.physical, p.entryId);
          continue;
        }
      }
      moves.push({
        stream: p.physical,
        entryId: p.entryId,
        dlqStream: dlqStream(p.physical),
        fields: dlqFields({
          sourceStream: p.physical,
          sourceEntryId: p.entryId,
          group: this.cfg.group,
          consumer: this.cfg.consumer,
          reason: p.reason,
          attempts: p.attempts,
          fields,
          failedAt: p.failedAt,
        }),
      });
    }
    return moves;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.abandoned) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush().catch((err) => this.loopFailed(err));
    });
  }

  /**
   * The outbox, drained in one order whoever drains it: take the acks queued so far, make their
   * idempotency marks durable (an ack must never land before the mark that keeps a redelivery from
   * being handled twice), count the outcomes, move the dead letters. The caller then sends the acks,
   * alone (`flush`) or in the round trip of the next read (`sendRead`); on failure they go back.
   */
  private async drainOutbox(): Promise<AckMap> {
    const acks = this.takeAcks();
    // Still this consumer's while they travel: a reclaim must not take them (see heldIds).
    if (acks.size) this.sendingAcks.add(acks);
    try {
      await this.cfg.idempotency?.flush();
      this.tally.flush(this.deps.metrics.consumeTotal, this.cfg.metricStream);
      await this.flushDeadLetters();
    } catch (err) {
      this.sendingAcks.delete(acks);
      this.requeueAcks(acks);
      throw err;
    }
    return acks;
  }

  /** Drains the outbox and sends its acks. Serialised. */
  flush(): Promise<void> {
    const run = async () => {
      if (this.abandoned) return;
      const acks = await this.drainOutbox();
      if (!acks.size) return;
      try {
        await this.deps.transport.ack(this.cfg.group, acks);
      } catch (err) {
        this.requeueAcks(acks);
        throw err;
      } finally {
        this.sendingAcks.delete(acks);
      }
    };
    this.flushChain = this.flushChain.catch(() => undefined).then(run);
    return this.flushChain;
  }

  private async flushDeadLetters(): Promise<void> {
    if (!this.dlq.length) return;
    const pending = this.dlq;
    this.dlq = [];
    this.sendingDlq.add(pending);
    try {
      await this.deps.transport.deadLetter(this.cfg.group, await this.deadLetterMoves(pending));
    } catch (err) {
      this.dlq.unshift(...pending);
      throw err;
    } finally {
      this.sendingDlq.delete(pending);
    }
  }

  // ---- the loop ----

  private async run(): Promise<void> {
    let backoff = 50;
    while (!this.closing) {
      try {
        if (this.readingStopped) {
          while (this.ahead.length) await this.processAll(await this.takeRead());
          this.markReadsDone?.();
          await this.pause(60_000); // until close() wakes it
          continue;
        }
        if (!this.groupsReady) {
          for (const s of this.cfg.physical)
            await this.deps.transport.ensureGroup(s, this.cfg.group, this.cfg.startFrom);
          this.groupsReady = true;
        }
        if (!this.recovered) {
          // Settled deliveries' acks go out first, so they do not come back as this consumer's own.
          await this.flush();
          await this.recoverOwnPending();
          this.recovered = true;
        }
        if (Date.now() >= this.nextReclaimAt) {
          // Finish the reads ahead first: their entries are not held yet, and with a short minIdleMs
          // a claim would hand them to this consumer a second time.
          while (this.ahead.length) await this.processAll(await this.takeRead());
          // Settled entries are excluded from claims anyway; flushing first keeps that set small.
          await this.flush();
          await this.reclaim();
          await this.pruneIdleConsumers();
          this.nextReclaimAt = Date.now() + this.cfg.reclaimIntervalMs;
          await this.updateGroupStats();
        }
        if (this.closing) break;
        if (!this.ahead.length) {
          if (this.inFlight >= this.cfg.maxInFlight) {
            await this.flush();
            await this.waitForCapacity(Math.max(1, this.nextReclaimAt - Date.now()));
            continue;
          }
          // One (blocking) read while the stream may be dry; more go ahead once entries flow.
          this.readAhead(1);
          if (!this.ahead.length) continue; // closing, or a reclaim is due
        }
        const batches = await this.takeRead();
        let got = 0;
        let bytes = 0;
        for (const b of batches) {
          got += b.entries.length;
          for (const e of b.entries)
            bytes += e.tooLarge?.bytes ?? (e.fields ? e.fields[e.fields.length - 1].length : 0);
        }
        if (got > 0) this.entryBytes = this.entryBytes * 0.5 + (bytes / got) * 0.5;
        // While entries flow, keep reads ahead so Redis and the network work while we decode.
        if (got > 0) this.readAhead(this.cfg.readAhead, got);
        await this.processAll(batches);
        // With a read ahead in flight (it may block when the stream runs dry), acks and metrics go
        // out now on the command connection instead of waiting for the next read.
        if (this.ahead.length) this.scheduleFlush();
        backoff = 50;
        this.deps.outage?.succeeded(undefined, this);
      } catch (err) {
        if (this.closing) break;
        // Entries those reads were given stay pending, owned by this consumer: take them back from
        // its own pending list next (a resharding ends reads with an error while others, already
        // answered, are dropped here), instead of waiting minIdleMs for a reclaim.
        this.ahead.length = 0;
        this.reserved = 0;
        this.recovered = false;
        if (/NOGROUP/.test(errorMessage(err))) this.groupsReady = false;
        this.loopFailed(err);
        await this.pause(backoff);
        backoff = Math.min(2000, backoff * 2);
      }
    }
  }

  /** The start of an outage is logged once by the bus's outage log; without one, every failure. */
  private loopFailed(err: unknown): void {
    const detail = {
      stream: this.cfg.metricStream,
      group: this.cfg.group,
      consumer: this.cfg.consumer,
    };
    if (this.deps.outage) this.deps.outage.failed(err, detail, this);
    else
      this.deps.logger?.warn(
        { ...detail, err: errorMessage(err) },
        'pulse: consumer loop error; retrying',
      );
  }

  /** Reads sent ahead on the reader connection, oldest first, with the entries each may bring. */
  private readonly ahead: Array<{ batches: Promise<StreamBatch[]>; count: number }> = [];
  /** Entries the reads ahead may bring: counted against `maxInFlight` before they arrive. */
  private reserved = 0;
  /** Recent average entry size (envelope bytes), for the byte bound on reads. */
  private entryBytes = 0;

  /** Sends reads until `depth` are ahead or `maxInFlight` (minus `unprocessed` in hand) is reserved. */
  private readAhead(depth: number, unprocessed = 0): void {
    while (
      this.ahead.length < depth &&
      !this.closing &&
      !this.readingStopped &&
      Date.now() < this.nextReclaimAt
    ) {
      const count = Math.min(
        this.cfg.batchSize,
        this.cfg.maxInFlight - this.inFlight - this.reserved - unprocessed,
        // Reads are bounded in bytes too: big entries come a few at a time.
        Math.max(1, Math.floor(MAX_READ_BYTES / Math.max(1, this.entryBytes))),
      );
      if (count <= 0) return;
      const batches = this.read(count);
      batches.catch(() => undefined);
      this.ahead.push({ batches, count });
      this.reserved += count;
    }
  }

  private async takeRead(): Promise<StreamBatch[]> {
    const next = this.ahead.shift()!;
    try {
      return await next.batches;
    } finally {
      this.reserved -= next.count;
    }
  }

  private async processAll(batches: StreamBatch[]): Promise<void> {
    for (const b of batches) await this.process(b.stream, b.entries);
  }

  /** The reads' preparation, chained so reads reach the connection in the order they were issued. */
  private readQueue: Promise<unknown> = Promise.resolve();

  /** XREADGROUP `>` with the queued acks in the same round trip (after their idempotency marks). */
  private read(count: number): Promise<StreamBatch[]> {
    // A read ahead must not overtake the one before it (whose dead-letter flush may still be on the
    // wire): the later read would get the earlier entries, and per-consumer order would break.
    const sent = this.readQueue.then(() => this.sendRead(count));
    this.readQueue = sent.then(
      () => undefined,
      () => undefined,
    );
    return sent.then((s) => s.batches);
  }

  private async sendRead(count: number): Promise<{ batches: Promise<StreamBatch[]> }> {
    const acks = await this.drainOutbox();
    const block = Math.max(1, Math.min(this.cfg.blockMs, this.nextReclaimAt - Date.now()));
    const batches = this.reader
      .readNew(this.cfg.physical, this.cfg.group, this.cfg.consumer, count, block, acks)
      .catch((err: unknown) => {
        this.requeueAcks(acks);
        throw err;
      })
      .finally(() => this.sendingAcks.delete(acks));
    batches.catch(() => undefined); // the caller handles it; this only marks it as handled early
    return { batches };
  }

  /** A back-off sleep that `close()` cuts short. */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakePause = done;
    });
  }

  private waitForCapacity(maxWaitMs: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        if (this.capacityWaiter === done) this.capacityWaiter = undefined;
        resolve();
      };
      const timer = setTimeout(done, maxWaitMs);
      this.capacityWaiter = done;
    });
  }

  /** On (re)start: entries this consumer name was given before and never acked. */
  private async recoverOwnPending(): Promise<void> {
    for (const stream of this.cfg.physical) {
      let after = '0-0';
      while (!this.closing && !this.readingStopped && this.inFlight < this.cfg.maxInFlight) {
        const entries = await this.reader.readOwnPending(
          stream,
          this.cfg.group,
          this.cfg.consumer,
          after,
          this.cfg.batchSize,
        );
        if (!entries.length) break;
        after = entries[entries.length - 1].id;
        await this.processRedelivered(stream, entries);
      }
    }
  }

  /** Claims idle pending entries of each stream, carrying the cursor until the pending list is covered. */
  private async reclaim(): Promise<void> {
    for (const stream of this.cfg.physical) {
      let cursor = this.claimCursor.get(stream) ?? '0-0';
      do {
        const room = this.cfg.maxInFlight - this.inFlight;
        if (room <= 0 || this.closing || this.readingStopped) break;
        const res = await this.reader.claimIdle(
          stream,
          this.cfg.group,
          this.cfg.consumer,
          this.cfg.minIdleMs,
          cursor,
          Math.min(this.cfg.batchSize, room),
          this.keptIds(stream),
        );
        cursor = res.cursor;
        // Trimmed while pending: nothing left to deliver, so ack the ids.
        for (const id of res.deleted) this.pushAck(stream, id);
        await this.processRedelivered(stream, res.entries);
      } while (cursor !== '0-0' && cursor !== '0');
      this.claimCursor.set(stream, cursor);
    }
  }

  /**
   * Consumers of instances that are gone stay in the group forever (names are per instance). Once
   * idle for the grace period and holding nothing (their pending entries were reclaimed), they go.
   */
  private async pruneIdleConsumers(): Promise<void> {
    const grace = this.cfg.consumerGraceMs;
    if (grace <= 0 || Date.now() < this.nextPruneAt) return;
    this.nextPruneAt = Date.now() + Math.max(this.cfg.reclaimIntervalMs, grace / 2);
    for (const stream of this.cfg.physical) {
      const removed = await this.deps.transport.pruneConsumers(
        stream,
        this.cfg.group,
        grace,
        this.cfg.consumer,
      );
      if (removed.length)
        this.deps.logger?.warn(
          { stream, group: this.cfg.group, removed, idleMs: grace },
          'pulse: removed idle consumers that held nothing',
        );
    }
  }

  private async processRedelivered(stream: string, entries: RawEntry[]): Promise<void> {
    const fresh: RawEntry[] = [];
    const holding = this.keptIds(stream);
    for (const e of entries) {
      if (holding.has(e.id)) continue;
      if (e.fields === null) {
        this.pushAck(stream, e.id);
      } else if (e.deliveryCount > this.cfg.maxDeliveries) {
        this.toDeadLetter(
          stream,
          e.id,
          e.fields,
          `delivered ${e.deliveryCount} times without an ack (max ${this.cfg.maxDeliveries}): consumers died or timed out handling it`,
          e.deliveryCount,
        );
        this.tally.add(trackOf(e.fields), 'dead_letter');
      } else {
        fresh.push(e);
      }
    }
    if (fresh.length) await this.process(stream, fresh);
    await this.flush();
  }

  private async process(physical: string, entries: RawEntry[]): Promise<void> {
    const { token, stream } = this.cfg;
    let deliveries: PulseDelivery<unknown>[] = [];
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i];
      if (e.fields === null) {
        this.pushAck(physical, e.id);
        continue;
      }
      const tooLarge = e.tooLarge ?? this.oversized(e.fields);
      if (tooLarge) {
        this.deadLetterTooLarge(physical, e, tooLarge);
        continue;
      }
      const decoded =
        this.cfg.wire === 'core'
          ? decodeCoreEntry(e.fields, e.id, token)
          : decodeEntry(e.fields, token);
      if (!decoded.ok) {
        this.toDeadLetter(physical, e.id, e.fields, `poison: ${decoded.reason}`, e.deliveryCount);
        this.tally.add(decoded.track ?? 'unknown', 'dead_letter');
        continue;
      }
      const schemaId = decoded.envelope.meta.schema_id;
      if (this.cfg.schemaIds && !this.cfg.schemaIds.has(schemaId)) {
        const expected = [...this.cfg.schemaIds].join(' | ');
        this.toDeadLetter(
          physical,
          e.id,
          e.fields,
          `poison: unexpected schema "${schemaId}" on ${stream} (expected ${expected})`,
          e.deliveryCount,
        );
        this.tally.add(decoded.envelope.meta.track, 'dead_letter');
        continue;
      }
      deliveries.push(
        new PulseDelivery(decoded.envelope, stream, e.id, e.deliveryCount, physical, this),
      );
    }
    if (!deliveries.length) return;
    const newest = deliveries[deliveries.length - 1].envelope.ts;
    this.deps.metrics.lagSeconds.set(
      { stream: this.cfg.metricStream },
      Math.max(0, Date.now() / 1000 - newest),
    );

    if (this.cfg.idempotency) deliveries = await this.dropDuplicates(deliveries);
    if (!deliveries.length) return;

    this.inFlight += deliveries.length;
    const held: HeldBatch = { physical, deliveries, open: deliveries.length };
    for (let i = 0; i < deliveries.length; i++) deliveries[i].held = held;
    this.held.add(held);
    this.dispatching = true;
    try {
      await this.handler(deliveries);
    } catch (err) {
      const reason = errorMessage(err);
      for (const d of deliveries) d.fail(reason);
    } finally {
      this.dispatching = false;
    }
  }

  /** The first field value over `maxEntryBytes` (entries read through ioredis or in memory). */
  private oversized(fields: Fields): RawEntry['tooLarge'] {
    const max = this.cfg.maxEntryBytes;
    for (let i = 1; i < fields.length; i += 2) {
      const v = fields[i];
      // UTF-8 takes 1-3 bytes per UTF-16 unit here: count bytes only when the length is ambiguous.
      if (v.length > max || (v.length * 3 > max && Buffer.byteLength(v) > max))
        return { field: fields[i - 1], bytes: Buffer.byteLength(v) };
    }
    return undefined;
  }

  /** Dead-letters an entry with an oversized field, keeping its small fields only (never the big one). */
  private deadLetterTooLarge(
    physical: string,
    e: RawEntry,
    big: NonNullable<RawEntry['tooLarge']>,
  ): void {
    const small: Fields = [];
    const fields = e.fields ?? [];
    for (let i = 0; i + 1 < fields.length; i += 2)
      if (fields[i] !== big.field) small.push(fields[i], fields[i + 1]);
    this.toDeadLetter(
      physical,
      e.id,
      small,
      `too large: field ${big.field} is ${big.bytes} bytes (max ${this.cfg.maxEntryBytes}); not parsed, not copied (the entry stays in the source stream until trimmed)`,
      e.deliveryCount,
    );
    this.tally.add(trackOf(small), 'dead_letter');
  }

  private async dropDuplicates(
    deliveries: PulseDelivery<unknown>[],
  ): Promise<PulseDelivery<unknown>[]> {
    const seen = await this.cfg.idempotency!.seen(deliveries.map((d) => d.envelope.id));
    const inBatch = new Set<string>();
    const fresh: PulseDelivery<unknown>[] = [];
    for (let i = 0; i < deliveries.length; i++) {
      const d = deliveries[i];
      if (seen[i] || inBatch.has(d.envelope.id)) {
        d.settled = true;
        this.pushAck(d.physical, d.entryId);
        this.tally.add(d.envelope.meta.track, 'duplicate');
      } else {
        inBatch.add(d.envelope.id);
        fresh.push(d);
      }
    }
    return fresh;
  }

  private async updateGroupStats(): Promise<void> {
    let pending = 0;
    let lag: number | null = 0;
    for (const s of this.cfg.statsStreams ?? this.cfg.physical) {
      const stats = await this.deps.transport.groupStats(s, this.cfg.group);
      pending += stats.pending;
      lag = lag === null || stats.lag === null ? null : lag + stats.lag;
    }
    const labels = { stream: this.cfg.metricStream, group: this.cfg.group };
    this.deps.metrics.groupPending.set(labels, pending);
    if (lag !== null) this.deps.metrics.groupLag.set(labels, lag);
  }

  // ---- shutdown ----

  stopReading(): Promise<void> {
    if (!this.readsDone) {
      this.readingStopped = true;
      this.readsDone = new Promise((resolve) => (this.markReadsDone = resolve));
      this.wakePause?.();
      this.capacityWaiter?.();
    }
    return this.readsDone;
  }

  close(): Promise<void> {
    if (!this.closed) this.closed = this.shutdown();
    return this.closed;
  }

  /** Stops at once without flushing anything: unacked work stays pending (crash semantics). */
  abandon(): void {
    this.abandoned = true;
    this.closing = true;
    this.stopTimers();
    this.dlq = [];
    this.acks = new Map();
    this.capacityWaiter?.();
    this.reader.close();
    this.closed ??= Promise.resolve();
    this.deps.outage?.forget(this);
    this.onClosed(this);
  }

  private stopTimers(): void {
    clearInterval(this.heartbeat);
    if (this.lateFlush) clearTimeout(this.lateFlush);
    this.lateFlush = undefined;
  }

  private async shutdown(): Promise<void> {
    this.closing = true;
    this.markReadsDone?.();
    this.stopTimers();
    this.capacityWaiter?.();
    this.wakePause?.();
    // Interrupts a blocked read; whatever it was being handed stays pending for another consumer.
    this.reader.close();
    try {
      // A command caught by a connection that cannot come back (revoked credentials) never settles:
      // after the grace, what is unacked stays pending, as after a crash.
      await withinGrace(this.loop.then(() => this.flush()));
    } catch (err) {
      this.deps.logger?.warn(
        { err: errorMessage(err), stream: this.cfg.metricStream },
        'pulse: final ack flush failed; entries stay pending',
      );
    }
    this.deps.outage?.forget(this);
    this.onClosed(this);
  }
}

/** Roughly the most entry bytes one read asks for (COUNT shrinks when entries are large). */
const MAX_READ_BYTES = 8 * 1024 * 1024;

/** How long settled acks may wait for a read to carry them while the handler is busy. */
const LATE_FLUSH_MS = 20;

/** How long `close()` waits for the loop and the final flush. */
const CLOSE_GRACE_MS = 5000;

function withinGrace<T>(work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`not done within ${CLOSE_GRACE_MS} ms`)),
      CLOSE_GRACE_MS,
    );
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

function trackOf(fields: Fields): string {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === 'track') return fields[i + 1];
  return 'unknown';
}
