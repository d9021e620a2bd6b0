/**
 * One leader per provider across pipeline instances. Two instances configured with the same
 * provider would otherwise both fetch and publish its records (and spend its API budget twice), so
 * each provider runs only where this instance holds the lease `<namespace>.lease.pipeline.provider.<name>`
 * in Redis (SET PX when free, extended by its holder every ttl/3 through a Lua compare-and-extend).
 * The others wait as standbys and take over once the lease expires (or is released on shutdown).
 *
 * A leader that cannot extend its lease stops the provider after ttl * 2/3 since the last extension,
 * before the lease can expire and a standby start: two instances never publish the same provider at
 * the same time as long as clocks run at the same rate.
 */
import { OutageLog } from '@mdp/pulse';
import type { Logger } from '@mdp/service-kit';
import { systemClock } from '../rate/clock';

/** Injection token: the instance's `ProviderLeases`, or null when every instance runs its providers. */
export const PROVIDER_LEASES = Symbol('PROVIDER_LEASES');

/** What the router asks before (and while) it runs a provider. */
export interface ProviderGate {
  /** Resolves true once this instance may run `provider`; false when `signal` aborts first. */
  acquire(provider: string, signal: AbortSignal): Promise<boolean>;
  /** Whether this instance still may run `provider` (checked for every record). */
  holds(provider: string): boolean;
  /** Gives every lease up (shutdown): a standby takes over at once. */
  releaseAll(): Promise<void>;
}

/** The bus's lease primitive (`PulseBus.holdLease` / `releaseLease`). */
export interface LeaseStore {
  holdLease(name: string, holder: string, ttlMs: number): Promise<string>;
  releaseLease(name: string, holder: string): Promise<void>;
}

interface Held {
  renewedAt: number;
  timer?: NodeJS.Timeout;
}

export class ProviderLeases implements ProviderGate {
  private readonly held = new Map<string, Held>();
  private readonly listeners: Array<(leading: number) => void> = [];
  /** Who holds each provider's lease, as last seen (for /status and logs). */
  readonly holders = new Map<string, string>();
  /** Redis away: one warn when the lease calls start failing, one info when they answer again. */
  private readonly outage: OutageLog;

  constructor(
    private readonly store: LeaseStore,
    readonly instance: string,
    private readonly ttlMs: number,
    private readonly logger?: Logger,
  ) {
    this.outage = new OutageLog(logger, {
      down: 'provider lease: Redis did not answer; taking and extending leases keep retrying',
      up: 'provider lease: Redis answers again',
    });
  }

  async acquire(provider: string, signal: AbortSignal): Promise<boolean> {
    let announced = false;
    while (!signal.aborted) {
      try {
        const holder = await this.store.holdLease(leaseName(provider), this.instance, this.ttlMs);
        this.outage.succeeded({ provider }, provider);
        this.holders.set(provider, holder);
        if (holder === this.instance) {
          this.keep(provider);
          this.logger?.info(
            { provider, instance: this.instance, ttlMs: this.ttlMs },
            'provider lease taken: this instance runs it',
          );
          return true;
        }
        if (!announced)
          this.logger?.info(
            { provider, leader: holder },
            'provider runs on another instance; standing by',
          );
        announced = true;
      } catch (err) {
        this.outage.failed(err, { provider }, provider);
      }
      await systemClock.sleep(this.ttlMs / 3, signal);
    }
    return false;
  }

  /** Providers this instance leads now. */
  get leading(): number {
    return this.held.size;
  }

  /** Called with the number of providers led, whenever it changes. */
  onLeadChange(listener: (leading: number) => void): void {
    this.listeners.push(listener);
  }

  holds(provider: string): boolean {
    const h = this.held.get(provider);
    return !!h && Date.now() - h.renewedAt < (this.ttlMs * 2) / 3;
  }

  async releaseAll(): Promise<void> {
    const names = [...this.held.keys()];
    for (const name of names) this.drop(name);
    await Promise.all(
      names.map((p) => this.store.releaseLease(leaseName(p), this.instance).catch(() => undefined)),
    );
  }

  private keep(provider: string): void {
    const previous = this.held.get(provider);
    if (previous) clearInterval(previous.timer);
    const h: Held = { renewedAt: Date.now() };
    h.timer = setInterval(() => void this.renew(provider, h), this.ttlMs / 3);
    h.timer.unref();
    this.held.set(provider, h);
    this.changed();
  }

  private async renew(provider: string, h: Held): Promise<void> {
    try {
      const holder = await this.store.holdLease(leaseName(provider), this.instance, this.ttlMs);
      this.outage.succeeded({ provider }, provider);
      this.holders.set(provider, holder);
      if (holder === this.instance) {
        h.renewedAt = Date.now();
        return;
      }
      this.logger?.warn(
        { provider, leader: holder },
        'provider lease lost to another instance; stopping the provider here',
      );
      this.drop(provider);
    } catch (err) {
      this.outage.failed(err, { provider }, provider);
    }
  }

  private drop(provider: string): void {
    const h = this.held.get(provider);
    if (!h) return;
    clearInterval(h.timer);
    this.held.delete(provider);
    this.changed();
  }

  private changed(): void {
    for (const listener of this.listeners) listener(this.held.size);
  }
}

export function leaseName(provider: string): string {
  return `pipeline.provider.${provider}`;
}
