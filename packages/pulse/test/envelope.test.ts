import { envelopeFor } from '../src';
import { bar } from './helpers';

describe('envelopeFor', () => {
  it('on v1 drops the v2-only fields of a flat payload and keeps the rest', () => {
    const env = envelopeFor(
      'md.Bar',
      { ...bar(1), trades: 7, vwap: 101.5 },
      { track: 'v1', key: 'AAPL', headers: { provider: 'p' } },
    );
    expect(env.payload).toEqual(bar(1));
    expect(env.meta).toEqual({ schema_id: 'md.Bar', track: 'v1', headers: { provider: 'p' } });
    expect(env.key).toBe('AAPL');
  });

  it('on v1 drops v2-only fields at every depth of a nested payload', () => {
    const status = {
      service: 'store',
      state: 'healthy',
      version: '1',
      ts: 1,
      ready: true,
      uptime_s: 3,
      components: [{ name: 'bus', state: 'healthy', details: {}, extra: 'x' }],
    };
    const env = envelopeFor('telemetry.HealthStatus', status, { track: 'v1' });
    expect(env.payload).toEqual({
      service: 'store',
      state: 'healthy',
      version: '1',
      ts: 1,
      components: [{ name: 'bus', state: 'healthy', details: {} }],
    });
  });

  it('on v2 sends the payload as given', () => {
    const payload = { ...bar(1), trades: 7 };
    expect(envelopeFor('md.Bar', payload, { track: 'v2' }).payload).toBe(payload);
  });

  it('refuses a nested payload the v1 contract rejects (a producer bug)', () => {
    expect(() =>
      envelopeFor('telemetry.HealthStatus', { service: 'x', components: [{}] }, { track: 'v1' }),
    ).toThrow(/cannot be published on v1/);
  });
});
