import type { BackpressureLevel } from '@mdp/contracts';
import type { FeedbackInput } from '../feedback/feedback-handler';
import { toBackpressureLevel } from '../feedback/feedback-policy';

export interface FreshnessOptions {
  /** TTL for events that carry none (v1 track, older stores); 0: such events never go stale. */
  defaultTtlMs: number;
  /** Once stale, a level's hold on the rate fades linearly to nothing over this long. */
  decayMs: number;
}

/** The latest accepted event of one store (coordinator_id). */
export interface SourceState {
  coordinatorId: string;
  event: FeedbackInput;
  level: BackpressureLevel;
  receivedAt: number;
  ttlMs: number;
}

/**
 * The latest feedback per store, with ordering and freshness. Within one instance (`started_at`)
 * an event with a lower or equal `seq` than the one held is superseded (a redelivery or a late
 * duplicate); an event from an earlier instance is superseded by any event of a later one, so a
 * restarted store's first event replaces what the old instance said. Events without these fields
 * (v1) are taken in arrival order.
 *
 * Age is measured from receipt on this host's clock, not from the event's `ts`, so clock skew
 * between hosts cannot make an event stale or fresh.
 */
export class FeedbackSources {
  private readonly sources = new Map<string, SourceState>();

  constructor(readonly opts: FreshnessOptions) {}

  /** Records the event; returns its state, or undefined when it is superseded. */
  accept(event: FeedbackInput, now: number): SourceState | undefined {
    const id = event.coordinator_id;
    const held = this.sources.get(id);
    if (held && supersedes(held.event, event)) return undefined;
    const ttlMs = event.ttl_s !== undefined ? event.ttl_s * 1000 : this.opts.defaultTtlMs;
    const state: SourceState = {
      coordinatorId: id,
      event,
      level: toBackpressureLevel(event.level),
      receivedAt: now,
      ttlMs,
    };
    this.sources.set(id, state);
    return state;
  }

  all(): SourceState[] {
    return [...this.sources.values()];
  }

  /**
   * How far the source's level has faded at `now`: 0 while fresh, rising linearly to 1 over
   * `decayMs` once its TTL has passed (1 at once when decayMs is 0).
   */
  fade(state: SourceState, now: number): number {
    if (state.ttlMs <= 0) return 0;
    const stale = now - state.receivedAt - state.ttlMs;
    if (stale <= 0) return 0;
    return this.opts.decayMs <= 0 ? 1 : Math.min(1, stale / this.opts.decayMs);
  }
}

/** True when `held` is newer than (or the same as) `incoming`. */
function supersedes(held: FeedbackInput, incoming: FeedbackInput): boolean {
  if (held.started_at === undefined || incoming.started_at === undefined) return false;
  if (incoming.started_at !== held.started_at) return incoming.started_at < held.started_at;
  if (held.seq === undefined || incoming.seq === undefined) return false;
  return incoming.seq <= held.seq;
}
