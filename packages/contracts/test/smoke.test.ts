import { decode, decodeEnvelope, FeedbackEventV1 } from '../src';

describe('contracts smoke', () => {
  it('reports readable paths', () => {
    const r = decode(FeedbackEventV1, { coordinator_id: 'c', queue_size: -1, capacity: 0, level: 'medium', ts: '2024-01-01T00:00:00Z' });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.message).toContain('capacity: must be > 0');
      expect(r.error.message).toContain('queue_size: must be >= 0');
      expect(r.error.message).toContain('level: must be one of ok | soft | hard');
      expect(r.error.message).toContain('ts: must be a number of epoch seconds');
    }
  });
  it('decodes an envelope and prefixes payload paths', () => {
    const env = { id: 'x', key: 'k', ts: 1, meta: { schema_id: 'telemetry.FeedbackEvent', track: 'v1', headers: {} }, payload: { coordinator_id: 'c', queue_size: 1, capacity: 0, level: 'ok', ts: 1 } };
    const r = decodeEnvelope(env);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.message).toBe('payload.capacity: must be > 0');
    const bad = decodeEnvelope({ ...env, meta: { ...env.meta, track: 'v3' } });
    expect(!bad.ok && bad.error.code).toBe('unknown_track');
  });
});
