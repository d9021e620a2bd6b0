/**
 * Settings for bulk ingestion (backfills, benchmarks): bigger batches, and a larger queue that
 * absorbs bursts. The defaults favour latency. Any of these can be set as environment variables.
 */
export const THROUGHPUT_SETTINGS: Readonly<Record<string, string>> = {
  MDS_COORDINATOR_CAPACITY: '10000',
  MDS_COORDINATOR_WORKERS: '4',
  MDS_COORDINATOR_BATCH_SIZE: '2500',
  MDS_COORDINATOR_FLUSH_INTERVAL: '0.05',
  MDS_INGEST_BATCH_SIZE: '2000',
  MDS_INGEST_BLOCK_MS: '100',
};
