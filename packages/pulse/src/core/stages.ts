/**
 * What a consumer does with the entries it reads, in order. The consumer loop (`consumer-loop.ts`)
 * reads, reclaims and recovers entries and hands each batch to `runStages`:
 *
 *   per entry (ENTRY_STAGES; the first stage to refuse an entry decides its fate)
 *     1. trimmed       gone from the stream while pending        -> ack
 *     2. deliveryCap   redelivered more than maxDeliveries times  -> dead letter
 *     3. sizeCap       a field over maxEntryBytes                 -> dead letter, unparsed
 *     4. decode        signature verify + zod validate            -> poison: dead letter
 *     5. schemaCheck   a schema this stream does not carry        -> poison: dead letter
 *   per batch
 *     6. dedup         envelope id already handled (idempotency)  -> ack, counted `duplicate`
 *     7. handler       user middleware (retry, timeout) + handler -> each delivery settled, now or later
 *     8. settle        ack: mark + ack; fail: redelivery, or dead letter after maxDeliveries
 *     9. metrics       outcomes counted here, sent by the outbox's drain (see `outbox.ts`)
 *
 * Everything a stage owes Redis (acks, dead-letter moves, idempotency marks) goes to the outbox,
 * which sends it in one order. The stages add no closure or promise per entry: the hot path allocates
 * what decoding needs and the delivery itself.
 */
import type { EventEnvelope } from '@mdp/contracts';
import { decodeCoreEntry, decodeEntry, fieldOf, FIELD, type Fields } from '../wire/wire';
import { PulseDelivery, type Holder, type Settlement } from './delivery';
import type { IdempotencyStore } from './idempotency';
import type { PulseMetrics } from './metrics';
import { errorMessage } from './middleware';
import type { Outbox } from './outbox';
import type { RawEntry } from './transport';
import type { BatchHandler, WireLayout } from './types';

export interface StageConfig {
  /** Logical stream (Delivery.stream). */
  stream: string;
  /** Metric label: `<namespace>.<stream>`. */
  metricStream: string;
  maxDeliveries: number;
  /** Field values over this many bytes: the entry is dead-lettered as too large, unparsed. */
  maxEntryBytes: number;
  wire: WireLayout;
  token?: string;
  /** Accepted `meta.schema_id`s; undefined: any. */
  schemaIds?: ReadonlySet<string>;
  idempotency?: IdempotencyStore;
}

/** What the stages need from the consumer running them. */
export interface StageContext extends Holder {
  readonly cfg: StageConfig;
  readonly outbox: Outbox;
  readonly metrics: PulseMetrics;
  readonly handler: BatchHandler<unknown>;
  /** The handler stage takes these deliveries: the consumer holds them until each is settled. */
  hold(physical: string, deliveries: PulseDelivery<unknown>[]): void;
  /** The handler has returned (its deliveries may still be unsettled). */
  handed(): void;
}

/** An entry a stage refuses: acked as it is, or dead-lettered with `fields` and `reason`. */
type Refusal = typeof ACK | { reason: string; fields: Fields; track: string };
const ACK = 'ack';

/** What the entry stages learn about the entry that passes them. */
interface Admitted {
  envelope?: EventEnvelope<unknown>;
}

type EntryStage = (e: RawEntry, admitted: Admitted, cfg: StageConfig) => Refusal | undefined;

/** 1. An entry trimmed while pending has nothing left to deliver: ack its id. */
const trimmed: EntryStage = (e) => (e.fields === null ? ACK : undefined);

/** 2. Redelivered too often without an ack (read again on recovery or claimed as idle). */
const deliveryCap: EntryStage = (e, _, cfg) =>
  e.deliveryCount > cfg.maxDeliveries
    ? {
        reason: `delivered ${e.deliveryCount} times without an ack (max ${cfg.maxDeliveries}): consumers died or timed out handling it`,
        fields: e.fields!,
        track: trackOf(e.fields!),
      }
    : undefined;

/** 3. A field over `maxEntryBytes`: dead-lettered with its small fields only, never parsed or copied. */
const sizeCap: EntryStage = (e, _, cfg) => {
  const big = e.tooLarge ?? oversized(e.fields!, cfg.maxEntryBytes);
  if (!big) return undefined;
  const small: Fields = [];
  const fields = e.fields!;
  for (let i = 0; i + 1 < fields.length; i += 2)
    if (fields[i] !== big.field) small.push(fields[i], fields[i + 1]);
  return {
    reason: `too large: field ${big.field} is ${big.bytes} bytes (max ${cfg.maxEntryBytes}); not parsed, not copied (the entry stays in the source stream until trimmed)`,
    fields: small,
    track: trackOf(small),
  };
};

/** 4. JSON, envelope shape, payload schema for (schema_id, track) and the signature. */
const decode: EntryStage = (e, admitted, cfg) => {
  const decoded =
    cfg.wire === 'core'
      ? decodeCoreEntry(e.fields!, e.id, cfg.token)
      : decodeEntry(e.fields!, cfg.token);
  if (decoded.ok) {
    admitted.envelope = decoded.envelope;
    return undefined;
  }
  return {
    reason: `poison: ${decoded.reason}`,
    fields: e.fields!,
    track: decoded.track ?? 'unknown',
  };
};

