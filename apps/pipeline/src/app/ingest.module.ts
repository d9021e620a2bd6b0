import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  Module,
  OnApplicationBootstrap,
} from '@nestjs/common';
import { sleep, type EventBus } from '@mdp/pulse';
import { PROVIDER_LEASES, type ProviderLeases } from '../leader/provider-leases';
import {
  EVENT_BUS,
  HealthRegistry,
  SERVICE_CONFIG,
  SERVICE_LOGGER,
  type Logger,
} from '@mdp/service-kit';
import type { PipelineConfig } from '../config';
import { PipelineMetrics } from '../metrics/pipeline-metrics';
import type { InvalidRecord, Provider } from '../providers/provider';
import { BinanceKlineProvider } from '../providers/binance-kline-provider';
import { ReplayProvider } from '../providers/replay-provider';
import { SyntheticProvider } from '../providers/synthetic-provider';
import type { Clock } from '../rate/clock';
import type { ProviderBudget } from '../rate/rate-coordinator';
import { RateCoordinator } from '../rate/rate-coordinator';
import { BatchPublisher } from '../router/batch-publisher';
import { ProviderRouter } from '../router/provider-router';
import { CLOCK } from './tokens';

/** The providers the configuration asks for, with their budgets. */
export function providersFromConfig(
  config: PipelineConfig,
  deps: { clock: Clock; logger: Logger; metrics: PipelineMetrics },
): Array<{ provider: Provider; budget: ProviderBudget }> {
  const out: Array<{ provider: Provider; budget: ProviderBudget }> = [];
  const reportInvalid = (bad: InvalidRecord) => {
    deps.metrics.invalidRecords.inc({ provider: bad.provider });
    deps.logger.warn(bad, 'invalid record skipped');
  };
  if (config.PIPELINE_PROVIDERS.includes('synthetic')) {
    out.push({
      provider: new SyntheticProvider({
        name: config.PIPELINE_SYNTHETIC_NAME,
        symbols: config.PIPELINE_SYNTHETIC_SYMBOLS,
        seed: config.PIPELINE_SYNTHETIC_SEED,
        interval: config.PIPELINE_SYNTHETIC_INTERVAL,
        maxBars: config.PIPELINE_SYNTHETIC_MAX_BARS,
      }),
      budget: { rate: config.PIPELINE_SYNTHETIC_RATE, burst: config.PIPELINE_SYNTHETIC_BURST },
    });
  }
  if (config.PIPELINE_PROVIDERS.includes('replay') && config.PIPELINE_REPLAY_FILE) {
    out.push({
      provider: new ReplayProvider({
        name: config.PIPELINE_REPLAY_NAME,
        file: config.PIPELINE_REPLAY_FILE,
        kind: config.PIPELINE_REPLAY_KIND,
        speed: config.PIPELINE_REPLAY_SPEED,
        loop: config.PIPELINE_REPLAY_LOOP,
        clock: deps.clock,
        onInvalid: reportInvalid,
      }),
      budget: { rate: config.PIPELINE_REPLAY_RATE, burst: config.PIPELINE_REPLAY_BURST },
    });
  }
  if (config.PIPELINE_PROVIDERS.includes('binance')) {
    out.push({
      provider: new BinanceKlineProvider({
        name: config.PIPELINE_BINANCE_NAME,
        baseUrl: config.PIPELINE_BINANCE_URL,
        symbols: config.PIPELINE_BINANCE_SYMBOLS,
        interval: config.PIPELINE_BINANCE_INTERVAL,
        onInvalid: reportInvalid,
      }),
      budget: { rate: config.PIPELINE_BINANCE_RATE, burst: config.PIPELINE_BINANCE_BURST },
    });
  }
  return out;
}

const FINAL_FLUSH_ATTEMPTS = 3;

/** Starts the providers once the app is up; on shutdown stops them first, then flushes what was read. */
@Injectable()
export class IngestLifecycle implements OnApplicationBootstrap, BeforeApplicationShutdown {
  constructor(
    readonly router: ProviderRouter,
    readonly publisher: BatchPublisher,
    @Inject(SERVICE_LOGGER) private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
    this.publisher.start();
    this.router.start();
    this.logger.info({ providers: this.router.states().map((s) => s.name) }, 'providers started');
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.router.stop();
    // The last flush gets a few tries (a Redis blip during shutdown); after that the loss is reported, never silent.
    for (let attempt = 1; ; attempt++) {
      try {
        await this.publisher.close();
        break;
      } catch (err) {
        if (attempt >= FINAL_FLUSH_ATTEMPTS) {
          this.logger.error(
            { err, lost: this.publisher.buffered() },
            'final flush failed; buffered records were not published',
          );
          return;
        }
        await sleep(200 * attempt);
      }
    }
    this.logger.info('providers stopped and batches flushed');
  }
}

/** Providers -> rate coordinator -> batches on `<ns>.md.*`. */
@Module({
  providers: [
    {
      provide: BatchPublisher,
      useFactory: (bus: EventBus, config: PipelineConfig, clock: Clock, metrics: PipelineMetrics) =>
        new BatchPublisher(bus, {
          batchSize: config.PIPELINE_BATCH_SIZE,
          flushIntervalMs: config.PIPELINE_BATCH_FLUSH_MS,
          clock,
          metrics,
        }),
      inject: [EVENT_BUS, SERVICE_CONFIG, CLOCK, PipelineMetrics],
    },
    {
      provide: ProviderRouter,
      useFactory: (
        config: PipelineConfig,
        coordinator: RateCoordinator,
        publisher: BatchPublisher,
        clock: Clock,
        logger: Logger,
        metrics: PipelineMetrics,
        health: HealthRegistry,
        leases: ProviderLeases | null,
      ) => {
        const router = new ProviderRouter({
          gate: leases ?? undefined,
          coordinator,
          publisher,
          clock,
          logger,
          metrics,
          retry: { baseMs: config.PIPELINE_RETRY_BASE_MS, maxMs: config.PIPELINE_RETRY_MAX_MS },
        });
        for (const { provider, budget } of providersFromConfig(config, { clock, logger, metrics }))
          router.add(provider, budget);
        health.register(
          'providers',
          () => {
            const states = router.states();
            const details = Object.fromEntries(
              states.map((s) => [
                s.name,
                s.lastError
                  ? `${s.status} (${s.failures} failures, last: ${s.lastError})`
                  : s.status,
              ]),
            );
            return {
              state: states.some((s) => s.status === 'backing_off') ? 'degraded' : 'healthy',
              details,
            };
          },
          { readiness: false },
        );
        return router;
      },
      inject: [
        SERVICE_CONFIG,
        RateCoordinator,
        BatchPublisher,
        CLOCK,
        SERVICE_LOGGER,
        PipelineMetrics,
        HealthRegistry,
        PROVIDER_LEASES,
      ],
    },
    IngestLifecycle,
  ],
  exports: [ProviderRouter, BatchPublisher],
})
export class IngestModule {}
