import { join } from 'node:path';
import { bootstrapService, ServiceBootstrapOptions, ServiceHandle } from '@mdp/service-kit';
import { pipelineModules } from './app/app.module';
import { loadConfig, PipelineConfig } from './config';
import { Clock, systemClock } from './rate/clock';

export interface BootstrapOptions extends ServiceBootstrapOptions {
  clock?: Clock;
}

export type PipelineApp = ServiceHandle<PipelineConfig>;

/**
 * Starts the pipeline: validates the environment (a bad value throws ConfigError before anything
 * starts), connects the bus (degrading to in-process when Pulse is disabled or Redis is unreachable),
 * builds the Nest app and listens.
 */
export function bootstrap(options: BootstrapOptions = {}): Promise<PipelineApp> {
  return bootstrapService(
    {
      service: 'pipeline',
      packageDir: join(__dirname, '..'),
      loadEnv: loadConfig,
      modules: (ctx) => pipelineModules(ctx, options.clock ?? systemClock),
    },
    options,
  );
}
