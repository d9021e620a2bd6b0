/**
 * `mdp publish --file bars.csv`: replays a file onto the market-data streams with a progress bar. The
 * file is read by the pipeline's ReplayProvider (CSV or NDJSON, gzip or not, invalid lines reported
 * with file:line) and published by its BatchPublisher (the same envelopes the pipeline sends).
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { SingleBar } from 'cli-progress';
import { RECORD_KINDS, RecordKind } from '@mdp/pipeline/dist/providers/provider';
import { ReplayProvider } from '@mdp/pipeline/dist/providers/replay-provider';
import { BatchPublisher } from '@mdp/pipeline/dist/router/batch-publisher';
import { CliContext, CliError, openBus } from '../context';

export interface PublishOptions {
  file: string;
  kind?: RecordKind;
  /** Provider name for records without a `provider` column; default `replay`. */
  provider?: string;
  batchSize?: number;
}

export interface PublishReport {
  published: number;
  invalid: number;
  streams: string[];
}

/** Data lines of a plain (not gzip) file, for the bar's total; undefined when it cannot tell. */
async function countRecords(file: string): Promise<number | undefined> {
  if (/\.gz$/i.test(file)) return undefined;
  let lines = 0;
  for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity }))
    if (line.trim()) lines++;
  return /\.csv$/i.test(file) ? Math.max(0, lines - 1) : lines;
}

export async function publishCommand(
  ctx: CliContext,
  opts: PublishOptions,
): Promise<PublishReport> {
  let total: number | undefined;
  try {
    total = await countRecords(opts.file);
  } catch (err) {
    throw new CliError(`cannot read ${opts.file}: ${(err as Error).message}`);
  }
  const invalid: string[] = [];
  const provider = new ReplayProvider({
    file: opts.file,
    kind: opts.kind ?? 'bar',
    name: opts.provider ?? 'replay',
    speed: 'max',
    onInvalid: (r) => invalid.push(`${r.location}: ${r.reason}`),
  });
  const bus = await openBus(ctx.env);
  const publisher = new BatchPublisher(bus, {
    batchSize: opts.batchSize ?? 500,
    flushIntervalMs: 250,
  });
  const bar = new SingleBar({
    stream: process.stderr,
    format: `publishing ${opts.file} [{bar}] {percentage}% | {value}/{total} records | {invalid} invalid`,
    noTTYOutput: false,
    hideCursor: true,
  });
  if (ctx.interactive) bar.start(total ?? 0, 0, { invalid: 0 });
  const streams = new Set<string>();
  let published = 0;
  try {
    for await (const record of provider.stream(new AbortController().signal)) {
      await publisher.add(provider.name, record);
      streams.add(bus.streamName(RECORD_KINDS[record.kind].stream));
      published++;
      if (ctx.interactive && published % 200 === 0)
        bar.update(published, { invalid: invalid.length });
    }
    await publisher.close();
  } finally {
    if (ctx.interactive) {
      bar.update(published, { invalid: invalid.length });
      bar.stop();
    }
    await bus.close();
  }
  for (const line of invalid.slice(0, 20)) ctx.err(`skipped ${line}\n`);
  if (invalid.length > 20) ctx.err(`... and ${invalid.length - 20} more invalid lines\n`);
  ctx.out(
    `published ${published} record(s) to ${[...streams].join(', ') || '(nothing)'}; ${invalid.length} invalid line(s) skipped\n`,
  );
  return { published, invalid: invalid.length, streams: [...streams] };
}
