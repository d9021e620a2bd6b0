import { providersFromConfig } from '../../src/app/ingest.module';
import { ConfigError } from '@mdp/service-kit';
import { loadConfig } from '../../src/config';

describe('pipeline config', () => {
  it('uses the documented defaults', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      PULSE_ENABLED: true,
      EVENT_BUS_BACKEND: 'inmem',
      REDIS_URL: 'redis://localhost:6379/0',
      MD_NAMESPACE: 'mdp',
      SCHEMA_TRACK: 'v1',
      PORT: 8082,
      PIPELINE_FB_PROVIDER: 'synthetic',
      PIPELINE_FB_SCALE_OK: 1,
      PIPELINE_FB_SCALE_SOFT: 0.5,
      PIPELINE_FB_SCALE_HARD: 0,
      PIPELINE_PROVIDERS: ['synthetic'],
      PIPELINE_SYNTHETIC_SYMBOLS: ['AAPL', 'MSFT', 'SPY'],
      PIPELINE_REPLAY_SPEED: 'max',
    });
    expect(c.PUBLISHER_TOKEN).toBeUndefined();
  });

  it('flow control: step by default; adaptive settings and provider weights are parsed and checked', () => {
    expect(loadConfig({})).toMatchObject({
      PIPELINE_FLOW_POLICY: 'step',
      PIPELINE_FB_MIN_DWELL_MS: 1000,
      PIPELINE_FB_TTL_MS: 10_000,
      PIPELINE_FB_DECAY_MS: 5000,
      PIPELINE_FLOW_TARGET: 0.6,
      PIPELINE_FLOW_WEIGHTS: {},
    });
    expect(
      loadConfig({
        PIPELINE_FLOW_POLICY: 'adaptive',
        PIPELINE_FLOW_WEIGHTS: 'synthetic=3, replay=1',
      }),
    ).toMatchObject({
      PIPELINE_FLOW_POLICY: 'adaptive',
      PIPELINE_FLOW_WEIGHTS: { synthetic: 3, replay: 1 },
    });
    expect(() => loadConfig({ PIPELINE_FLOW_POLICY: 'pid' })).toThrow(
      /PIPELINE_FLOW_POLICY: must be step or adaptive/,
    );
    expect(() => loadConfig({ PIPELINE_FLOW_WEIGHTS: 'a=0' })).toThrow(/"a=0" is not name=weight/);
    expect(() => loadConfig({ PIPELINE_FLOW_TARGET: '1' })).toThrow(
      /PIPELINE_FLOW_TARGET: must be < 1/,
    );
  });

  it('reads overrides', () => {
    const c = loadConfig({
      PULSE_ENABLED: 'false',
      EVENT_BUS_BACKEND: 'redis',
      SCHEMA_TRACK: 'v2',
      PORT: '9000',
      PIPELINE_FB_SCALE_SOFT: '0.7',
      PIPELINE_PROVIDERS: 'synthetic, replay',
      PIPELINE_REPLAY_FILE: '/data/bars.csv.gz',
      PIPELINE_REPLAY_SPEED: '10',
      PIPELINE_SYNTHETIC_MAX_BARS: '5000',
    });
    expect(c).toMatchObject({
      PULSE_ENABLED: false,
      EVENT_BUS_BACKEND: 'redis',
      SCHEMA_TRACK: 'v2',
      PORT: 9000,
      PIPELINE_FB_SCALE_SOFT: 0.7,
      PIPELINE_PROVIDERS: ['synthetic', 'replay'],
      PIPELINE_REPLAY_SPEED: 10,
      PIPELINE_SYNTHETIC_MAX_BARS: 5000,
    });
    expect(loadConfig({}).PIPELINE_SYNTHETIC_MAX_BARS).toBeUndefined();
    expect(() => loadConfig({ PIPELINE_SYNTHETIC_MAX_BARS: '0' })).toThrow(
      /PIPELINE_SYNTHETIC_MAX_BARS: must be a positive integer/,
    );
  });

  it('stops with every bad variable named', () => {
    let error: unknown;
    try {
      loadConfig({
        PULSE_ENABLED: 'maybe',
        EVENT_BUS_BACKEND: 'kafka',
        SCHEMA_TRACK: 'v3',
        PIPELINE_FB_SCALE_HARD: '1.5',
        PIPELINE_PROVIDERS: 'replay,carrier-pigeon',
        PIPELINE_REPLAY_SPEED: 'fast',
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const msg = (error as Error).message;
    for (const v of [
      'PULSE_ENABLED',
      'EVENT_BUS_BACKEND',
      'SCHEMA_TRACK',
      'PIPELINE_FB_SCALE_HARD',
      'PIPELINE_PROVIDERS',
      'PIPELINE_REPLAY_SPEED',
    ]) {
      expect(msg).toContain(`${v}:`);
    }
  });

  it('rejects two providers with the same name', () => {
    expect(() =>
      loadConfig({
        PIPELINE_PROVIDERS: 'synthetic,replay',
        PIPELINE_REPLAY_FILE: 'x.csv',
        PIPELINE_REPLAY_NAME: 'synthetic',
      }),
    ).toThrow(/PIPELINE_PROVIDERS: two providers are named "synthetic"/);
  });

  it('requires a replay file when the replay provider is enabled', () => {
    expect(() => loadConfig({ PIPELINE_PROVIDERS: 'replay' })).toThrow(
      /PIPELINE_REPLAY_FILE: is required when PIPELINE_PROVIDERS includes replay/,
    );
  });
});

describe('provider wiring', () => {
  it('builds the configured providers with their budgets', () => {
    const config = loadConfig({
      PIPELINE_PROVIDERS: 'synthetic,replay,binance',
      PIPELINE_REPLAY_FILE: 'bars.csv',
      PIPELINE_BINANCE_URL: 'ws://127.0.0.1:9',
      PIPELINE_BINANCE_SYMBOLS: 'btcusdt',
    });
    const silent = { warn: () => undefined } as never;
    const built = providersFromConfig(config, {
      clock: { now: () => 0, sleep: async () => undefined },
      logger: silent,
      metrics: { invalidRecords: { inc: () => undefined } } as never,
    });
    expect(built.map((b) => [b.provider.name, b.budget])).toEqual([
      ['synthetic', { rate: 10, burst: 20 }],
      ['replay', { rate: 100, burst: 100 }],
      ['binance', { rate: 50, burst: 50 }],
    ]);
  });
});
