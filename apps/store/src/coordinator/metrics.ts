import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The coordinator's mds_* metrics; created once per registry so several coordinators can share it. */
export interface CoordinatorMetrics {
  itemsSubmitted: Counter<'coord_id'>;
  itemsDropped: Counter<'coord_id' | 'reason'>;
  queueDepth: Gauge<'coord_id'>;
  queueCapacity: Gauge<'coord_id'>;
  workersAlive: Gauge<'coord_id'>;
  circuitState: Gauge<'coord_id'>;
  batchesWritten: Counter<'coord_id' | 'worker_id'>;
  writeErrors: Counter<'coord_id' | 'worker_id' | 'error_type'>;
  writeLatency: Histogram<'coord_id' | 'worker_id'>;
  rowsWritten: Counter<'coord_id'>;
  rowsChanged: Counter<'sink'>;
  dlqRecords: Counter<'sink'>;
  feedbackEvents: Counter<'coordinator_id' | 'level'>;
}

const cache = new WeakMap<Registry, CoordinatorMetrics>();

export function coordinatorMetrics(registry: Registry): CoordinatorMetrics {
  const existing = cache.get(registry);
  if (existing) return existing;
  const registers = [registry];
  const metrics: CoordinatorMetrics = {
    itemsSubmitted: new Counter({
      name: 'mds_coord_items_submitted_total',
      help: 'Items submitted to the write coordinator',
      labelNames: ['coord_id'],
      registers,
    }),
    itemsDropped: new Counter({
      name: 'mds_coord_items_dropped_total',
      help: 'Items dropped by the overflow strategy',
      labelNames: ['coord_id', 'reason'],
      registers,
    }),
    queueDepth: new Gauge({
      name: 'mds_coord_queue_depth',
      help: 'Items waiting in the coordinator queue',
      labelNames: ['coord_id'],
      registers,
    }),
    queueCapacity: new Gauge({
      name: 'mds_coord_queue_capacity',
      help: 'Items the coordinator queue holds before its overflow strategy applies',
      labelNames: ['coord_id'],
      registers,
    }),
    workersAlive: new Gauge({
      name: 'mds_coord_workers_alive',
      help: 'Sink workers running',
      labelNames: ['coord_id'],
      registers,
    }),
    circuitState: new Gauge({
      name: 'mds_coord_circuit_state',
      help: 'Circuit breaker state: 0 closed, 1 open, 2 half-open',
      labelNames: ['coord_id'],
      registers,
    }),
    batchesWritten: new Counter({
      name: 'mds_worker_batches_written_total',
      help: 'Batches written by sink workers',
      labelNames: ['coord_id', 'worker_id'],
      registers,
    }),
    writeErrors: new Counter({
      name: 'mds_worker_write_errors_total',
      help: 'Failed batch writes by error type',
      labelNames: ['coord_id', 'worker_id', 'error_type'],
      registers,
    }),
    writeLatency: new Histogram({
      name: 'mds_worker_write_latency_seconds',
      help: 'Time to write one batch, retries included',
      labelNames: ['coord_id', 'worker_id'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    rowsWritten: new Counter({
      name: 'mds_coord_items_written_total',
      help: 'Items durably written',
      labelNames: ['coord_id'],
      registers,
    }),
    rowsChanged: new Counter({
      name: 'mds_rows_changed_total',
      help: 'Rows the upsert inserted or actually changed (an identical replay changes none; a rewrite of history shows here)',
      labelNames: ['sink'],
      registers,
    }),
    dlqRecords: new Counter({
      name: 'mds_dlq_records_total',
      help: 'Items written to the dead-letter file',
      labelNames: ['sink'],
      registers,
    }),
    feedbackEvents: new Counter({
      name: 'mds_feedback_events_total',
      help: 'Backpressure feedback events emitted',
      labelNames: ['coordinator_id', 'level'],
      registers,
    }),
  };
  cache.set(registry, metrics);
  return metrics;
}
