/**
 * The consumer loop shared by both backends, one per subscription (or per partition on a cluster):
 *
 *   recover own pending (on start) -> reclaim other consumers' idle entries + prune idle consumers
 *   (every reclaimIntervalMs) -> read (XREADGROUP COUNT/BLOCK, reads ahead while entries flow, the
 *   outbox's acks in the same round trip) -> `runStages` (see `stages.ts`) -> heartbeat -> shutdown
 *
 * What this consumer holds (handed to the handler, unsettled) or has settled without the ack or
 * dead-letter move having landed is never claimed again, and a heartbeat (XCLAIM JUSTID every
 * `reclaimIntervalMs`) keeps it from looking idle to other consumers: a delivery count only grows
 * when an entry is handed to a handler again.
 *
 * The number of unsettled deliveries is capped by `maxInFlight`: at the cap the loop stops reading.
 */
import { HeldBatches, type HeldBatch, type PulseDelivery, type Settlement } from './delivery';
import type { PulseMetrics } from './metrics';
import { errorMessage } from './middleware';
import type { OutageLog } from './outage-log';
import { Outbox } from './outbox';
import { runStages, settle, type StageConfig, type StageContext } from './stages';
import type { RawEntry, StreamBatch, Transport, TransportReader } from './transport';
import type { BatchHandler, PulseLogger, Subscription } from './types';

export interface ConsumerConfig extends StageConfig {
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
  minIdleMs: number;
  reclaimIntervalMs: number;
  /** XREADGROUP calls kept in flight on the reader connection while entries flow. */
  readAhead: number;
  startFrom: '0' | '$';
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

export class Consumer implements Subscription, StageContext {
  readonly outbox: Outbox;
  readonly metrics: PulseMetrics;
  private readonly reader: TransportReader;
  private readonly heartbeat: NodeJS.Timeout;
  private touching = false;
  private lateFlush?: NodeJS.Timeout;
  private inFlight = 0;
  /**
   * Batches with unsettled deliveries: a reclaim must not hand those entries out twice. Kept per
   * batch (not per id) so the hot path only counts; the id set is built when a reclaim needs it.
   */
  private readonly held = new HeldBatches();
  private readonly claimCursor = new Map<string, string>();
  private dispatching = false;
  private flushScheduled = false;
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
    readonly cfg: ConsumerConfig,
    private readonly deps: ConsumerDeps,
    readonly handler: BatchHandler<unknown>,
    private readonly onClosed: (c: Consumer) => void,
  ) {
    this.metrics = deps.metrics;
    this.outbox = new Outbox(cfg, deps);
    this.reader = deps.transport.reader(cfg.readerName);
    this.heartbeat = setInterval(() => this.touchHeld(), cfg.reclaimIntervalMs);
    this.heartbeat.unref();
    this.loop = this.run();
  }

  // ---- holding and settling (StageContext; settling may come long after the handler returned) ----

  hold(physical: string, deliveries: PulseDelivery<unknown>[]): void {
    this.inFlight += deliveries.length;
    const held: HeldBatch = { physical, deliveries, open: deliveries.length };
    for (let i = 0; i < deliveries.length; i++) deliveries[i].held = held;
    this.held.add(held);
    this.dispatching = true;
  }

  handed(): void {
    this.dispatching = false;
  }

  settled(d: PulseDelivery<unknown>, how: Settlement, reason: string): void {
    this.inFlight--;
    const held = d.held;
    if (held && --held.open === 0) this.held.delete(held);
    settle(this, d, how, reason);
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
        if (this.outbox.queued) this.scheduleFlush();
      }, LATE_FLUSH_MS);
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
    this.outbox.addOwed(physical, ids);
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

  private scheduleFlush(): void {
    if (this.flushScheduled || this.abandoned) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush().catch((err) => this.loopFailed(err));
    });
  }

  /** Drains the outbox and sends its acks alone. */
  flush(): Promise<void> {
    return this.outbox.flush();
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
    for (const b of batches) await runStages(this, b.stream, b.entries);
  }

  /** The reads' preparation, chained so reads reach the connection in the order they were issued. */
  private readQueue: Promise<unknown> = Promise.resolve();

  /** XREADGROUP `>` with the outbox's acks in the same round trip (after the rest of its drain). */
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
    const acks = await this.outbox.drain();
    const block = Math.max(1, Math.min(this.cfg.blockMs, this.nextReclaimAt - Date.now()));
    const batches = this.outbox.send(
      acks,
      this.reader.readNew({
        streams: this.cfg.physical,
        group: this.cfg.group,
        consumer: this.cfg.consumer,
        count,
        blockMs: block,
        acks,
      }),
    );
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
        const entries = await this.reader.readOwnPending({
          stream,
          group: this.cfg.group,
          consumer: this.cfg.consumer,
          afterId: after,
          count: this.cfg.batchSize,
        });
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
        const res = await this.reader.claimIdle({
          stream,
          group: this.cfg.group,
          consumer: this.cfg.consumer,
          minIdleMs: this.cfg.minIdleMs,
          cursor,
          count: Math.min(this.cfg.batchSize, room),
          exclude: this.keptIds(stream),
        });
        cursor = res.cursor;
        // Trimmed while pending: nothing left to deliver, so ack the ids.
        for (const id of res.deleted) this.outbox.ack(stream, id);
        await this.processRedelivered(stream, res.entries);
      } while (cursor !== '0-0' && cursor !== '0');
      this.claimCursor.set(stream, cursor);
    }
  }

  /**
   * Consumers of instances that are gone stay in the group forever (names are per instance). Once
   * idle for the grace period, holding nothing (their pending entries were reclaimed) and silent (no
   * beat: each pruning consumer records its own beat in the same call, every grace / 2), they go.
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

  /** Entries read again (own pending on recovery, or claimed): those this consumer keeps are skipped. */
  private async processRedelivered(stream: string, entries: RawEntry[]): Promise<void> {
    const holding = this.keptIds(stream);
    const fresh = entries.filter((e) => !holding.has(e.id));
    if (fresh.length) await runStages(this, stream, fresh);
    await this.flush();
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
    this.outbox.abandon();
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
