import { OutageLog } from '@mdp/pulse';
import type { Logger } from '@mdp/service-kit';
import type { PipelineMetrics } from '../metrics/pipeline-metrics';
import type { Provider } from '../providers/provider';
import { Clock, systemClock } from '../rate/clock';
import type { ProviderBudget, RateCoordinator } from '../rate/rate-coordinator';
import type { ProviderGate } from '../leader/provider-leases';
import type { BatchPublisher } from './batch-publisher';

export interface RetryOptions {
  baseMs: number;
  maxMs: number;
  /** [0, 1) source for jitter; injectable for tests. */
  random?: () => number;
}

export interface ProviderRouterOptions {
  coordinator: RateCoordinator;
  publisher: BatchPublisher;
  retry?: RetryOptions;
  clock?: Clock;
  logger?: Logger;
  metrics?: PipelineMetrics;
  /** Runs a provider only while this instance leads it (several pipeline instances); default: always. */
  gate?: ProviderGate;
}

export type ProviderStatus =
  'idle' | 'standby' | 'running' | 'backing_off' | 'finished' | 'stopped';

export interface ProviderState {
  name: string;
  status: ProviderStatus;
  records: number;
  failures: number;
  lastError?: string;
}

interface Entry {
  provider: Provider;
  state: ProviderState;
  run?: Promise<void>;
}

/** The publisher's error, so the router backs off without logging it as the provider's own failure. */
class PublishFailed extends Error {
  constructor(cause: unknown) {
    super((cause as Error)?.message ?? String(cause), { cause });
  }
}

/** Exponential backoff with jitter: base * 2^(attempt-1), capped, then scaled into [50%, 100%]. */
export function backoffMs(attempt: number, retry: RetryOptions): number {
  const ceiling = Math.min(retry.maxMs, retry.baseMs * 2 ** Math.max(0, attempt - 1));
  return ceiling * (0.5 + 0.5 * (retry.random ?? Math.random)());
}

/**
 * Runs several providers side by side. Each pulls one record per token from the rate coordinator
 * (so scale 0 leaves its iterator where it is) and hands records to the batch publisher. A provider
 * that fails is logged, counted and restarted with backoff while the others keep going.
 */
export class ProviderRouter {
  private readonly entries = new Map<string, Entry>();
  private readonly abort = new AbortController();
  private readonly clock: Clock;
  private readonly retry: RetryOptions;
  private started = false;

  constructor(private readonly opts: ProviderRouterOptions) {
    this.clock = opts.clock ?? systemClock;
    this.retry = opts.retry ?? { baseMs: 500, maxMs: 30_000 };
  }

  add(provider: Provider, budget: ProviderBudget): void {
    if (this.entries.has(provider.name))
      throw new Error(`provider "${provider.name}" is already registered`);
    this.opts.coordinator.registerProvider(provider.name, budget);
    const entry: Entry = {
      provider,
      state: { name: provider.name, status: 'idle', records: 0, failures: 0 },
    };
    this.entries.set(provider.name, entry);
    if (this.started) entry.run = this.runProvider(entry);
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    for (const entry of this.entries.values()) entry.run = this.runProvider(entry);
  }

  states(): ProviderState[] {
    return [...this.entries.values()].map((e) => ({ ...e.state }));
  }

  /** Resolves when every provider has finished (finite providers) or the router was stopped. */
  async idle(): Promise<void> {
    await Promise.all([...this.entries.values()].map((e) => e.run));
  }

  /** Stops reading from providers and waits for their loops to end; the caller then flushes the publisher. */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.idle();
    await this.opts.gate?.releaseAll();
    await Promise.all(
      [...this.entries.values()].map((e) => e.provider.close?.().catch(() => undefined)),
    );
  }

  private async runProvider(entry: Entry): Promise<void> {
    const { provider, state } = entry;
    const signal = this.abort.signal;
    const log = this.opts.logger?.child({ provider: provider.name });
    const { coordinator, publisher, metrics, gate } = this.opts;
    // The labelled counter of each record kind, looked up once instead of per record.
    const counters = new Map<string, { inc(): void }>();
    const recordsOf = (kind: string) => {
      if (!metrics) return undefined;
      let c = counters.get(kind);
      if (!c) counters.set(kind, (c = metrics.records.labels({ provider: provider.name, kind })));
      return c;
    };
    // A failing provider is one warn, not one per retry (a failed publish is the bus's outage: it logs it).
    const outage = new OutageLog(log, {
      down: 'provider failed; retrying with backoff',
      up: 'provider running again',
    });
    let attempt = 0;
    while (!signal.aborted) {
      if (gate && !gate.holds(provider.name)) {
        state.status = 'standby';
        if (!(await gate.acquire(provider.name, signal))) break;
      }
      state.status = 'running';
      try {
        const it = provider.stream(signal)[Symbol.asyncIterator]();
        try {
          for (;;) {
            if (gate && !gate.holds(provider.name)) break; // another instance leads it now
            // Per record, so the common cases stay synchronous: a token in the bucket and a
            // publisher buffer with room cost no promise; the waits happen only when they must.
            if (!coordinator.tryAcquire(provider.name, 1)) {
              // Out of budget until the next token: what is buffered leaves now, not at the next tick.
              publisher.flushIfIdle();
              if (!(await coordinator.acquire(provider.name, 1, signal))) break;
            }
            const next = await it.next();
            if (next.done) {
              state.status = 'finished';
              log?.info({ records: state.records }, 'provider finished');
              return;
            }
            attempt = 0;
            state.records++;
            recordsOf(next.value.kind)?.inc();
            try {
              const flushing = publisher.add(provider.name, next.value);
              if (flushing) await flushing;
            } catch (err) {
              throw new PublishFailed(err);
            }
            // A record merely buffered while publishing still fails is no recovery.
            if (!publisher.failing) outage.succeeded();
          }
        } finally {
          await it.return?.().catch(() => undefined);
        }
      } catch (err) {
        if (signal.aborted) break;
        attempt++;
        state.failures++;
        state.lastError = (err as Error)?.message ?? String(err);
        state.status = 'backing_off';
        const delay = backoffMs(attempt, this.retry);
        this.opts.metrics?.providerErrors.inc({ provider: provider.name });
        if (!(err instanceof PublishFailed))
          outage.failed(err, { attempt, retryInMs: Math.round(delay) });
        await this.clock.sleep(delay, signal);
      }
    }
    state.status = 'stopped';
  }
}
