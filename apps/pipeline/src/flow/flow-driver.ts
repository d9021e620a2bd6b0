import type { RateAdjustment, RateController } from '@mdp/contracts';
import type { FeedbackInput, HandleContext } from '../feedback/feedback-handler';
import type { Clock } from '../rate/clock';
import { systemClock } from '../rate/clock';
import type { FlowController, GovernedProvider } from './flow-controller';

export interface FlowDriverOptions {
  controller: FlowController;
  rate: RateController;
  /** The providers feedback governs, with their budgets and weights (read at every decision). */
  providers: () => readonly GovernedProvider[];
  /** The provider whose adjustment `feedback` returns (the one announced per feedback event). */
  primary: string;
  clock?: Clock;
  /** How often time-driven decisions (dwell, stale feedback, probing) are re-evaluated. */
  tickMs?: number;
  /**
   * Called with each adjustment the timer applied (feedback-driven ones are returned by `feedback`
   * and announced by the feedback consumer).
   */
  onTimed?: (adjustment: RateAdjustment) => void;
}

/** Scale changes smaller than this are not applied (the token bucket would not notice). */
const SCALE_EPSILON = 1e-3;

/**
 * Applies a FlowController's decisions to the rate controller: at once for each feedback event, and
 * on a timer for decisions that change with time alone. Only changed scales are applied.
 */
export class FlowDriver {
  private readonly clock: Clock;
  private readonly applied = new Map<string, { scale: number; reason: string }>();
  private loop?: AbortController;

  constructor(private readonly opts: FlowDriverOptions) {
    this.clock = opts.clock ?? systemClock;
  }

  get controller(): FlowController {
    return this.opts.controller;
  }

  /**
   * Records a feedback event and applies every governed provider's scale (also unchanged ones, so
   * feedback re-asserts itself over a manual `set_scale`); returns the primary provider's adjustment.
   */
  async feedback(event: FeedbackInput, ctx: HandleContext = {}): Promise<RateAdjustment> {
    const now = this.clock.now();
    this.opts.controller.observe(event, now, this.opts.providers());
    const extra: Partial<RateAdjustment> = { ts: event.ts };
    if (event.coordinator_id) extra.source_coordinator_id = event.coordinator_id;
    if (ctx.correlationId) extra.correlation_id = ctx.correlationId;
    const adjustments = await this.apply(now, extra, true);
    return adjustments.get(this.opts.primary) ?? this.adjustment(this.opts.primary, now, extra);
  }

  /** Re-evaluates time-driven decisions now; returns the adjustments that changed something. */
  async tick(): Promise<RateAdjustment[]> {
    const now = this.clock.now();
    const changed = [...(await this.apply(now, { ts: now / 1000 }, false)).values()];
    for (const adjustment of changed) this.opts.onTimed?.(adjustment);
    return changed;
  }

  start(): void {
    if (this.loop) return;
    const loop = (this.loop = new AbortController());
    void (async () => {
      while (!loop.signal.aborted) {
        await this.clock.sleep(this.opts.tickMs ?? 100, loop.signal);
        if (!loop.signal.aborted) await this.tick().catch(() => undefined);
      }
    })();
  }

  stop(): void {
    this.loop?.abort();
    this.loop = undefined;
  }

  private async apply(
    now: number,
    extra: Partial<RateAdjustment>,
    always: boolean,
  ): Promise<Map<string, RateAdjustment>> {
    const providers = this.opts.providers();
    const scales = this.opts.controller.scales(now, providers);
    const reason = this.opts.controller.level(now);
    const out = new Map<string, RateAdjustment>();
    for (const [provider, scale] of scales) {
      const last = this.applied.get(provider);
      const changed =
        !last || Math.abs(last.scale - scale) > SCALE_EPSILON || last.reason !== reason;
      if (!changed && !always) continue;
      const adjustment: RateAdjustment = { provider, scale, reason, ts: now / 1000, ...extra };
      await this.opts.rate.apply(adjustment);
      this.applied.set(provider, { scale, reason });
      out.set(provider, adjustment);
    }
    return out;
  }

  private adjustment(
    provider: string,
    now: number,
    extra: Partial<RateAdjustment>,
  ): RateAdjustment {
    const last = this.applied.get(provider);
    return {
      provider,
      scale: last?.scale ?? 1,
      reason: this.opts.controller.level(now),
      ts: now / 1000,
      ...extra,
    };
  }
}
