import { z } from 'zod';
import {
  ConfigError,
  envBool,
  envInt,
  envIntAtLeast,
  envNonNegativeInt,
  envNumberAtLeast,
  envPositiveInt,
  envPositiveNumber,
  parseEnv,
  serviceEnvShape,
  SharedEnv,
} from '../src/config';

describe('parseEnv', () => {
  it('applies the shared defaults from the system map', () => {
    expect(parseEnv(SharedEnv, {})).toEqual({
      PULSE_ENABLED: true,
      EVENT_BUS_BACKEND: 'inmem',
      REDIS_URL: 'redis://localhost:6379/0',
      REDIS_CLUSTER_NODES: undefined,
      MD_PARTITIONS: 1,
      MD_NAMESPACE: 'mdp',
      SCHEMA_TRACK: 'v1',
      PULSE_WIRE: 'mdp',
      PUBLISHER_TOKEN: undefined,
      PULSE_MAX_ENTRY_BYTES: 1048576,
      DATABASE_URL: undefined,
      HEARTBEAT_INTERVAL_MS: 5000,
      LOG_LEVEL: 'info',
      LOG_FORMAT: 'auto',
    });
  });

  it('reads overrides', () => {
    const env = parseEnv(SharedEnv, {
      PULSE_ENABLED: 'false',
      EVENT_BUS_BACKEND: 'redis',
      SCHEMA_TRACK: 'v2',
      MD_NAMESPACE: 'test_mdp',
      PUBLISHER_TOKEN: 's3cret',
      PULSE_WIRE: 'core',
    });
    expect(env).toMatchObject({
      PULSE_ENABLED: false,
      EVENT_BUS_BACKEND: 'redis',
      SCHEMA_TRACK: 'v2',
      MD_NAMESPACE: 'test_mdp',
      PUBLISHER_TOKEN: 's3cret',
      PULSE_WIRE: 'core',
    });
  });

  it('lists every bad variable by name', () => {
    const schema = z.object({
      ...serviceEnvShape(8081),
      CAP: envInt(10).pipe(z.number().gt(0, { error: 'must be > 0' })),
    });
    let error: unknown;
    try {
      parseEnv(schema, {
        EVENT_BUS_BACKEND: 'kafka',
        SCHEMA_TRACK: 'v3',
        PULSE_ENABLED: 'maybe',
        PULSE_WIRE: 'python',
        PORT: '99999',
        CAP: '0',
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    expect(problems).toContain('EVENT_BUS_BACKEND: must be inmem or redis');
    expect(problems).toContain('SCHEMA_TRACK: must be v1 or v2');
    expect(problems).toContain('PULSE_WIRE: must be mdp or core');
    expect(problems).toContain('PULSE_ENABLED: must be true or false, got "maybe"');
    expect(problems).toContain('PORT: must be a TCP port (0-65535)');
    expect(problems).toContain('CAP: must be > 0');
  });

  it('rejects non-integers for integer settings', () => {
    expect(() => parseEnv(z.object({ N: envInt(1) }), { N: '2.5' })).toThrow(
      'N: must be an integer, got "2.5"',
    );
    expect(parseEnv(z.object({ B: envBool(false) }), { B: 'YES' })).toEqual({ B: true });
  });

  it('names the bound a bounded setting breaks, and applies its default', () => {
    const schema = z.object({
      A: envPositiveInt(5),
      B: envNonNegativeInt(0),
      C: envIntAtLeast(5000, 100, 'must be >= 100 (milliseconds)'),
      D: envNumberAtLeast(2, 1),
      E: envPositiveNumber(0.5),
    });
    expect(parseEnv(schema, {})).toEqual({ A: 5, B: 0, C: 5000, D: 2, E: 0.5 });
    let error: unknown;
    try {
      parseEnv(schema, { A: '0', B: '-1', C: '99', D: '0.5', E: '0' });
    } catch (e) {
      error = e;
    }
    expect((error as ConfigError).problems).toEqual([
      'A: must be >= 1',
      'B: must be >= 0',
      'C: must be >= 100 (milliseconds)',
      'D: must be >= 1',
      'E: must be > 0',
    ]);
  });
});
