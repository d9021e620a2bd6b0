import { parseEnv, resolveLogFormat, SharedEnv } from '../src';

describe('log format', () => {
  it('auto is pretty on a terminal and JSON otherwise', () => {
    expect(resolveLogFormat('auto', true)).toBe('pretty');
    expect(resolveLogFormat('auto', false)).toBe('json');
    expect(resolveLogFormat('json', true)).toBe('json');
    expect(resolveLogFormat('pretty', false)).toBe('pretty');
  });

  it('LOG_FORMAT is validated with the shared environment', () => {
    expect(parseEnv(SharedEnv, {}).LOG_FORMAT).toBe('auto');
    expect(parseEnv(SharedEnv, { LOG_FORMAT: 'json' }).LOG_FORMAT).toBe('json');
    expect(() => parseEnv(SharedEnv, { LOG_FORMAT: 'xml' })).toThrow(
      'LOG_FORMAT: must be auto, json or pretty',
    );
  });
});
