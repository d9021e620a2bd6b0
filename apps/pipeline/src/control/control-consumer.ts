import { toControlCommand, type ControlAction, type ControlCommand } from '@mdp/contracts';
import type { EventBus } from '@mdp/pulse';
import {
  ControlActionConsumer,
  type ControlConsumerOptions as BaseOptions,
  type HandledAction,
  type PerformedAction,
} from '@mdp/service-kit';
import type { PipelineMetrics } from '../metrics/pipeline-metrics';
import type { RateCoordinator } from '../rate/rate-coordinator';

/** Who this service answers to in `target` (besides its consumer name and `provider:<name>`). */
export const SERVICE_ROLE = 'pipeline';

export interface ControlConsumerOptions extends BaseOptions {
  metrics?: PipelineMetrics;
}

type Performed = PerformedAction;
export type ControlOutcome = HandledAction;

/**
 * Orchestrator control for the pipeline: pause and resume providers (one, or all when none is named)
 * and set a provider's budget scale. Reading, targeting and the audit answer are the shared
 * `ControlActionConsumer`'s.
 */
export class ControlConsumer extends ControlActionConsumer {
  constructor(
    bus: EventBus,
    private readonly coordinator: RateCoordinator,
    private readonly options: ControlConsumerOptions,
  ) {
    super(bus, SERVICE_ROLE, options);
  }

  protected override aimsAt(target: string): boolean {
    return target.startsWith('provider:');
  }

  protected override handled(msg: ControlAction, outcome: PerformedAction): void {
    this.options.metrics?.controlActions.inc({ action: msg.action, result: outcome.result });
  }

  protected perform(msg: ControlAction): Performed {
    const cmd = toControlCommand(msg, { accept: 'v2' });
    const named =
      msg.provider ??
      (msg.target?.startsWith('provider:') ? msg.target.slice('provider:'.length) : undefined);
    if (!cmd.ok)
      return {
        result: 'rejected',
        detail: cmd.error.message,
        target: named ? `provider:${named}` : SERVICE_ROLE,
      };
    const providers = named
      ? [named]
      : this.coordinator.providers().filter((p) => this.coordinator.isRegistered(p));
    const target = named ? `provider:${named}` : SERVICE_ROLE;
    if (named && !this.coordinator.isRegistered(named))
      return { result: 'rejected', detail: `unknown provider "${named}"`, target };
    return this.apply(cmd.value, providers, target);
  }

  private apply(cmd: ControlCommand, providers: string[], target: string): Performed {
    switch (cmd.action) {
      case 'pause':
        providers.forEach((p) => this.coordinator.pause(p));
        return { result: 'ok', detail: `paused ${providers.join(', ') || 'no providers'}`, target };
      case 'resume':
        providers.forEach((p) => this.coordinator.resume(p));
        return {
          result: 'ok',
          detail: `resumed ${providers.join(', ') || 'no providers'}`,
          target,
        };
      case 'set_scale':
        this.coordinator.setBudgetScale(cmd.provider, cmd.scale);
        return {
          result: 'ok',
          detail: `scale of ${cmd.provider} set to ${cmd.scale}`,
          target: `provider:${cmd.provider}`,
        };
      default:
        return {
          result: 'rejected',
          detail: `the pipeline does not perform "${cmd.action}"`,
          target,
        };
    }
  }
}
