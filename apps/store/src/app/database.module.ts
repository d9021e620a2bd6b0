import { DynamicModule, Inject, Injectable, Module, OnApplicationShutdown } from '@nestjs/common';
import { OutageLog } from '@mdp/pulse';
import { HealthCheckResult, HealthRegistry, Logger } from '@mdp/service-kit';
import type { StoreEnv } from '../config/store-config';
import { MigrationReport, runMigrations } from '../sinks/migrations';
import { PgSqlClient, PgliteSqlClient, type SqlClient } from '@mdp/sql';
import { SQL_CLIENT } from './tokens';
import { sleep } from '@mdp/pulse';
import { SERVICE_CONFIG, SERVICE_LOGGER } from '@mdp/service-kit';

export interface DatabaseModuleOptions {
  /** Overrides DATABASE_URL; neither set means embedded PGlite. */
  databaseUrl?: string;
  /** An already-open client (tests); it is not closed on shutdown. */
  client?: SqlClient;
}

/** Opens the database (server or embedded), runs the migrations (retrying until they succeed), reports health. */
@Injectable()
export class DatabaseService implements OnApplicationShutdown {
  migrated = false;
  report?: MigrationReport;
  private lastError?: string;

  constructor(
    @Inject(SQL_CLIENT) readonly client: SqlClient,
    @Inject(SERVICE_LOGGER) private readonly log: Logger,
    @Inject('DATABASE_OWNED') private readonly owned: boolean,
    health: HealthRegistry,
  ) {
    health.register('database', () => this.check());
  }

  /** Retries with backoff until the migrations ran or `signal` aborts; logs the first failure and the success after it. */
  async migrate(signal?: AbortSignal): Promise<boolean> {
    const outage = new OutageLog(this.log, {
      down: 'migrations failed (database unreachable or refusing); retrying with backoff',
      downLevel: 'error',
      up: 'migrations ran after failing; the database answers',
    });
    for (let attempt = 0; !signal?.aborted; attempt++) {
      try {
        this.report = await runMigrations(this.client, {
          info: (o, m) => this.log.info(o, m),
          warn: (o, m) => this.log.warn(o, m),
        });
        this.migrated = true;
        this.lastError = undefined;
        outage.succeeded();
        return true;
      } catch (err) {
        this.lastError = (err as Error).message;
        outage.failed(err);
        await sleep(Math.min(5000, 200 * 2 ** attempt), signal);
      }
    }
    return false;
  }

  async check(): Promise<HealthCheckResult> {
    const details: Record<string, string> = {
      dialect: this.client.dialect,
      migrated: String(this.migrated),
    };
    if (this.report) details.timescale = this.report.timescale;
    if (!this.migrated)
      return {
        state: 'unhealthy',
        details: { ...details, error: this.lastError ?? 'migrations have not run yet' },
      };
    try {
      await this.client.query('SELECT 1');
      return { state: 'healthy', details };
    } catch (err) {
      return { state: 'unhealthy', details: { ...details, error: (err as Error).message } };
    }
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.owned) await this.client.close();
  }
}

@Module({})
export class DatabaseModule {
  static forRoot(options: DatabaseModuleOptions = {}): DynamicModule {
    return {
      module: DatabaseModule,
      global: true,
      providers: [
        { provide: 'DATABASE_OWNED', useValue: !options.client },
        {
          provide: SQL_CLIENT,
          inject: [SERVICE_CONFIG, SERVICE_LOGGER],
          useFactory: async (env: StoreEnv, log: Logger): Promise<SqlClient> => {
            if (options.client) return options.client;
            const url = options.databaseUrl ?? env.DATABASE_URL;
            if (url) {
              return new PgSqlClient({
                connectionString: url,
                maxConnections: env.MDS_DB_POOL_MAX ?? env.MDS_COORDINATOR_WORKERS + 2,
                statementTimeoutMs: env.MDS_DB_STATEMENT_TIMEOUT_MS,
              });
            }
            log.info(
              { dir: env.MDS_PGLITE_DIR },
              'DATABASE_URL not set: using embedded PostgreSQL (PGlite)',
            );
            return PgliteSqlClient.open(env.MDS_PGLITE_DIR);
          },
        },
        DatabaseService,
      ],
      exports: [SQL_CLIENT, DatabaseService],
    };
  }
}
