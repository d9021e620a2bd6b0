import type { BackpressureLevel } from '@mdp/contracts';
import type { FeedbackInput } from '../feedback/feedback-handler';
import { fairScales } from './fair-share';
import { FeedbackSources, type FreshnessOptions, type SourceState } from './feedback-sources';
import type { FlowController, GovernedProvider } from './flow-controller';

export interface AdaptiveSettings {
  /** Queue fill (0..1) the controller steers the store toward. */
  targetUtilization: number;
  /** Time over which a fill error is corrected: the rate is the drain rate + error x capacity / horizon. */
  horizonMs: number;
  /** While the queue is below target and no newer event came, probe up by this fraction of the budget per second. */
  increasePerSec: number;
  /** For events without a drain rate (v1): multiply the rate by this when the queue is above target. */
  decrease: number;
}

export const DEFAULT_ADAPTIVE: AdaptiveSettings = Object.freeze({
  targetUtilization: 0.6,
  horizonMs: 2000,
  increasePerSec: 0.5,
  decrease: 0.7,
});

export interface AdaptiveControllerOptions extends Partial<AdaptiveSettings> {
  freshness: FreshnessOptions;
}

/** What the controller last decided for one store. */
interface Allowance {
  /** Records/s, all governed providers together; undefined: no limit. */
  rate?: number;
  level: BackpressureLevel;
  utilization: number;
  /** The event carried a drain rate (v2); else the rate moves by AIMD. */
  drainKnown: boolean;
  updatedAt: number;
}

/** Utilisation band around the target inside which a v1 event (no drain rate) leaves the rate alone. */
const V1_BAND = 0.1;

/**
 * Keeps the store's queue near a target fill instead of bouncing off its watermarks. On each event
 * that carries a drain rate (v2) the allowed rate is what the store drains plus a proportional
 * correction of the fill error:
 *
 *     rate = drain_rate + (target - utilization) x capacity / horizon
 *
 * i.e. feed what the sink takes, and fill (or empty) the queue toward the target within `horizon`.
 * Events from a v1 store (no drain rate) fall back to AIMD on utilisation: multiply by `decrease`
 * above the band, add `increasePerSec` of the budget per second below it. Between events the rate
 * probes up while the queue was below target (the store refreshes slowly while ok). A stale store's
 * limit fades back to the full budget like the step policy's level. The total is shared among the
 * governed providers by weight (fairShares).
 */
export class AdaptiveController implements FlowController {
  readonly policy = 'adaptive' as const;
  readonly settings: AdaptiveSettings;
  private readonly sources: FeedbackSources;
  private readonly allowances = new Map<string, Allowance>();
  /** Sum of the governed providers' rates at the last decision (the rate that means "no limit"). */
  private budget = 0;

  constructor(opts: AdaptiveControllerOptions) {
    const { freshness, ...rest } = opts;
    this.settings = { ...DEFAULT_ADAPTIVE, ...stripUndefined(rest) };
    const s = this.settings;
    if (!(s.targetUtilization > 0 && s.targetUtilization < 1))
      throw new RangeError(`targetUtilization must be within (0, 1), got ${s.targetUtilization}`);
    if (!(s.horizonMs > 0)) throw new RangeError(`horizonMs must be > 0, got ${s.horizonMs}`);
    if (!(s.decrease > 0 && s.decrease < 1))
      throw new RangeError(`decrease must be within (0, 1), got ${s.decrease}`);
    if (!(s.increasePerSec > 0))
      throw new RangeError(`increasePerSec must be > 0, got ${s.increasePerSec}`);
    this.sources = new FeedbackSources(freshness);
  }

  observe(event: FeedbackInput, now: number, providers?: readonly GovernedProvider[]): boolean {
    if (providers) this.budget = budgetOf(providers);
    const state = this.sources.accept(event, now);
    if (!state) return false;
    const utilization = event.utilization ?? Math.min(1, event.queue_size / event.capacity);
    const s = this.settings;
    const drainKnown = event.drain_rate !== undefined;
    let rate: number | undefined;
    if (event.drain_rate !== undefined) {
      const correction =
        ((s.targetUtilization - utilization) * event.capacity * 1000) / s.horizonMs;
      rate = Math.max(0, event.drain_rate + correction);
    } else {
      rate = this.current(this.allowances.get(state.coordinatorId), now) ?? this.budget;
      if (utilization > s.targetUtilization + V1_BAND || state.level === 'hard') rate *= s.decrease;
    }
    this.allowances.set(state.coordinatorId, {
      rate: rate >= this.budget ? undefined : rate,
      level: state.level,
      utilization,
      drainKnown,
      updatedAt: now,
    });
    return true;
  }

  level(now: number): BackpressureLevel {
    return this.decide(now).level;
  }

  /** Empty until the first feedback: no opinion yet, the configured budgets stand. */
  scales(now: number, providers: readonly GovernedProvider[]): Map<string, number> {
    this.budget = budgetOf(providers);
    if (this.allowances.size === 0) return new Map();
    const { rate } = this.decide(now);
    return fairScales(rate ?? this.budget, providers);
  }

  /** The most restrictive store's allowed rate (undefined: no limit) and its level. */
  private decide(now: number): { rate?: number; level: BackpressureLevel } {
    let best: { rate?: number; level: BackpressureLevel } = { level: 'ok' };
    for (const source of this.sources.all()) {
      const allowance = this.allowances.get(source.coordinatorId);
      const rate = this.effective(source, allowance, now);
      if (rate !== undefined && (best.rate === undefined || rate < best.rate))
        best = { rate, level: allowance!.level };
    }
    return best;
  }

  /** The allowance now: probed up while the queue was below target, faded toward no limit when stale. */
  private effective(
    source: SourceState,
    allowance: Allowance | undefined,
    now: number,
  ): number | undefined {
    const rate = this.current(allowance, now);
    if (rate === undefined) return undefined;
    const faded = rate + (this.budget - rate) * this.sources.fade(source, now);
    return faded >= this.budget ? undefined : faded;
  }

  /**
   * The allowance as of `now`. Between events it probes up while the queue had room and no quick
   * refresh is coming: the store refreshes slowly while ok, and a v1 store speaks only on changes.
   */
  private current(allowance: Allowance | undefined, now: number): number | undefined {
    if (allowance?.rate === undefined) return undefined;
    const s = this.settings;
    const room = allowance.utilization < s.targetUtilization - (allowance.drainKnown ? 0 : V1_BAND);
    if (!room || (allowance.drainKnown && allowance.level !== 'ok')) return allowance.rate;
    const rate =
      allowance.rate +
      (s.increasePerSec * this.budget * Math.max(0, now - allowance.updatedAt)) / 1000;
    return rate >= this.budget ? undefined : rate;
  }
}

function budgetOf(providers: readonly GovernedProvider[]): number {
  return providers.reduce((sum, p) => sum + p.rate, 0);
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
