import {
  decode,
  decodePayload,
  FeedbackEventV1,
  SCHEMA_IDS,
  SCHEMA_TRACKS,
  type DecodeResult,
} from '../src';
import { clone, SAMPLES, SYSTEM_SCHEMA_IDS } from './samples';

function messageOf(r: DecodeResult<unknown>): string {
  if (r.ok) throw new Error('expected the input to be rejected');
  expect(r.error.code).toBe('invalid');
  return r.error.message;
}

const feedback = SAMPLES['telemetry.FeedbackEvent'].v1;

describe('FeedbackEvent rejects bad input with readable paths', () => {
  it.each([
    ['negative queue_size', { queue_size: -1 }, 'queue_size: must be >= 0'],
    ['fractional queue_size', { queue_size: 1.5 }, 'queue_size: must be an integer'],
    ['capacity 0', { capacity: 0 }, 'capacity: must be > 0'],
    ['level "medium"', { level: 'medium' }, 'level: must be one of ok | soft | hard'],
    [
      'ts as an ISO string',
      { ts: '2024-10-18T07:36:07Z' },
      'ts: must be a number of epoch seconds',
    ],
    ['ts as a numeric string', { ts: '1729234567' }, 'ts: must be a number of epoch seconds'],
    ['coordinator_id as a number', { coordinator_id: 7 }, 'coordinator_id: must be a string'],
  ])('%s', (_name, patch, expected) => {
    for (const track of SCHEMA_TRACKS) {
      expect(
        messageOf(decodePayload('telemetry.FeedbackEvent', track, { ...feedback, ...patch })),
      ).toBe(expected);
    }
  });

  it.each([
    ['negative seq', { seq: -1 }, 'seq: must be >= 0'],
    ['fractional seq', { seq: 2.5 }, 'seq: must be an integer'],
    [
      'started_at as an ISO string',
      { started_at: '2024-10-18T07:36:07Z' },
      'started_at: must be a number of epoch seconds',
    ],
    ['negative drain_rate', { drain_rate: -3 }, 'drain_rate: must be >= 0'],
    ['ttl_s 0', { ttl_s: 0 }, 'ttl_s: must be > 0'],
  ])('v2 freshness fields: %s (a v1 reader ignores them)', (_name, patch, expected) => {
    expect(
      messageOf(decodePayload('telemetry.FeedbackEvent', 'v2', { ...feedback, ...patch })),
    ).toBe(expected);
    expect(decodePayload('telemetry.FeedbackEvent', 'v1', { ...feedback, ...patch })).toEqual({
      ok: true,
      value: feedback,
    });
  });

  it('missing ts', () => {
    const { ts: _ts, ...withoutTs } = feedback;
    expect(messageOf(decode(FeedbackEventV1, withoutTs))).toBe('ts: is required');
  });

  it('reports every problem at once', () => {
    const r = decode(FeedbackEventV1, {
      coordinator_id: 'c',
      queue_size: -1,
      capacity: 0,
      level: 'medium',
    });
    expect(messageOf(r).split('; ')).toEqual([
      'queue_size: must be >= 0',
      'capacity: must be > 0',
      'level: must be one of ok | soft | hard',
      'ts: is required',
    ]);
    expect(!r.ok && r.error.issues.map((i) => i.path)).toEqual([
      'queue_size',
      'capacity',
      'level',
      'ts',
    ]);
  });

  it('v2 bounds utilization to 0..1', () => {
    expect(
      messageOf(decodePayload('telemetry.FeedbackEvent', 'v2', { ...feedback, utilization: 1.2 })),
    ).toBe('utilization: must be <= 1');
  });

  it('fills source with "store" when absent, as the Python core does', () => {
    const { source: _source, ...withoutSource } = feedback;
    const r = decode(FeedbackEventV1, withoutSource);
    expect(r.ok && r.value.source).toBe('store');
  });
});

/** Every schema whose samples carry these epoch-seconds fields must refuse them missing or as ISO strings. */
const TIME_FIELDS = ['ts', 'published_at', 'asof', 'last_seen_ts'];

describe('time fields are required epoch seconds in every schema', () => {
  const cases = SCHEMA_IDS.flatMap((id) =>
    SCHEMA_TRACKS.flatMap((track) =>
      TIME_FIELDS.filter((f) => f in SAMPLES[id].v1).map((field) => [id, track, field] as const),
    ),
  );

  it('covers every schema with a top-level time field', () => {
    // Exactly the schemas carried on streams: the HTTP-only ones have no top-level time field.
    expect([...new Set(cases.map(([id]) => id))].sort()).toEqual([...SYSTEM_SCHEMA_IDS].sort());
  });

  it.each(cases)('%s %s: %s missing or ISO', (id, track, field) => {
    const missing = clone(SAMPLES[id][track]);
    delete missing[field];
    expect(messageOf(decodePayload(id, track, missing))).toBe(`${field}: is required`);
    const iso = { ...SAMPLES[id][track], [field]: '2024-01-01T10:00:00Z' };
    expect(messageOf(decodePayload(id, track, iso))).toBe(
      `${field}: must be a number of epoch seconds`,
    );
  });
});

