export { resolveService } from './services';
export type { ResolvedService, ServiceName } from './services';
export {
  uniqueId,
  redisUrl,
  sharedRedisEnv,
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
export { openBenchRun, envWithPrefix, runBench } from './bench-run';
export type { BenchRun } from './bench-run';
export {
  cpuSeconds,
  cpuSecondsBetween,
  cpuSecondsByPid,
  machineJiffies,
  peakRssMb,
  redisCpuSeconds,
  startScriptFlags,
} from './proc-stats';
export { TcpProxy } from './system/tcp-proxy';
export { freePort } from './system/ports';
export { parsePrometheus, sumMetric } from './system/prometheus';
export type { MetricSample } from './system/prometheus';
export { stopAll, track, untrack } from './system/cleanup';
export type { Stoppable } from './system/cleanup';
export { ServiceEndpoint, ServiceProcess, describeExit } from './system/service-process';
export type {
  AppProcessOptions,
  ExitStatus,
  ServiceProcessOptions,
} from './system/service-process';
export { RedisServer } from './system/redis-server';
export type { RedisServerOptions } from './system/redis-server';
export { RedisCluster } from './system/redis-cluster';
export type { ClusterNode, RedisClusterOptions } from './system/redis-cluster';
export { delay, waitFor } from './system/wait';
export type { WaitOptions } from './system/wait';
export { REGISTER_TS } from './process';
