import type { BackpressureLevel } from '@mdp/contracts';
import type { FeedbackInput } from '../feedback/feedback-handler';
import { DEFAULT_FEEDBACK_POLICY, FeedbackPolicy, toBackpressureLevel } from '../feedback/feedback-policy';
import type { FlowController, GovernedProvider } from './flow-controller';

export interface StepControllerOptions {
  policy?: FeedbackPolicy;
  /**
   * A level that lowered the scale stands at least this long before a level with a higher scale
   * replaces it (lowering is immediate). Keeps the rate from flipping with every event of a store
   * that reports each watermark crossing. 0 follows every event.
   */
  minDwellMs?: number;
}

/**
 * The seeds' step policy: a fixed scale per level (ok / soft / hard -> 1.0 / 0.5 / 0.0 by default),
 * the same for every governed provider, with a minimum dwell before the scale goes back up.
 */
export class StepController implements FlowController {
  readonly policy = 'step' as const;
  private readonly scalePolicy: FeedbackPolicy;
  private readonly minDwellMs: number;
  /** Latest level the store reported. */
  private reported: BackpressureLevel = 'ok';
  /** Level in force (lags `reported` while a dwell holds a lower scale). */
  private effective: BackpressureLevel = 'ok';
  private effectiveSince = -Infinity;

  constructor(opts: StepControllerOptions = {}) {
    this.scalePolicy = opts.policy ?? DEFAULT_FEEDBACK_POLICY;
    this.minDwellMs = opts.minDwellMs ?? 0;
  }

  observe(event: FeedbackInput, now: number): boolean {
    this.reported = toBackpressureLevel(event.level);
    this.settle(now);
    return true;
  }

  level(now: number): BackpressureLevel {
    this.settle(now);
    return this.effective;
  }

  scales(now: number, providers: readonly GovernedProvider[]): Map<string, number> {
    const scale = this.scalePolicy[this.level(now)];
    return new Map(providers.map((p) => [p.provider, scale]));
  }

  private settle(now: number): void {
    if (this.reported === this.effective) return;
    const lower = this.scalePolicy[this.reported] < this.scalePolicy[this.effective];
    if (lower || now - this.effectiveSince >= this.minDwellMs) {
      this.effective = this.reported;
      this.effectiveSince = now;
    }
  }
}
