import { DynamicModule, Global, Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import type { EventBus } from '@mdp/pulse';
import { BusConnection, registerBusHealth } from './bus';
import { HealthRegistry } from './health';

/** Injection token for the service's `EventBus`. */
export const EVENT_BUS = Symbol('EVENT_BUS');
/** Injection token for the `BusConnection` (mode, degradation). */
export const BUS_CONNECTION = Symbol('BUS_CONNECTION');

class BusLifecycle implements OnApplicationShutdown {
  constructor(
    @Inject(BUS_CONNECTION) private readonly conn: BusConnection,
    health: HealthRegistry,
  ) {
    registerBusHealth(health, conn);
  }

  /** Runs after every module's own shutdown hooks have stopped their consumers. */
  async onApplicationShutdown(): Promise<void> {
    if (this.conn.owned) await this.conn.bus.close();
  }
}

/**
 * Provides the bus `connectBus` made, so start-up decides redis vs in-memory once, before Nest builds
 * the graph. Requires HealthModule.
 */
@Global()
@Module({})
export class BusModule {
  static forConnection(conn: BusConnection): DynamicModule {
    return {
      module: BusModule,
      providers: [
        { provide: BUS_CONNECTION, useValue: conn },
        { provide: EVENT_BUS, useValue: conn.bus as EventBus },
        BusLifecycle,
      ],
      exports: [EVENT_BUS, BUS_CONNECTION],
    };
  }
}
