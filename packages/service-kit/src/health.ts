import { HealthComponent, HealthState, HealthStatus } from '@mdp/contracts';

export interface HealthCheckResult {
  state: HealthState;
  details?: Record<string, string>;
}

export type HealthCheck = () => HealthCheckResult | Promise<HealthCheckResult>;

export interface RegisteredCheck {
  name: string;
  check: HealthCheck;
  /** Counts for /ready: an unhealthy readiness check makes the service not ready. */
  readiness: boolean;
}

const RANK: Record<HealthState, number> = { healthy: 0, degraded: 1, unhealthy: 2 };

/**
 * Aggregates component checks into the contracts' `HealthStatus`. A check that throws or takes longer
 * than `timeoutMs` is reported unhealthy with the reason, rather than hanging the probe.
 */
export class HealthRegistry {
  private readonly checks = new Map<string, RegisteredCheck>();

  constructor(
    readonly service: string,
    readonly version: string,
    private readonly timeoutMs = 2000,
  ) {}

  register(name: string, check: HealthCheck, opts: { readiness?: boolean } = {}): void {
    this.checks.set(name, { name, check, readiness: opts.readiness ?? true });
  }

  unregister(name: string): void {
    this.checks.delete(name);
  }

  async status(): Promise<HealthStatus & { ready: boolean }> {
    const entries = [...this.checks.values()];
    const results = await Promise.all(entries.map((c) => this.run(c)));
    const components: HealthComponent[] = results.map((r, i) => ({
      name: entries[i].name,
      state: r.state,
      details: r.details ?? {},
    }));
    const worst = components.reduce<HealthState>(
      (acc, c) => (RANK[c.state] > RANK[acc] ? c.state : acc),
      'healthy',
    );
    const ready = results.every((r, i) => !entries[i].readiness || r.state !== 'unhealthy');
    return {
      service: this.service,
      state: worst,
      components,
      version: this.version,
      ts: Date.now() / 1000,
      ready,
    };
  }

  private async run(c: RegisteredCheck): Promise<HealthCheckResult> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<HealthCheckResult>((resolve) => {
        timer = setTimeout(
          () =>
            resolve({
              state: 'unhealthy',
              details: { error: `check timed out after ${this.timeoutMs} ms` },
            }),
          this.timeoutMs,
        );
      });
      return await Promise.race([Promise.resolve().then(c.check), timeout]);
    } catch (err) {
      return { state: 'unhealthy', details: { error: (err as Error).message ?? String(err) } };
    } finally {
      if (timer) clearTimeout(timer);
    }
  }
}
