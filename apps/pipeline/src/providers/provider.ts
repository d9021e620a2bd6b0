import type { Bar } from '@mdp/contracts';

/**
 * Market-data record kinds a provider can stream, with the logical stream and schema each is
 * published under. Bars first; option snapshots, news and fundamentals get their own kinds once
 * their contracts exist.
 */
export const RECORD_KINDS = {
  bar: { stream: 'md.bars', schemaId: 'md.Bar' },
} as const;

export type RecordKind = keyof typeof RECORD_KINDS;

export interface BarRecord {
  kind: 'bar';
  /** Partition key on the bus. */
  symbol: string;
  data: Bar;
}

export type MarketRecord = BarRecord;

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
