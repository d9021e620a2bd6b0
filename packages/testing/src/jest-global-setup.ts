/**
 * Jest globalSetup: resolves Redis and Postgres once per run and hands them to the test workers
 * through the environment (workers are forked after this runs, so they inherit it).
 */
import { resolveService, ServiceName } from './services';
import { ENV_KEYS } from './env-keys';

type Stopper = () => Promise<void>;

export default async function globalSetup(): Promise<void> {
  const stoppers: Stopper[] = [];
  for (const name of ['redis', 'postgres'] as ServiceName[]) {
    const resolved = await resolveService(name);
    const keys = ENV_KEYS[name];
    if (resolved.url) process.env[keys.url] = resolved.url;
    else process.env[keys.skip] = resolved.skipReason ?? 'unavailable';
    if (resolved.stop) stoppers.push(resolved.stop);
  }
  (globalThis as { __MDP_TEST_STOPPERS__?: Stopper[] }).__MDP_TEST_STOPPERS__ = stoppers;
}
