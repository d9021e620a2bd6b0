export * from './types';
export { createEventBus, DEFAULTS } from './bus';
export type { PulseBus, DeadLetter, ReadDeadLettersOptions } from './bus';
export { createEnvelope, envelopeFor, payloadForV1 } from './envelope';
export type { CreateEnvelopeOptions } from './envelope';
export { OutageLog, causeOf } from './outage-log';
export type { OutageMessages } from './outage-log';
export { MemoryIdempotencyStore, SharedIdempotencyStore } from './idempotency';
export type { IdempotencyStore } from './idempotency';
export { InMemoryStreams } from './inmem-transport';
export { PulseMetrics } from './metrics';
export type { ConsumeOutcome, PublishOutcome } from './metrics';
export { compose, perMessage, retry, timeout } from './middleware';
export type { RetryOptions } from './middleware';
export {
  assignPartitions,
  coreStream,
  dlqStream,
  partitionOf,
  partitionStream,
  physicalStream,
  physicalStreams,
} from './names';
export { SIGNATURE_HEADER, canonicalJson, signEnvelope, signatureOf } from './signing';
export type { GroupStats, StreamInfo } from './transport';
export {
  CORE_FIELD,
  DLQ_FIELD,
  FIELD,
  decodeCoreEntry,
  decodeEntry,
  encodeCoreEntry,
  encodeEntry,
} from './wire';
export type { DecodedEntry, Fields } from './wire';
export { parseClusterNodes } from './cluster-route';
export type { NodeAddress } from './cluster-route';
export { calculateSlot } from './slot';
export { sleep } from './sleep';
