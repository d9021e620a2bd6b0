/**
 * One table per market-data kind, with the contracts' natural keys (packages/contracts/src/md). A
 * column knows how to read its value from a contract row, how it travels to the database (array /
 * staging type) and how that becomes the stored type (epoch seconds -> timestamptz).
 */
export type SinkKind = 'bars' | 'options' | 'news' | 'fundamentals';
export const SINK_KINDS: readonly SinkKind[] = ['bars', 'options', 'news', 'fundamentals'];

export type Row = Record<string, unknown>;

export interface ColumnSpec {
  name: string;
  /** Stored type, as in CREATE TABLE. */
  type: string;
  /** Type the value is sent as (unnest array element / COPY staging column). */
  wire: string;
  notNull?: boolean;
  /** SQL turning the wire value `x` into the stored value; identity when absent. */
  convert?: (x: string) => string;
  read: (row: Row) => unknown;
  /** Set when `read` is a plain property read of this field (lets hot paths inline it). */
  field?: string;
  /** Epoch seconds stored as timestamptz (the direct COPY path formats these itself). */
  instant?: boolean;
}

export interface TableSpec {
  kind: SinkKind;
  table: string;
  columns: ColumnSpec[];
  key: string[];
}

const epoch = (x: string) => `to_timestamp(${x})`;
const upper = (v: unknown) => (typeof v === 'string' ? v.toUpperCase() : v);
const opt = (v: unknown) => (v === undefined ? null : v);

function col(
  name: string,
  type: string,
  wire: string,
  extra: Partial<ColumnSpec> = {},
): ColumnSpec {
  return {
    name,
    type,
    wire,
    read: (r) => opt(r[name]),
    ...(extra.read ? {} : { field: name }),
    ...extra,
  };
}
const text = (name: string, extra: Partial<ColumnSpec> = {}) => col(name, 'text', 'text', extra);
const float = (name: string, extra: Partial<ColumnSpec> = {}) =>
  col(name, 'double precision', 'float8', extra);
const bigint = (name: string) => col(name, 'bigint', 'int8');
const instant = (name: string) =>
  col(name, 'timestamptz', 'float8', { notNull: true, convert: epoch, instant: true });

export const BARS: TableSpec = {
  kind: 'bars',
  table: 'bars_ohlcv',
  key: ['provider', 'symbol', 'interval', 'ts'],
  columns: [
    text('provider', { notNull: true }),
    text('symbol', { notNull: true, read: (r) => upper(r.symbol) }),
    text('interval', { notNull: true }),
    instant('ts'),
    float('open', { notNull: true }),
    float('high', { notNull: true }),
    float('low', { notNull: true }),
    float('close', { notNull: true }),
    float('volume', { notNull: true }),
    bigint('trades'),
    float('vwap'),
  ],
};

export const OPTIONS: TableSpec = {
  kind: 'options',
  table: 'option_snapshots',
  key: ['provider', 'symbol', 'expiry', 'option_type', 'strike', 'ts'],
  columns: [
    text('provider', { notNull: true }),
    text('symbol', { notNull: true, read: (r) => upper(r.symbol) }),
    col('expiry', 'date', 'date', { notNull: true }),
    text('option_type', { notNull: true }),
    float('strike', { notNull: true }),
    instant('ts'),
    float('iv'),
    float('delta'),
    float('gamma'),
    float('theta'),
    float('vega'),
    bigint('oi'),
    bigint('volume'),
    float('spot'),
    float('bid'),
    float('ask'),
    float('last'),
  ],
};

export const NEWS: TableSpec = {
  kind: 'news',
  table: 'news',
  key: ['provider', 'id'],
  columns: [
    text('provider', { notNull: true }),
    text('id', { notNull: true }),
    instant('published_at'),
    text('title', { notNull: true }),
    text('symbol', { read: (r) => opt(upper(r.symbol)) }),
    text('url'),
    float('sentiment_score'),
    text('summary'),
    text('source'),
    text('author'),
    col('symbols', 'jsonb', 'text', {
      convert: (x) => `${x}::jsonb`,
      read: (r) => (Array.isArray(r.symbols) ? JSON.stringify(r.symbols.map(upper)) : null),
    }),
  ],
};

export const FUNDAMENTALS: TableSpec = {
  kind: 'fundamentals',
  table: 'fundamentals',
  key: ['provider', 'symbol', 'asof'],
  columns: [
    text('provider', { notNull: true }),
    text('symbol', { notNull: true, read: (r) => upper(r.symbol) }),
    instant('asof'),
    float('total_assets'),
    float('total_liabilities'),
    float('net_income'),
    float('eps'),
    float('revenue'),
    float('shares_outstanding'),
    text('currency'),
  ],
};

export const TABLES: Record<SinkKind, TableSpec> = {
  bars: BARS,
  options: OPTIONS,
  news: NEWS,
  fundamentals: FUNDAMENTALS,
};

export function createTableSql(spec: TableSpec): string {
  const cols = spec.columns.map(
    (c) => `  ${quote(c.name)} ${c.type}${c.notNull ? ' NOT NULL' : ''}`,
  );
  cols.push(
    '  created_at timestamptz NOT NULL DEFAULT now()',
    '  updated_at timestamptz NOT NULL DEFAULT now()',
  );
  cols.push(`  PRIMARY KEY (${spec.key.map(quote).join(', ')})`);
  return `CREATE TABLE IF NOT EXISTS ${quote(spec.table)} (\n${cols.join(',\n')}\n)`;
}

/** Double-quotes an identifier (`interval` is a keyword). */
export function quote(ident: string): string {
  return `"${ident.replace(/"/g, '""')}"`;
}
