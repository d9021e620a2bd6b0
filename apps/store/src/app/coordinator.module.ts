import { Inject, Injectable, Module } from '@nestjs/common';
import { CircuitState } from 'cockatiel';
import { Registry } from 'prom-client';
import { HealthCheckResult, HealthRegistry, Logger } from '@mdp/service-kit';
import type { StoreEnv } from '../config/store-config';
import { coordinatorMetrics } from '../coordinator/metrics';
import { WriteCoordinator } from '../coordinator/write-coordinator';
import { RejectFiles } from '../rejects/reject-files';
import { FeedbackEmitter } from '../feedback/feedback-emitter';
import { isRetryableDbError } from '../sinks/errors';
import type { SqlClient } from '@mdp/sql';
import { FaultySink, sinkFaultsActive, SinkFaults, withSinkFaults } from '../sinks/sink-faults';
import { StoreItem, StoreSink } from '../sinks/store-sink';
import { SINK_KINDS } from '../sinks/tables';
import { StoreWriter } from '../store-writer';
import { RejectFilesModule } from './reject-files.module';
import { FeedbackModule } from './feedback.module';
import { SQL_CLIENT, WRITE_COORDINATOR } from './tokens';
import { SERVICE_CONFIG, SERVICE_LOGGER } from '@mdp/service-kit';

export function createStoreCoordinator(
  env: StoreEnv,
  db: SqlClient,
  rejects: RejectFiles,
  feedback: FeedbackEmitter,
  registry: Registry,
  log?: Logger,
): WriteCoordinator<StoreItem> {
  const faults = sinkFaultsOf(env);
  if (sinkFaultsActive(faults))
    log?.warn({ faults }, 'fault injection: the sink is slowed down on purpose (MDS_FAULT_SINK_*)');
  const rowsChanged = coordinatorMetrics(registry).rowsChanged;
  for (const sink of SINK_KINDS) rowsChanged.inc({ sink }, 0);
  const sink = withSinkFaults(
    new StoreSink(db, {
      copyMinRows: env.MDS_COPY_MIN_ROWS,
      onWritten: (sink, result) => rowsChanged.inc({ sink }, result.changed),
    }),
    faults,
    env.MDS_FAULT_SINK_ADMIN,
  );
  const coordinator = new WriteCoordinator<StoreItem>({
    id: env.MDS_COORDINATOR_ID,
    sink,
    deadLetter: (items, error, attempts) => rejects.recordItems(items, error, attempts),
    isRetryable: isRetryableDbError,
    onSettled: (items, outcome) => {
      for (const item of items) item.settle?.(outcome);
    },
    feedback,
    capacity: env.MDS_COORDINATOR_CAPACITY,
    highWatermark: env.MDS_COORDINATOR_HIGH_WATERMARK,
    lowWatermark: env.MDS_COORDINATOR_LOW_WATERMARK,
    overflow: env.MDS_COORDINATOR_OVERFLOW,
    workers: env.MDS_COORDINATOR_WORKERS,
    batchSize: env.MDS_COORDINATOR_BATCH_SIZE,
    flushIntervalMs: env.MDS_COORDINATOR_FLUSH_INTERVAL * 1000,
    retry: {
      maxAttempts: env.MDS_RETRY_MAX_ATTEMPTS,
      initialBackoffMs: env.MDS_RETRY_INITIAL_BACKOFF_MS,
      maxBackoffMs: env.MDS_RETRY_MAX_BACKOFF_MS,
      multiplier: env.MDS_RETRY_BACKOFF_MULTIPLIER,
      jitter: env.MDS_RETRY_JITTER,
    },
    breaker: {
      failureThreshold: env.MDS_CB_FAILURE_THRESHOLD,
      halfOpenAfterMs: env.MDS_CB_HALF_OPEN_AFTER_SEC * 1000,
      halfOpenMaxMs: env.MDS_CB_HALF_OPEN_MAX_SEC * 1000,
    },
    registry,
    logger: log,
    feedbackMinDwellMs: env.MDS_FB_MIN_DWELL_MS,
    // Refreshes only matter to someone listening.
    feedbackRefreshMs: env.MDS_FB_ENABLE_FEEDBACK ? env.MDS_FB_REFRESH_MS : 0,
    feedbackRefreshOkMs: env.MDS_FB_ENABLE_FEEDBACK ? env.MDS_FB_REFRESH_OK_MS : 0,
  });
  if (sink instanceof FaultySink) faultySinks.set(coordinator, sink);
  return coordinator;
}

const faultySinks = new WeakMap<WriteCoordinator<StoreItem>, FaultySink<StoreItem>>();

/** The coordinator's fault-injecting sink, when MDS_FAULT_SINK_* put one in front of the database. */
export function faultySinkOf(
  coordinator: WriteCoordinator<StoreItem>,
): FaultySink<StoreItem> | undefined {
  return faultySinks.get(coordinator);
}

function sinkFaultsOf(env: StoreEnv): SinkFaults {
  return {
    delayMs: env.MDS_FAULT_SINK_DELAY_MS,
    maxRowsPerSec: env.MDS_FAULT_SINK_MAX_ROWS_PER_SEC,
    durationMs:
      env.MDS_FAULT_SINK_DURATION_SEC === undefined
        ? undefined
        : env.MDS_FAULT_SINK_DURATION_SEC * 1000,
  };
}

/** Health components `coordinator` and `circuit`: an open circuit makes the store not ready. */
@Injectable()
export class CoordinatorHealth {
  constructor(
    @Inject(WRITE_COORDINATOR) private readonly coordinator: WriteCoordinator<StoreItem>,
    health: HealthRegistry,
  ) {
    health.register('coordinator', () => this.coordinatorCheck());
    health.register('circuit', () => this.circuitCheck());
  }

  coordinatorCheck(): HealthCheckResult {
    const h = this.coordinator.health();
    const details = Object.fromEntries(Object.entries(h).map(([k, v]) => [k, String(v)]));
    if (h.workers_alive < h.workers && h.workers_alive === 0)
      return { state: 'unhealthy', details };
    return {
      state: h.level === 'hard' || h.workers_alive < h.workers ? 'degraded' : 'healthy',
      details,
    };
  }

  circuitCheck(): HealthCheckResult {
    const state = this.coordinator.circuitState;
    const details = { state: this.coordinator.health().circuit_state };
    if (state === CircuitState.Closed) return { state: 'healthy', details };
    return { state: state === CircuitState.HalfOpen ? 'degraded' : 'unhealthy', details };
  }
}

@Module({
  imports: [RejectFilesModule, FeedbackModule],
  providers: [
    {
      provide: WRITE_COORDINATOR,
      inject: [SERVICE_CONFIG, SQL_CLIENT, RejectFiles, FeedbackEmitter, Registry, SERVICE_LOGGER],
      useFactory: createStoreCoordinator,
    },
    {
      provide: StoreWriter,
      inject: [WRITE_COORDINATOR, RejectFiles],
      useFactory: (c: WriteCoordinator<StoreItem>, d: RejectFiles) => new StoreWriter(c, d),
    },
    CoordinatorHealth,
  ],
  exports: [WRITE_COORDINATOR, StoreWriter, RejectFilesModule],
})
export class CoordinatorModule {}
