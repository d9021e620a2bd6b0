import {
  BeforeApplicationShutdown,
  DynamicModule,
  Inject,
  Injectable,
  Module,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import type { EventBus, PulseBus } from '@mdp/pulse';
import { EVENT_BUS, HealthCheckResult, HealthRegistry, Logger } from '@mdp/service-kit';
// The store's SQL clients, imported file by file: the package index would load the whole store service.
import { PgSqlClient, PgliteSqlClient, type SqlClient } from '@mdp/sql';
import { Registry } from 'prom-client';
import { PulseObserver } from '../observer/pulse-observer.service';
import { AuditController } from './audit.controller';
import { AuditStore } from './audit-store';
import { AuditTrail } from './audit-trail';
import { ChangeAuditor } from './change-auditor';
import { DeadLetterAudit } from './dead-letter-audit';
import { SERVICE_LOGGER } from '@mdp/service-kit';

export interface AuditOptions {
  /** PostgreSQL; unset means embedded PGlite in `pgliteDir`. */
  databaseUrl?: string;
  pgliteDir: string;
  /** An open client (tests); not closed on shutdown. */
  client?: SqlClient;
  coalesceMs: number;
}

export const AUDIT_OPTIONS = Symbol('AUDIT_OPTIONS');
export const AUDIT_DB = Symbol('AUDIT_DB');

/**
 * Opens the database, creates `audit_log` (retrying until it can: the service answers /health
 * meanwhile), hooks the change auditor and the audit-stream ingest into the observer.
 */
@Injectable()
export class AuditLifecycle
  implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown
{
  migrated = false;
  private lastError?: string;
  private readonly waiters = new Set<() => void>();
  private readonly abort = new AbortController();

  constructor(
    @Inject(AUDIT_DB) private readonly db: SqlClient,
    @Inject(AUDIT_OPTIONS) private readonly options: AuditOptions,
    @Inject(SERVICE_LOGGER) private readonly logger: Logger,
    private readonly trail: AuditTrail,
    private readonly changes: ChangeAuditor,
    observer: PulseObserver,
    health: HealthRegistry,
  ) {
    observer.listen(changes);
    observer.listen({
      audit: async (entry, envelope) => {
        await this.whenMigrated(10_000);
        await trail.ingest(entry, envelope);
      },
    });
    health.register('database', () => this.check());
  }

  onApplicationBootstrap(): void {
    void this.migrate();
    this.changes.start();
  }

  private async migrate(): Promise<void> {
    for (let attempt = 0; !this.abort.signal.aborted; attempt++) {
      try {
        await this.trail.store.migrate();
        this.migrated = true;
        this.lastError = undefined;
        for (const w of this.waiters) w();
        return;
      } catch (err) {
        this.lastError = (err as Error).message;
        this.logger.error({ err: this.lastError, attempt }, 'audit_log migration failed; retrying');
        await new Promise((r) => setTimeout(r, Math.min(5000, 200 * 2 ** attempt)).unref());
      }
    }
  }

  /** Resolves once audit_log exists; rejects after `timeoutMs` (the delivery is then retried). */
  whenMigrated(timeoutMs: number): Promise<void> {
    if (this.migrated) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(done);
        reject(
          new Error(`audit_log not available: ${this.lastError ?? 'migration still running'}`),
        );
      }, timeoutMs);
      this.waiters.add(done);
    });
  }

  async check(): Promise<HealthCheckResult> {
    const details = { dialect: this.db.dialect, migrated: String(this.migrated) };
    if (!this.migrated)
      return {
        state: 'unhealthy',
        details: { ...details, error: this.lastError ?? 'audit_log not created yet' },
      };
    try {
      await this.db.query('SELECT 1');
      return { state: 'healthy', details };
    } catch (err) {
      return { state: 'unhealthy', details: { ...details, error: (err as Error).message } };
    }
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.abort.abort();
    await this.changes.stop();
  }

  async onApplicationShutdown(): Promise<void> {
    if (!this.options.client) await this.db.close();
  }
}

/** The audit trail: `audit_log`, GET /audit, coalesced change audits, dead-letter audits. */
@Module({})
export class AuditModule {
  static forRoot(options: AuditOptions): DynamicModule {
    return {
      module: AuditModule,
      global: true,
      controllers: [AuditController],
      providers: [
        { provide: AUDIT_OPTIONS, useValue: options },
        {
          provide: AUDIT_DB,
          inject: [SERVICE_LOGGER],
          useFactory: async (logger: Logger): Promise<SqlClient> => {
            if (options.client) return options.client;
            if (options.databaseUrl)
              return new PgSqlClient({ connectionString: options.databaseUrl, maxConnections: 4 });
            logger.info(
              { dir: options.pgliteDir },
              'DATABASE_URL not set: audit_log in embedded PostgreSQL (PGlite)',
            );
            return PgliteSqlClient.open(options.pgliteDir);
          },
        },
        {
          provide: AuditStore,
          inject: [AUDIT_DB],
          useFactory: (db: SqlClient) => new AuditStore(db),
        },
        {
          provide: AuditTrail,
          inject: [EVENT_BUS, AuditStore, SERVICE_LOGGER, Registry],
          useFactory: (bus: EventBus, store: AuditStore, logger: Logger, registry: Registry) =>
            new AuditTrail(bus, store, logger, registry),
        },
        {
          provide: ChangeAuditor,
          inject: [AuditTrail, SERVICE_LOGGER],
          useFactory: (trail: AuditTrail, logger: Logger) =>
            new ChangeAuditor(trail, options.coalesceMs, logger),
        },
        {
          provide: DeadLetterAudit,
          inject: [EVENT_BUS, AuditTrail, SERVICE_LOGGER],
          useFactory: (bus: EventBus, trail: AuditTrail, logger: Logger) =>
            new DeadLetterAudit(bus as PulseBus, trail, logger),
        },
        AuditLifecycle,
      ],
      exports: [AuditTrail, AuditStore, DeadLetterAudit],
    };
  }
}
