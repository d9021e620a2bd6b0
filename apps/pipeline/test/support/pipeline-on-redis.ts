/**
 * A pipeline bootstrapped on the shared Redis in a namespace of its own, for the tests of one
 * describe block: started before them (and checked to run on Redis); closed, its keys deleted and
 * the client let go after them.
 */
import Redis from 'ioredis';
import request from 'supertest';
import { deleteRedisPrefix, redisUrl, sharedRedisEnv, uniqueId } from '@mdp/testing';
import { bootstrap, PipelineApp } from '../../src/bootstrap';

export interface ProviderView {
  provider: string;
  scale: number;
  pressure: string;
  effectiveRate: number;
  paused: boolean;
}

export interface PipelineOnRedis {
  ns: string;
  /** A client of the shared Redis, to write entries by hand and read the pipeline's streams. */
  redis: Redis;
  svc: PipelineApp;
  /** GET /providers */
  providers(): Promise<ProviderView[]>;
  synthetic(): Promise<ProviderView>;
}

export function usePipelineOnRedis(prefix: string, env: Record<string, string>): PipelineOnRedis {
  const pipe = {
    providers: async () =>
      (await request(pipe.svc.app.getHttpServer()).get('/providers').expect(200))
        .body as ProviderView[],
    synthetic: async () => (await pipe.providers()).find((p) => p.provider === 'synthetic')!,
  } as PipelineOnRedis;

  beforeAll(async () => {
    pipe.ns = uniqueId(prefix);
    pipe.redis = new Redis(redisUrl());
    pipe.svc = await bootstrap({
      port: 0,
      handleSignals: false,
      env: { ...sharedRedisEnv(pipe.ns), ...env },
    });
    expect(pipe.svc.connection.mode).toBe('redis');
  });

  afterAll(async () => {
    await pipe.svc?.close();
    await deleteRedisPrefix(pipe.redis, pipe.ns);
    pipe.redis.disconnect();
  });

  return pipe;
}