describe('each contract enforces its own bounds', () => {
  const S = SAMPLES;
  it.each([
    [
      'telemetry.RateAdjustment',
      { ...S['telemetry.RateAdjustment'].v1, scale: 1.5 },
      'scale: must be <= 1',
    ],
    [
      'telemetry.RateAdjustment',
      { ...S['telemetry.RateAdjustment'].v1, reason: 'medium' },
      'reason: must be one of ok | soft | hard',
    ],
    [
      'telemetry.AuditEnvelope',
      { ...S['telemetry.AuditEnvelope'].v1, actor: '' },
      'actor: must not be empty',
    ],
    [
      'telemetry.HealthStatus',
      { ...S['telemetry.HealthStatus'].v1, state: 'ok' },
      'state: must be one of healthy | degraded | unhealthy',
    ],
    [
      'telemetry.HealthStatus',
      {
        ...S['telemetry.HealthStatus'].v1,
        components: [{ name: 'db', state: 'healthy', details: { rows: 3 } }],
      },
      'components.0.details.rows: must be a string',
    ],
    ['telemetry.HealthStatus', { service: 's', state: 'healthy', ts: 1 }, 'version: is required'],
    ['telemetry.HealthComponent', { name: 'db' }, 'state: is required'],
    [
      'control.ControlAction',
      { ...S['control.ControlAction'].v1, action: 'Pause!' },
      'action: must be a lower_snake_case action name',
    ],
    ['control.ControlResult', { status: 'accepted' }, 'status: must be one of ok | error'],
    [
      'telemetry.AuditEnvelope',
      { ...S['telemetry.AuditEnvelope'].v1, action: 'set_scale' },
      'action: must be one of pause | resume | reload',
    ],
    [
      'telemetry.AuditEnvelope',
      { ...S['telemetry.AuditEnvelope'].v1, result: 'ok' },
      'result: must be an object { status, detail }',
    ],
    [
      'federation.ClusterTopology',
      {
        cluster_id: 'c',
        region: 'r',
        nodes: [{ ...(S['federation.ClusterTopology'].v1.nodes as object[])[0], role: 'db' }],
      },
      'nodes.0.role: must be one of orchestrator | pipeline | store',
    ],
    [
      'federation.ClusterTopology',
      {
        cluster_id: 'c',
        region: 'r',
        nodes: [{ node_id: 'n', role: 'store', health: 'healthy', version: '1' }],
      },
      'nodes.0.last_seen_ts: is required',
    ],
    [
      'federation.ClusterTopology',
      {
        cluster_id: 'c',
        region: 'r',
        nodes: [
          {
            node_id: 'n',
            role: 'store',
            health: 'healthy',
            version: '1',
            last_seen_ts: '2024-01-01T00:00:00Z',
          },
        ],
      },
      'nodes.0.last_seen_ts: must be a number of epoch seconds',
    ],
    ['md.Bar', { ...S['md.Bar'].v1, high: 149 }, 'high: must be >= max(open, close)'],
    ['md.Bar', { ...S['md.Bar'].v1, low: 151 }, 'low: must be <= min(open, close)'],
    ['md.Bar', { ...S['md.Bar'].v1, volume: -1 }, 'volume: must be >= 0'],
    [
      'md.OptionSnap',
      { ...S['md.OptionSnap'].v1, option_type: 'CALL' },
      'option_type: must be C or P',
    ],
    [
      'md.OptionSnap',
      { ...S['md.OptionSnap'].v1, expiry: '2024-13-01' },
      'expiry: must be a date YYYY-MM-DD',
    ],
    [
      'md.OptionSnap',
      { ...S['md.OptionSnap'].v1, expiry: 1718928000 },
      'expiry: must be a date YYYY-MM-DD',
    ],
    ['md.OptionSnap', { ...S['md.OptionSnap'].v1, strike: 0 }, 'strike: must be > 0'],
    ['md.OptionSnap', { ...S['md.OptionSnap'].v1, delta: -1.5 }, 'delta: must be >= -1'],
    ['md.OptionSnap', { ...S['md.OptionSnap'].v1, oi: 2.5 }, 'oi: must be an integer'],
    ['md.News', { ...S['md.News'].v1, id: undefined }, 'id: is required'],
    ['md.News', { ...S['md.News'].v1, url: 'not a url' }, 'url: must be a URL'],
    ['md.News', { ...S['md.News'].v1, sentiment_score: 2 }, 'sentiment_score: must be <= 1'],
    [
      'md.Fundamentals',
      { ...S['md.Fundamentals'].v1, total_assets: -5 },
      'total_assets: must be >= 0',
    ],
    ['md.Fundamentals', { ...S['md.Fundamentals'].v1, symbol: '' }, 'symbol: must not be empty'],
  ] as const)('%s: %j -> %s', (id, input, expected) => {
    for (const track of SCHEMA_TRACKS)
      expect(messageOf(decodePayload(id, track, input))).toBe(expected);
  });

  it.each([
    [
      'federation.ClusterTopology',
      {
        ...S['federation.ClusterTopology'].v2,
        streams: [
          { name: 's', length: 1, groups: [{ name: 'g', consumers: 1, pending: 0, lag: -1 }] },
        ],
      },
      'streams.0.groups.0.lag: must be >= 0',
    ],
    [
      'md.Fundamentals',
      { ...S['md.Fundamentals'].v1, currency: 'usd' },
      'currency: must be an ISO 4217 code like USD',
    ],
    [
      'control.ControlAction',
      { action: 'set_scale', ts: 1, provider: 'ibkr' },
      'scale: is required when action is set_scale',
    ],
    [
      'control.ControlAction',
      { action: 'set_scale', ts: 1, scale: 2 },
      'provider: is required when action is set_scale; scale: must be <= 1',
    ],
    [
      'telemetry.HealthStatus',
      { ...S['telemetry.HealthStatus'].v1, ready: 'yes' },
      'ready: must be a boolean',
    ],
  ] as const)('v2 %s: %j -> %s', (id, input, expected) => {
    const msg = messageOf(decodePayload(id, 'v2', input));
    for (const part of expected.split('; ')) expect(msg).toContain(part);
  });
});
