import type { ModuleMetadata } from '@nestjs/common';
import { AuditModule, AuditOptions } from './audit/audit.module';
import { ClusterModule, ClusterOptions } from './cluster/cluster.module';
import { CockpitModule } from './cockpit/cockpit.module';
import { ControlModule, ControlOptions } from './control/control.module';
import { ObserverModule } from './observer/observer.module';
import type { ObserverOptions } from './observer/pulse-observer.service';

export interface OrchestratorModulesOptions {
  observer: ObserverOptions;
  audit: AuditOptions;
  cluster: ClusterOptions;
  control: ControlOptions;
}

/** The orchestrator's own modules; service-kit's ServiceModule provides config, logger, health, metrics, bus. */
export function orchestratorModules(
  options: OrchestratorModulesOptions,
): NonNullable<ModuleMetadata['imports']> {
  return [
    ObserverModule.forRoot(options.observer),
    AuditModule.forRoot(options.audit),
    ClusterModule.forRoot(options.cluster),
    ControlModule.forRoot(options.control),
    CockpitModule.forRoot({ controlEnabled: Boolean(options.control.adminToken) }),
  ];
}
