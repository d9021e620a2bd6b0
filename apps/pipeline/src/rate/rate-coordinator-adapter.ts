import type { RateAdjustment, RateController } from '@mdp/contracts';
import type { RateCoordinator } from './rate-coordinator';

/**
 * The contracts' `RateController` over the coordinator, so feedback handling never touches the
 * coordinator's internals: an adjustment records the pressure level and scales the provider's budget.
 */
export class RateCoordinatorAdapter implements RateController {
  constructor(private readonly coordinator: RateCoordinator) {}

  apply(adjustment: RateAdjustment): void {
    this.coordinator.setGlobalPressure(adjustment.provider, adjustment.reason);
    this.coordinator.setBudgetScale(adjustment.provider, adjustment.scale);
  }
}
