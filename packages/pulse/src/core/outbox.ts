/**
 * The outbox of one consumer: what settled deliveries owe Redis (acks, dead-letter moves, idempotency
 * marks) and the outcome counts, sent in batches. It is drained in ONE order, whoever drains it:
 *
 *   idempotency marks durable -> outcome metrics -> dead-letter moves -> acks
 *
 * An ack must never land before the mark that keeps a redelivery from being handled twice, and a dead
 * letter is acked by its own MULTI. The acks go out alone (`flush`) or in the round trip of the next
 * read (`send` with the read); on failure they go back into the outbox.
 */
import type { IdempotencyStore } from './idempotency';
import type { ConsumeOutcome, PulseMetrics } from './metrics';
import { OutcomeTally } from './metrics';
import { dlqStream } from './names';
import type { AckMap, DeadLetterMove, Transport } from './transport';
import type { PulseLogger } from './types';
import { dlqFields, type Fields } from '../wire/wire';

export interface OutboxConfig {
  group: string;
  consumer: string;
  /** Metric label: `<namespace>.<stream>`. */
  metricStream: string;
  idempotency?: IdempotencyStore;
}

export interface OutboxDeps {
  transport: Transport;
  metrics: PulseMetrics;
  logger?: PulseLogger;
}

/** A dead-letter move to send with the next drain. */
interface PendingDeadLetter {
  physical: string;
  entryId: string;
  /** null: read the entry back from the stream when the move is sent. */
  fields: Fields | null;
  reason: string;
  attempts: number;
  /** Epoch ms. */
  failedAt: number;
}

export class Outbox {
  private readonly tally = new OutcomeTally();
  private acks: AckMap = new Map();
  private dlq: PendingDeadLetter[] = [];
  /** Acks and dead-letter moves on their way to Redis (settled, not yet confirmed). */
  private readonly sendingAcks = new Set<AckMap>();
  private readonly sendingDlq = new Set<PendingDeadLetter[]>();
  private flushChain: Promise<void> = Promise.resolve();
  private abandoned = false;

  constructor(
    private readonly cfg: OutboxConfig,
    private readonly deps: OutboxDeps,
  ) {}

  /** Whether anything waits to be sent. */
  get queued(): boolean {
    return this.acks.size > 0 || this.dlq.length > 0;
  }

  /** A handled delivery: its idempotency mark, then its ack. */
  handled(physical: string, entryId: string, envelopeId: string): void {
    this.cfg.idempotency?.mark(envelopeId);
    this.ack(physical, entryId);
  }

  /** An entry to ack without handling (trimmed while pending, a duplicate). */
  ack(physical: string, entryId: string): void {
    const list = this.acks.get(physical);
    if (list) list.push(entryId);
    else this.acks.set(physical, [entryId]);
  }

  /** `fields` null: read the entry back from the stream when the move is sent. */
  deadLetter(
    physical: string,
    entryId: string,
    fields: Fields | null,
    reason: string,
    attempts: number,
  ): void {
    this.dlq.push({ physical, entryId, fields, reason, attempts, failedAt: Date.now() });
  }

  count(track: string, outcome: ConsumeOutcome): void {
    this.tally.add(track, outcome);
  }

  /** Adds the ids of `physical` whose ack or dead-letter move is queued or on its way. */
  addOwed(physical: string, ids: Set<string>): void {
    for (const acks of [this.acks, ...this.sendingAcks])
      for (const id of acks.get(physical) ?? []) ids.add(id);
    for (const moves of [this.dlq, ...this.sendingDlq])
      for (const m of moves) if (m.physical === physical) ids.add(m.entryId);
  }

  /**
   * Drains the outbox in its one order and returns the acks to send: the caller passes them to `send`
   * with the command that carries them.
   */
  async drain(): Promise<AckMap> {
    const acks = this.acks;
    this.acks = new Map();
    // Still this consumer's while they travel: a reclaim must not take them (see `addOwed`).
    if (acks.size) this.sendingAcks.add(acks);
    try {
      await this.cfg.idempotency?.flush();
      this.tally.flush(this.deps.metrics.consumeTotal, this.cfg.metricStream);
      await this.sendDeadLetters();
    } catch (err) {
      this.sendingAcks.delete(acks);
      this.requeue(acks);
      throw err;
    }
    return acks;
  }

  /** `sending` carries `acks` (from `drain`): on failure they go back into the outbox. */
  send<T>(acks: AckMap, sending: Promise<T>): Promise<T> {
    return sending
      .catch((err: unknown) => {
        this.requeue(acks);
        throw err;
      })
      .finally(() => this.sendingAcks.delete(acks));
  }

  /** Drains the outbox and sends its acks alone. Serialised. */
  flush(): Promise<void> {
    const run = async () => {
      if (this.abandoned) return;
      const acks = await this.drain();
      if (acks.size) await this.send(acks, this.deps.transport.ack(this.cfg.group, acks));
    };
    this.flushChain = this.flushChain.catch(() => undefined).then(run);
    return this.flushChain;
  }

  /** Drops everything queued and sends nothing more (crash semantics). */
  abandon(): void {
    this.abandoned = true;
    this.dlq = [];
    this.acks = new Map();
  }

  private requeue(acks: AckMap): void {
    for (const [stream, ids] of acks) for (const id of ids) this.ack(stream, id);
  }

  private async sendDeadLetters(): Promise<void> {
    if (!this.dlq.length) return;
    const pending = this.dlq;
    this.dlq = [];
    this.sendingDlq.add(pending);
    try {
      await this.deps.transport.deadLetter(this.cfg.group, await this.moves(pending));
    } catch (err) {
      this.dlq.unshift(...pending);
      throw err;
    } finally {
      this.sendingDlq.delete(pending);
    }
  }

  private async moves(pending: PendingDeadLetter[]): Promise<DeadLetterMove[]> {
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
          this.ack(p.physical, p.entryId);
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
}
