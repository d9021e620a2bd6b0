import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Controller, Get, Inject, Module } from '@nestjs/common';
import { createEventBus, type PulseBus } from '@mdp/pulse';
import { uniqueId } from '@mdp/testing';
import { z } from 'zod';
import {
  bootstrapService,
  parseEnv,
  SERVICE_CONFIG,
  SERVICE_LOGGER,
  serviceEnvShape,
  serviceRegistry,
  type Logger,
} from '../src';

const Env = z.object({
  ...serviceEnvShape(9999),
  GREETING: z.string().default('hello'),
});
type Env = z.infer<typeof Env>;

@Controller()
class GreetingController {
  constructor(
    @Inject(SERVICE_CONFIG) private readonly env: Env,
    @Inject(SERVICE_LOGGER) private readonly logger: Logger,
  ) {}

  @Get('greeting')
  greeting() {
    this.logger.debug('greeting');
    return { greeting: this.env.GREETING };
  }
}

@Module({ controllers: [GreetingController] })
class GreetingModule {}

describe('bootstrapService', () => {
  it('starts a service with the shared modules, its config and logger tokens and its package version', async () => {
    const bus = createEventBus({ backend: 'inmem', namespace: uniqueId() }) as PulseBus;
    const handle = await bootstrapService(
      {
        service: 'store',
        packageDir: join(__dirname, '..'),
        loadEnv: (raw) => parseEnv(Env, raw),
        modules: () => [GreetingModule],
      },
      { port: 0, handleSignals: false, bus, env: { LOG_LEVEL: 'silent', GREETING: 'hi' } },
    );
    try {
      expect(handle.port).toBeGreaterThan(0);
      expect(handle.url).toBe(`http://127.0.0.1:${handle.port}`);
      expect(handle.env.GREETING).toBe('hi');
      expect(handle.connection).toMatchObject({ bus, owned: false });
      expect(await (await fetch(`${handle.url}/greeting`)).json()).toEqual({ greeting: 'hi' });
      const health = (await (await fetch(`${handle.url}/health`)).json()) as {
        service: string;
        version: string;
      };
      expect(health).toMatchObject({
        service: 'store',
        version: (
          JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as {
            version: string;
          }
        ).version,
      });
      // The shared bus's pulse_* series are served by the service's /metrics.
      expect(await (await fetch(`${handle.url}/metrics`)).text()).toContain('pulse_');
    } finally {
      await handle.close();
      await bus.close();
    }
  });

  it('one metrics policy: a given registry is kept, a shared bus adds its series once', () => {
    const bus = createEventBus({ backend: 'inmem', namespace: uniqueId() }) as PulseBus;
    const registry = serviceRegistry(undefined, bus);
    const busMetric = bus.metrics.registry.getMetricsAsArray()[0].name;
    expect(registry.getSingleMetric(busMetric)).toBeDefined();
    expect(registry.getSingleMetric('process_cpu_user_seconds_total')).toBeDefined();
    expect(serviceRegistry(registry, bus)).toBe(registry);
  });
});