/** 5. A stream carries the schemas its subscription names (the catalogue's); any other is poison. */
const schemaCheck: EntryStage = (e, admitted, cfg) => {
  const meta = admitted.envelope!.meta;
  if (!cfg.schemaIds || cfg.schemaIds.has(meta.schema_id)) return undefined;
  const expected = [...cfg.schemaIds].join(' | ');
  return {
    reason: `poison: unexpected schema "${meta.schema_id}" on ${cfg.stream} (expected ${expected})`,
    fields: e.fields!,
    track: meta.track,
  };
};

export const ENTRY_STAGES: readonly EntryStage[] = [
  trimmed,
  deliveryCap,
  sizeCap,
  decode,
  schemaCheck,
];

/** Runs a batch read from `physical` through every stage. */
export async function runStages(
  ctx: StageContext,
  physical: string,
  entries: RawEntry[],
): Promise<void> {
  let deliveries = admit(ctx, physical, entries);
  if (!deliveries.length) return;
  observeLag(ctx, deliveries);
  if (ctx.cfg.idempotency) deliveries = await dedup(ctx, deliveries);
  if (!deliveries.length) return;
  await handle(ctx, physical, deliveries);
}

/** Stages 1-5 over each entry: the deliveries that passed; the outbox gets the refused. */
function admit(ctx: StageContext, physical: string, entries: RawEntry[]): PulseDelivery<unknown>[] {
  const { cfg, outbox } = ctx;
  const deliveries: PulseDelivery<unknown>[] = [];
  const admitted: Admitted = {};
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i];
    let refusal: Refusal | undefined;
    for (let s = 0; s < ENTRY_STAGES.length && !refusal; s++)
      refusal = ENTRY_STAGES[s](e, admitted, cfg);
    if (!refusal) {
      deliveries.push(
        new PulseDelivery(admitted.envelope!, cfg.stream, e.id, e.deliveryCount, physical, ctx),
      );
    } else if (refusal === ACK) {
      outbox.ack(physical, e.id);
    } else {
      outbox.deadLetter(physical, e.id, refusal.fields, refusal.reason, e.deliveryCount);
      outbox.count(refusal.track, 'dead_letter');
    }
  }
  return deliveries;
}

/** 9 (metrics, in part): how far behind the newest delivery is. */
function observeLag(ctx: StageContext, deliveries: PulseDelivery<unknown>[]): void {
  const newest = deliveries[deliveries.length - 1].envelope.ts;
  ctx.metrics.lagSeconds.set(
    { stream: ctx.cfg.metricStream },
    Math.max(0, Date.now() / 1000 - newest),
  );
}

/** 6. Envelope ids handled before (or twice in this batch) are acked, not handed out. */
async function dedup(
  ctx: StageContext,
  deliveries: PulseDelivery<unknown>[],
): Promise<PulseDelivery<unknown>[]> {
  const seen = await ctx.cfg.idempotency!.seen(deliveries.map((d) => d.envelope.id));
  const inBatch = new Set<string>();
  const fresh: PulseDelivery<unknown>[] = [];
  for (let i = 0; i < deliveries.length; i++) {
    const d = deliveries[i];
    if (seen[i] || inBatch.has(d.envelope.id)) {
      d.settled = true;
      ctx.outbox.ack(d.physical, d.entryId);
      ctx.outbox.count(d.envelope.meta.track, 'duplicate');
    } else {
      inBatch.add(d.envelope.id);
      fresh.push(d);
    }
  }
  return fresh;
}

/** 7. The handler (wrapped in the user's middleware); a throw fails what it left unsettled. */
async function handle(
  ctx: StageContext,
  physical: string,
  deliveries: PulseDelivery<unknown>[],
): Promise<void> {
  ctx.hold(physical, deliveries);
  try {
    await ctx.handler(deliveries);
  } catch (err) {
    const reason = errorMessage(err);
    for (const d of deliveries) d.fail(reason);
  } finally {
    ctx.handed();
  }
}

/** 8. What an ack, a failure or a dead-letter call owes the outbox (called by the holding consumer). */
export function settle(
  ctx: StageContext,
  d: PulseDelivery<unknown>,
  how: Settlement,
  reason: string,
): void {
  const { outbox, cfg } = ctx;
  const track = d.track;
  if (how === 'ack') {
    outbox.handled(d.physical, d.entryId, d.envelopeId);
    outbox.count(track, 'success');
    return;
  }
  if (how === 'fail' && d.deliveryCount < cfg.maxDeliveries) {
    // Left pending: redelivered through a reclaim once idle for minIdleMs.
    outbox.count(track, 'error');
    return;
  }
  const why =
    how === 'fail'
      ? `failed ${d.deliveryCount} of ${cfg.maxDeliveries} allowed deliveries: ${reason}`
      : reason;
  outbox.deadLetter(d.physical, d.entryId, null, why, d.deliveryCount);
  outbox.count(track, 'dead_letter');
}

/** The first field value over `max` bytes (entries read through ioredis or in memory). */
function oversized(fields: Fields, max: number): RawEntry['tooLarge'] {
  for (let i = 1; i < fields.length; i += 2) {
    const v = fields[i];
    // UTF-8 takes 1-3 bytes per UTF-16 unit here: count bytes only when the length is ambiguous.
    if (v.length > max || (v.length * 3 > max && Buffer.byteLength(v) > max))
      return { field: fields[i - 1], bytes: Buffer.byteLength(v) };
  }
  return undefined;
}

function trackOf(fields: Fields): string {
  return fieldOf(fields, FIELD.track) ?? 'unknown';
}
