import { Controller, Get, Module } from '@nestjs/common';
import { RateCoordinator } from '../rate/rate-coordinator';
import { ProviderRouter } from '../router/provider-router';
import { IngestModule } from './ingest.module';

/** GET /providers: each provider's stream state and current budget, for operators and tests. */
@Controller()
export class StatusController {
  constructor(
    private readonly router: ProviderRouter,
    private readonly coordinator: RateCoordinator,
  ) {}

  @Get('providers')
  providers() {
    const states = new Map(this.router.states().map((s) => [s.name, s]));
    return this.coordinator
      .snapshots()
      .map((rate) => ({ ...rate, stream: states.get(rate.provider) ?? null }));
  }
}

@Module({ imports: [IngestModule], controllers: [StatusController] })
export class StatusModule {}
