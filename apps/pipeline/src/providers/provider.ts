import {
  BarV1,
  BarV2,
  FundamentalsV1,
  FundamentalsV2,
  NewsV1,
  NewsV2,
  OptionSnapV1,
  OptionSnapV2,
  STREAMS,
  type Bar,
  type Fundamentals,
  type News,
  type OptionSnap,
} from '@mdp/contracts';

/**
 * Market-data record kinds: the logical stream and schema each is published under, the v1/v2 payload
 * schemas, and the field that carries its market time (for replay pacing).
 */
export const RECORD_KINDS = {
  bar: { stream: STREAMS.bars, schemaId: 'md.Bar', v1: BarV1, v2: BarV2, timeField: 'ts' },
  option: {
    stream: STREAMS.options,
    schemaId: 'md.OptionSnap',
    v1: OptionSnapV1,
    v2: OptionSnapV2,
    timeField: 'ts',
  },
  news: {
    stream: STREAMS.news,
    schemaId: 'md.News',
    v1: NewsV1,
    v2: NewsV2,
    timeField: 'published_at',
  },
  fundamentals: {
    stream: STREAMS.fundamentals,
    schemaId: 'md.Fundamentals',
    v1: FundamentalsV1,
    v2: FundamentalsV2,
    timeField: 'asof',
  },
} as const;

export type RecordKind = keyof typeof RECORD_KINDS;
export const RECORD_KIND_NAMES = Object.keys(RECORD_KINDS) as RecordKind[];

export interface RecordData {
  bar: Bar;
  option: OptionSnap;
  news: News;
  fundamentals: Fundamentals;
}

/** One record; `key` partitions it on the bus (the symbol; a news item without one uses its id). */
export type MarketRecord = {
  [K in RecordKind]: { kind: K; key: string; data: RecordData[K] };
}[RecordKind];
export type BarRecord = Extract<MarketRecord, { kind: 'bar' }>;

export function recordKey(kind: RecordKind, data: RecordData[RecordKind]): string {
  if ('symbol' in data && data.symbol) return data.symbol;
  return kind === 'news' ? (data as News).id : '';
}

/** Market time of a record in epoch seconds. */
export function recordTime(kind: RecordKind, data: RecordData[RecordKind]): number {
  return (data as unknown as Record<string, number>)[RECORD_KINDS[kind].timeField];
}

/**
 * A source of market data. `stream()` may be called again after a failure (the router retries);
 * providers keep their own position, so a restart continues rather than repeats. The router pulls one
 * record per rate token, so a provider is never read faster than its budget.
 */
export interface Provider {
  readonly name: string;
  readonly kinds: readonly RecordKind[];
  stream(signal: AbortSignal): AsyncIterable<MarketRecord>;
  close?(): Promise<void>;
}

/** A record that could not be turned into a valid one (bad file line, vendor message...). */
export interface InvalidRecord {
  provider: string;
  /** Where it came from, e.g. `bars.csv:17`. */
  location: string;
  reason: string;
}

export type InvalidRecordSink = (invalid: InvalidRecord) => void;
