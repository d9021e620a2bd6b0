import type { SchemaTrack } from '@mdp/contracts';

/** The bus's defaults where options leave a value out (README "Options"). */
export const DEFAULTS = {
  namespace: 'mdp',
  track: 'v1' as SchemaTrack,
  batchSize: 500,
  blockMs: 1000,
  maxDeliveries: 5,
  minIdleMs: 30_000,
  idempotencyCacheSize: 10_000,
  readAhead: 2,
  idempotencyTtlSec: 7 * 24 * 3600,
  maxEntryBytes: 1024 * 1024,
};
