import { z } from 'zod';
import {
  ConfigError,
  envBool,
  envInt,
  parseEnv,
  portShape,
  SharedEnv,
  sharedEnvShape,
} from '../src/config';

describe('parseEnv', () => {
  it('applies the shared defaults from the system map', () => {
    expect(parseEnv(SharedEnv, {})).toEqual({
      PULSE_ENABLED: true,
      EVENT_BUS_BACKEND: 'inmem',
      REDIS_URL: 'redis://localhost:6379/0',
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
      ...sharedEnvShape,
      ...portShape(8081),
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
});
