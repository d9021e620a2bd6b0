export { resolveService } from './services';
export type { ResolvedService, ServiceName } from './services';
export {
  uniqueId,
  redisUrl,
  databaseUrl,
  describeWithRedis,
  describeWithPostgres,
  describeWithServices,
  deleteRedisPrefix,
  createTestSchema,
} from './fixtures';
export type { TestSchema } from './fixtures';
export { benchMachine, writeBenchResult, percentile, redisAnswers, measureBackends } from './bench';
export type { BenchBackend } from './bench';
export { startPrivateRedis, freePort } from './private-redis';
export type { PrivateRedis, PrivateRedisOptions } from './private-redis';
