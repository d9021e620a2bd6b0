import type { BackpressureLevel } from '@mdp/contracts';
import type { FeedbackInput } from '../feedback/feedback-handler';
import { DEFAULT_FEEDBACK_POLICY, FeedbackPolicy } from '../feedback/feedback-policy';
import { FeedbackSources, type FreshnessOptions } from './feedback-sources';
import type { FlowController, GovernedProvider } from './flow-controller';

export interface StepControllerOptions {
  policy?: FeedbackPolicy;
  /**
   * A level that lowered the scale stands at least this long before a level with a higher scale
   * replaces it (lowering is immediate). Keeps the rate from flipping with every event of a store
   * that reports each watermark crossing. 0 follows every event.
   */
  minDwellMs?: number;
  /** Staleness; default: levels never go stale (the seeds behaviour). */
  freshness?: FreshnessOptions;
}

interface Dwell {
  effective: BackpressureLevel;
  since: number;
}

/**
 * The seeds' step policy: a fixed scale per level (ok / soft / hard -> 1.0 / 0.5 / 0.0 by default),
 * the same for every governed provider, with a minimum dwell before the scale goes back up. A level
 * older than its TTL fades back toward full rate over the decay time (a silent store means
 * "unknown", not "stop forever"). With several stores the lowest scale wins.
 */
export class StepController implements FlowController {
  readonly policy = 'step' as const;
  private readonly scalePolicy: FeedbackPolicy;
  private readonly minDwellMs: number;
  private readonly sources: FeedbackSources;
  /** Level in force per store (lags the reported one while a dwell holds a lower scale). */
  private readonly dwell = new Map<string, Dwell>();

  constructor(opts: StepControllerOptions = {}) {
    this.scalePolicy = opts.policy ?? DEFAULT_FEEDBACK_POLICY;
    this.minDwellMs = opts.minDwellMs ?? 0;
    this.sources = new FeedbackSources(opts.freshness ?? { defaultTtlMs: 0, decayMs: 0 });
  }

  observe(event: FeedbackInput, now: number): boolean {
    const state = this.sources.accept(event, now);
    if (!state) return false;
    this.settle(state.coordinatorId, state.level, now);
    return true;
  }

  level(now: number): BackpressureLevel {
    return this.decide(now)?.level ?? 'ok';
  }

  /** Empty until the first feedback: no opinion yet, the configured budgets stand. */
  scales(now: number, providers: readonly GovernedProvider[]): Map<string, number> {
    const decision = this.decide(now);
    if (!decision) return new Map();
    return new Map(providers.map((p) => [p.provider, decision.scale]));
  }

  private decide(now: number): { scale: number; level: BackpressureLevel } | undefined {
    let best: { scale: number; level: BackpressureLevel } | undefined;
    for (const source of this.sources.all()) {
      const level = this.settle(source.coordinatorId, source.level, now);
      const base = this.scalePolicy[level];
      const scale = base + (1 - base) * this.sources.fade(source, now);
      if (!best || scale < best.scale) best = { scale, level: scale >= 1 ? 'ok' : level };
    }
    return best;
  }

  private settle(id: string, reported: BackpressureLevel, now: number): BackpressureLevel {
    const d = this.dwell.get(id);
    if (!d) {
      this.dwell.set(id, { effective: reported, since: now });
      return reported;
    }
    if (reported === d.effective) return reported;
    const lower = this.scalePolicy[reported] < this.scalePolicy[d.effective];
    if (lower || now - d.since >= this.minDwellMs) {
      d.effective = reported;
      d.since = now;
    }
    return d.effective;
  }
}
