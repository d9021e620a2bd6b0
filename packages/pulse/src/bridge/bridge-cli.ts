#!/usr/bin/env node
/**
 * `pulse-bridge`: runs a Bridge from the environment until SIGINT / SIGTERM.
 *
 *   REDIS_URL          redis:// URL (required unless REDIS_CLUSTER_NODES is set)
 *   REDIS_CLUSTER_NODES  Redis Cluster seeds, host:port comma-separated (wins over REDIS_URL)
 *   MD_NAMESPACE       namespace of both sides (default mdp)
 *   BRIDGE_STREAMS     logical streams, comma-separated (default telemetry.feedback,telemetry.rate_adjustment)
 *   BRIDGE_DIRECTIONS  core-to-mdp, mdp-to-core or both, comma-separated (default both)
 *   BRIDGE_CONSUMER    consumer name in the `bridge` groups (default bridge-<hostname>)
 *   PUBLISHER_TOKEN    sign copies and check sources, as the services do (default unset)
 */
import { hostname } from 'os';
import { z } from 'zod';
import { Bridge, BRIDGE_DIRECTIONS } from './bridge';

const list = (fallback: string) =>
  z
    .string()
    .optional()
    .transform((raw) =>
      (raw?.trim() ? raw : fallback)
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    );

const bridgeEnvShape = {
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, { error: 'must be a redis:// or rediss:// URL' })
    .optional(),
  REDIS_CLUSTER_NODES: z
    .string()
    .optional()
    .transform((v) => v?.trim() || undefined)
    .pipe(
      z
        .string()
        .regex(/^[^\s,:]+:\d+(,\s*[^\s,:]+:\d+)*$/, { error: 'must be a comma list of host:port' })
        .optional(),
    ),
  MD_NAMESPACE: z
    .string()
    .optional()
    .transform((v) => v?.trim() || 'mdp')
    .pipe(
      z.string().regex(/^[A-Za-z0-9_-]+$/, { error: 'must be a name of letters, digits, _ or -' }),
    ),
  BRIDGE_STREAMS: list('telemetry.feedback,telemetry.rate_adjustment').pipe(
    z
      .array(
        z.string().regex(/^[a-z0-9_.]+$/, {
          error: 'must be logical stream names such as telemetry.feedback',
        }),
      )
      .min(1),
  ),
  BRIDGE_DIRECTIONS: list(BRIDGE_DIRECTIONS.join(',')).pipe(
    z
      .array(z.enum(BRIDGE_DIRECTIONS, { error: `must be ${BRIDGE_DIRECTIONS.join(' and/or ')}` }))
      .min(1),
  ),
  BRIDGE_CONSUMER: z
    .string()
    .optional()
    .transform((v) => v?.trim() || `bridge-${hostname()}`),
  PUBLISHER_TOKEN: z
    .string()
    .optional()
    .transform((v) => v?.trim() || undefined),
};

export const BridgeEnv = z
  .object(bridgeEnvShape)
  .refine((e) => !!(e.REDIS_URL || e.REDIS_CLUSTER_NODES), {
    path: ['REDIS_URL'],
    message: 'is required (or REDIS_CLUSTER_NODES)',
    // Listed with the other problems, not only once they are fixed.
    when: () => true,
  });
const VARIABLES = Object.keys(bridgeEnvShape);

export function bridgeFromEnv(env: Record<string, string | undefined>): Bridge {
  const parsed = BridgeEnv.safeParse(env);
  if (!parsed.success) {
    const problems = [...parsed.error.issues]
      .sort((a, b) => VARIABLES.indexOf(String(a.path[0])) - VARIABLES.indexOf(String(b.path[0])))
      .map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
  const e = parsed.data;
  const log = (level: string) => (obj: object, msg?: string) =>
    console.error(JSON.stringify({ level, msg, ...obj }));
  return new Bridge({
    redisUrl: e.REDIS_URL,
    clusterNodes: e.REDIS_CLUSTER_NODES,
    namespace: e.MD_NAMESPACE,
    streams: e.BRIDGE_STREAMS,
    directions: e.BRIDGE_DIRECTIONS,
    consumer: e.BRIDGE_CONSUMER,
    publisherToken: e.PUBLISHER_TOKEN,
    logger: { warn: log('warn'), error: log('error') },
  });
}

if (require.main === module) {
  let bridge: Bridge;
  try {
    bridge = bridgeFromEnv(process.env);
  } catch (err) {
    console.error((err as Error).message);
    process.exit(2);
  }
  bridge.start();
  console.error(
    JSON.stringify({
      level: 'info',
      msg: 'pulse-bridge started',
      streams: process.env.BRIDGE_STREAMS ?? 'default',
    }),
  );
  const stop = async () => {
    await bridge.close();
    console.error(
      JSON.stringify({ level: 'info', msg: 'pulse-bridge stopped', counts: bridge.counts }),
    );
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}
