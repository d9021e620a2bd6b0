import type { SchemaId } from '../src';

/**
 * One valid payload per schema id and track. Every v2 sample is its v1 sample plus v2-only fields
 * (nested ones included), so "a v1 reader ignores the v2 additions" can be checked as equality.
 */
export interface TrackSamples {
  v1: Record<string, unknown>;
  v2: Record<string, unknown>;
}

const TS = 1729234567.123;

const feedback = {
  coordinator_id: 'bars-coord',
  queue_size: 80,
  capacity: 100,
  level: 'soft',
  source: 'store',
  ts: TS,
};
const rate = { provider: 'ibkr', scale: 0.5, reason: 'hard', ts: TS };
const controlResult = { status: 'ok', detail: 'published to mdp.control.actions' };
const audit = { actor: 'alice', role: 'admin', action: 'pause', result: controlResult, ts: TS };
const component = { name: 'database', state: 'healthy', details: { latency_ms: '3' } };
const health = {
  service: 'store',
  state: 'degraded',
  components: [component, { name: 'redis', state: 'degraded', details: {} }],
  version: '0.1.0',
  ts: TS,
};
const control = { action: 'pause', ts: TS, target: 'pipeline' };
const node = {
  node_id: 'pipeline-1',
  role: 'pipeline',
  health: 'healthy',
  version: '0.1.0',
  last_seen_ts: TS,
};
const topology = {
  cluster_id: 'local',
  region: 'eu-west-1',
  nodes: [node, { ...node, node_id: 'store-1', role: 'store', health: 'degraded' }],
};
const bar = {
  provider: 'ibkr',
  symbol: 'AAPL',
  interval: '1m',
  ts: 1704103200,
  open: 150,
  high: 151.5,
  low: 149.75,
  close: 150.5,
  volume: 1000,
};
const option = {
  provider: 'ibkr',
  symbol: 'AAPL',
  expiry: '2024-06-21',
  option_type: 'C',
  strike: 180,
  ts: 1704103200,
  iv: 0.23,
  delta: 0.41,
  gamma: 0.02,
  oi: 12000,
  volume: 350,
  spot: 175.2,
};
const news = {
  provider: 'benzinga',
  id: 'bz-123',
  published_at: 1704103200,
  title: 'Apple ships a thing',
  symbol: 'AAPL',
  url: 'https://example.com/a',
  sentiment_score: 0.4,
};
const fundamentals = {
  provider: 'fmp',
  symbol: 'AAPL',
  asof: 1696032000,
  total_assets: 352583e6,
  total_liabilities: 290437e6,
  net_income: 96995e6,
  eps: 6.16,
};

export const SAMPLES: Record<SchemaId, TrackSamples> = {
  'telemetry.FeedbackEvent': {
    v1: feedback,
    v2: {
      ...feedback,
      utilization: 0.8,
      reason: 'queue_high_watermark',
      seq: 41,
      started_at: 1729234500.25,
      drain_rate: 1250.5,
      ttl_s: 2,
    },
  },
  'telemetry.RateAdjustment': {
    v1: rate,
    v2: { ...rate, source_coordinator_id: 'bars-coord', correlation_id: 'evt-1' },
  },
  'telemetry.AuditEnvelope': {
    v1: audit,
    v2: {
      ...audit,
      result: { ...controlResult, outcome: 'accepted', correlation_id: 'req-1' },
      operation: 'pause',
      target: 'pipeline',
      correlation_id: 'req-1',
      attributes: { ip: '10.0.0.1' },
    },
  },
  'telemetry.HealthStatus': { v1: health, v2: { ...health, ready: true, uptime_s: 12.5 } },
  'telemetry.HealthComponent': { v1: component, v2: { ...component } },
  'control.ControlAction': {
    v1: control,
    v2: {
      ...control,
      provider: 'ibkr',
      scale: 0.5,
      actor: 'alice',
      correlation_id: 'req-1',
      reason: 'maintenance',
    },
  },
  'control.ControlResult': {
    v1: controlResult,
    v2: {
      ...controlResult,
      outcome: 'accepted',
      action: 'pause',
      target: 'pipeline',
      correlation_id: 'req-1',
      ts: TS,
    },
  },
  'federation.ClusterTopology': {
    v1: topology,
    v2: {
      ...topology,
      nodes: topology.nodes.map((n) => ({ ...n, url: `http://${n.node_id}:8080` })),
      streams: [
        {
          name: 'telemetry.feedback',
          length: 42,
          dlq_length: 0,
          groups: [
            {
              name: 'pipeline',
              consumers: 2,
              pending: 1,
              lag: 3,
              last_delivered_id: '1729234567123-0',
            },
            { name: 'orchestrator', consumers: 1, pending: 0, lag: null },
          ],
        },
      ],
      ts: TS,
    },
  },
  'md.Bar': { v1: bar, v2: { ...bar, trades: 17, vwap: 150.2 } },
  'md.OptionSnap': {
    v1: option,
    v2: { ...option, bid: 3.1, ask: 3.3, last: 3.2, theta: -0.05, vega: 0.12 },
  },
  'md.News': {
    v1: news,
    v2: {
      ...news,
      summary: 'short',
      source: 'Reuters',
      author: 'R. Porter',
      symbols: ['AAPL', 'MSFT'],
    },
  },
  'md.Fundamentals': {
    v1: fundamentals,
    v2: { ...fundamentals, revenue: 383285e6, shares_outstanding: 15.55e9, currency: 'USD' },
  },
};

/** The schema ids every service agrees on (SYSTEM.md, "Streams"). */
export const SYSTEM_SCHEMA_IDS = [
  'telemetry.FeedbackEvent',
  'telemetry.RateAdjustment',
  'telemetry.AuditEnvelope',
  'telemetry.HealthStatus',
  'control.ControlAction',
  'md.Bar',
  'md.OptionSnap',
  'md.News',
  'md.Fundamentals',
];

/** Changes that each make a v1 FeedbackEvent invalid (a bound or an enum broken, ISO time). */
export const BAD_FEEDBACK_PATCHES: Array<Record<string, unknown>> = [
  { queue_size: -1 },
  { capacity: 0 },
  { level: 'medium' },
  { ts: '2024-01-01T00:00:00Z' },
];

export const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;
