import { hostname } from 'node:os';
import { join } from 'node:path';
import { bootstrapService, ServiceBootstrapOptions, ServiceHandle } from '@mdp/service-kit';
import { orchestratorModules } from './app.module';
import { loadOrchestratorEnv, OrchestratorEnv } from './config';
import type { AuditOptions } from './audit/audit.module';
import type { BusInspector } from './cluster/bus-inspector';
import type { ObserverOptions } from './observer/pulse-observer.service';

export interface BootstrapOptions extends ServiceBootstrapOptions {
  /** Observer overrides (consumer name, streams, clock). */
  observer?: Partial<ObserverOptions>;
  /** An open SQL client for audit_log (not closed on shutdown); default from DATABASE_URL, else PGlite. */
  auditDb?: AuditOptions['client'];
  /** Test seam: how the bus is inspected for /topology. */
  inspector?: BusInspector;
}

export type OrchestratorHandle = ServiceHandle<OrchestratorEnv>;

/** Starts the orchestrator on `PORT` (default 8080): the cockpit, control, audit, topology and health routes. */
export function bootstrap(options: BootstrapOptions = {}): Promise<OrchestratorHandle> {
  return bootstrapService(
    {
      service: 'orchestrator',
      packageDir: join(__dirname, '..'),
      loadEnv: loadOrchestratorEnv,
      modules: ({ env }) =>
        orchestratorModules({
          observer: { consumer: `orch-observer-${hostname()}`, ...options.observer },
          audit: {
            databaseUrl: env.DATABASE_URL,
            pgliteDir: env.ORCH_PGLITE_DIR,
            client: options.auditDb,
            coalesceMs: env.ORCH_AUDIT_COALESCE_MS,
          },
          cluster: {
            redisUrl: env.REDIS_URL,
            clusterId: env.ORCH_CLUSTER_ID ?? env.MD_NAMESPACE,
            region: env.ORCH_REGION,
            pollMs: env.ORCH_POLL_MS,
            inspector: options.inspector,
          },
          control: { adminToken: env.ORCH_ADMIN_TOKEN, timeoutMs: env.ORCH_CONTROL_TIMEOUT_MS },
        }),
      // bodyParser off: POST /control reads its body itself (see ControlModule); no other route takes one.
      nestOptions: { bodyParser: false },
    },
    options,
  );
}
