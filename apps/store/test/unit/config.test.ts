import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ConfigError } from '@mdp/service-kit';
import { REGISTER_TS } from '@mdp/testing';
import { loadStoreEnv } from '../../src/config/store-config';

describe('store settings', () => {
  it('has the documented defaults', () => {
    const env = loadStoreEnv({});
    expect(env).toMatchObject({
      PORT: 8081,
      MDS_COORDINATOR_CAPACITY: 10_000,
      MDS_COORDINATOR_WORKERS: 4,
      MDS_COORDINATOR_BATCH_SIZE: 500,
      MDS_COORDINATOR_FLUSH_INTERVAL: 0.25,
      MDS_COORDINATOR_OVERFLOW: 'block',
      MDS_RETRY_MAX_ATTEMPTS: 5,
      MDS_RETRY_INITIAL_BACKOFF_MS: 50,
      MDS_RETRY_MAX_BACKOFF_MS: 2000,
      MDS_RETRY_BACKOFF_MULTIPLIER: 2,
      MDS_RETRY_JITTER: true,
      MDS_CB_FAILURE_THRESHOLD: 5,
      MDS_CB_HALF_OPEN_AFTER_SEC: 1,
      MDS_CB_HALF_OPEN_MAX_SEC: 30,
      MDS_FB_ENABLE_HTTP_BROADCAST: false,
      MDS_FB_HTTP_TIMEOUT: 2.5,
      MDS_FB_HTTP_MAX_RETRIES: 3,
      MDS_FB_HTTP_BACKOFF: 0.5,
    });
    expect(env.DATABASE_URL).toBeUndefined();
  });

  it('reads overrides', () => {
    const env = loadStoreEnv({
      PORT: '9000',
      MDS_COORDINATOR_OVERFLOW: 'drop_oldest',
      MDS_RETRY_JITTER: 'false',
      MDS_COORDINATOR_FLUSH_INTERVAL: '0.5',
    });
    expect(env).toMatchObject({
      PORT: 9000,
      MDS_COORDINATOR_OVERFLOW: 'drop_oldest',
      MDS_RETRY_JITTER: false,
      MDS_COORDINATOR_FLUSH_INTERVAL: 0.5,
    });
  });

  it('rejects bad values with one clear line per variable', () => {
    let err: unknown;
    try {
      loadStoreEnv({
        MDS_COORDINATOR_CAPACITY: '0',
        MDS_COORDINATOR_WORKERS: 'four',
        MDS_COORDINATOR_OVERFLOW: 'explode',
        MDS_RETRY_JITTER: 'maybe',
        MDS_CB_HALF_OPEN_AFTER_SEC: '-1',
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as Error).message;
    expect(msg).toContain('MDS_COORDINATOR_CAPACITY: must be >= 1');
    expect(msg).toContain('MDS_COORDINATOR_WORKERS: must be an integer, got "four"');
    expect(msg).toContain('MDS_COORDINATOR_OVERFLOW: must be block, drop_oldest or error');
    expect(msg).toContain('MDS_RETRY_JITTER: must be true or false, got "maybe"');
    expect(msg).toContain('MDS_CB_HALF_OPEN_AFTER_SEC: must be > 0');
  });

  it('checks the watermarks and the webhook settings against each other', () => {
    expect(() =>
      loadStoreEnv({
        MDS_COORDINATOR_CAPACITY: '100',
        MDS_COORDINATOR_HIGH_WATERMARK: '50',
        MDS_COORDINATOR_LOW_WATERMARK: '60',
      }),
    ).toThrow('MDS_COORDINATOR_LOW_WATERMARK: must be below the high watermark (50), got 60');
    expect(() =>
      loadStoreEnv({ MDS_COORDINATOR_CAPACITY: '100', MDS_COORDINATOR_HIGH_WATERMARK: '150' }),
    ).toThrow('MDS_COORDINATOR_HIGH_WATERMARK');
    expect(() => loadStoreEnv({ MDS_FB_ENABLE_HTTP_BROADCAST: 'true' })).toThrow(
      'MDS_FB_HTTP_ENDPOINT: is required',
    );
    expect(() => loadStoreEnv({ MDS_FB_HTTP_ENDPOINT: 'not a url' })).toThrow(
      'MDS_FB_HTTP_ENDPOINT',
    );
  });
});

describe('production database', () => {
  it('requires DATABASE_URL when NODE_ENV=production', () => {
    expect(() => loadStoreEnv({ NODE_ENV: 'production' })).toThrow(
      'DATABASE_URL: is required when NODE_ENV=production',
    );
    expect(
      loadStoreEnv({ NODE_ENV: 'production', DATABASE_URL: 'postgres://db/mdp' }).DATABASE_URL,
    ).toBe('postgres://db/mdp');
    expect(loadStoreEnv({ NODE_ENV: 'development' }).DATABASE_URL).toBeUndefined();
  });

  it('the service exits 1 at start-up, naming the variable, instead of opening embedded PGlite', () => {
    const env: Record<string, string | undefined> = {
      ...process.env,
      NODE_ENV: 'production',
      PORT: '0',
    };
    delete env.DATABASE_URL;
    const run = spawnSync(
      process.execPath,
      ['-r', REGISTER_TS, join(__dirname, '..', '..', 'src', 'main.ts')],
      { env, encoding: 'utf8', timeout: 30_000 },
    );
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('DATABASE_URL: is required when NODE_ENV=production');
  });
});
