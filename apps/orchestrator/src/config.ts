import { z } from 'zod';
import {
  envIntAtLeast,
  envOptionalString,
  envString,
  parseEnv,
  serviceEnvShape,
} from '@mdp/service-kit';

export const ORCHESTRATOR_PORT = 8080;

const positiveMs = (fallback: number) => envIntAtLeast(fallback, 1, 'must be >= 1 (milliseconds)');

/** Shared variables (SYSTEM.md) plus the orchestrator's own; parsed once at start-up. */
export const OrchestratorEnv = z.object({
  ...serviceEnvShape(ORCHESTRATOR_PORT),
  /** Bearer token of POST /control; unset disables control (403), it is never open. */
  ORCH_ADMIN_TOKEN: envOptionalString(),
  /** How long POST /control waits for the target's result before answering 202. */
  ORCH_CONTROL_TIMEOUT_MS: positiveMs(5000),
  /** Window of coalesced audit rows (backpressure level and rate changes): at most one row per key per window. */
  ORCH_AUDIT_COALESCE_MS: positiveMs(5000),
  /** How often dead-letter streams and XINFO are polled (audit of dead letters, lag/pending gauges, cockpit). */
  ORCH_POLL_MS: positiveMs(2000),
  /** Embedded PostgreSQL directory when DATABASE_URL is unset (`memory://` for a throwaway one). */
  ORCH_PGLITE_DIR: envString('.data/orchestrator/pglite'),
  ORCH_CLUSTER_ID: envOptionalString(),
  ORCH_REGION: envString('local'),
});
export type OrchestratorEnv = z.infer<typeof OrchestratorEnv>;

export function loadOrchestratorEnv(
  env: Record<string, string | undefined> = process.env,
): OrchestratorEnv {
  return parseEnv(OrchestratorEnv, env);
}
