import { z } from 'zod';
import { parseEnv, portShape, sharedEnvShape } from '@mdp/service-kit';

export const ORCHESTRATOR_PORT = 8080;

/** Shared variables (SYSTEM.md) plus the orchestrator's port; parsed once at start-up. */
export const OrchestratorEnv = z.object({
  ...sharedEnvShape,
  ...portShape(ORCHESTRATOR_PORT),
});
export type OrchestratorEnv = z.infer<typeof OrchestratorEnv>;

export function loadOrchestratorEnv(env: Record<string, string | undefined> = process.env): OrchestratorEnv {
  return parseEnv(OrchestratorEnv, env);
}
