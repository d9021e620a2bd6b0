import { DynamicModule, Global, Module } from '@nestjs/common';
import type { Logger } from '@mdp/service-kit';
import type { StoreEnv } from '../config/store-config';
import { STORE_ENV, STORE_LOGGER } from './tokens';

/** The validated settings and the logger, for every other module. */
@Global()
@Module({})
export class StoreConfigModule {
  static forRoot(env: StoreEnv, logger: Logger): DynamicModule {
    return {
      module: StoreConfigModule,
      providers: [
        { provide: STORE_ENV, useValue: env },
        { provide: STORE_LOGGER, useValue: logger },
      ],
      exports: [STORE_ENV, STORE_LOGGER],
    };
  }
}
