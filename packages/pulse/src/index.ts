export * from './core/types';
export { createEventBus } from './create-event-bus';
export { DEFAULTS } from './core/defaults';
export type { PulseBus, DeadLetter, ReadDeadLettersOptions } from './core/bus';
export { createEnvelope, envelopeFor, payloadForV1 } from './wire/envelope';
export type { CreateEnvelopeOptions } from './wire/envelope';
export { OutageLog, causeOf } from './core/outage-log';
export type { OutageMessages } from './core/outage-log';
export { MemoryIdempotencyStore, SharedIdempotencyStore } from './core/idempotency';
export type { IdempotencyStore } from './core/idempotency';
export { InMemoryStreams } from './inmem/inmem-transport';
export { PulseMetrics } from './core/metrics';
export type { ConsumeOutcome, PublishOutcome } from './core/metrics';
export { compose, perMessage, retry, timeout } from './core/middleware';
export type { RetryOptions } from './core/middleware';
export {
  assignPartitions,
  coreStream,
  dlqStream,
  partitionOf,
  partitionStream,
  physicalStream,
  physicalStreams,
} from './core/names';
export { SIGNATURE_HEADER, canonicalJson, signEnvelope, signatureOf } from './wire/signing';
export type { GroupStats, StreamInfo } from './core/transport';
export {
  CORE_FIELD,
  DLQ_FIELD,
  FIELD,
  decodeCoreEntry,
  decodeEntry,
  encodeCoreEntry,
  encodeEntry,
} from './wire/wire';
export type { DecodedEntry, Fields } from './wire/wire';
export { parseClusterNodes } from './redis/cluster-route';
export type { NodeAddress } from './redis/cluster-route';
export { calculateSlot } from './redis/slot';
export { sleep } from './core/sleep';
