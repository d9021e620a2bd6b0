/**
 * `pnpm bench pulse`: the bus against a raw ioredis baseline and BullMQ, on the same Redis, in one run.
 *
 * Throughput (BENCH_PULSE_N envelopes, default 200k, a Bar on md.bars):
 *   publish  = envelopes/s written (raw: pipelined XADD of the same entry layout; bus: publishBatch;
 *              BullMQ: Queue.addBulk), chunks of BENCH_PULSE_CHUNK (default 5000; BullMQ 1000).
 *   consume  = envelopes/s taken from the backlog through to the ack (raw: XREADGROUP COUNT 1000 +
 *              XACK pipelined with the next read, no decoding; bus: read, JSON + schema validation,
 *              idempotency, per-message handler, acks; BullMQ: a Worker completing each job).
 *   *_msgs_per_s = consume (the end-to-end handling rate); ratio = bus / raw. Raw and bus run in
 *   BENCH_PULSE_ROUNDS alternating rounds (default 3); each figure is the median over the rounds.
 *   The bus consumer reads BENCH_PULSE_BATCH entries per XREADGROUP (default 1000) with its default
 *   readAhead and maxInFlight.
 * Latency: publish-to-handle p50/p99 at a fixed offered rate (BENCH_PULSE_RATE/s, default 20 000, paced
 * in BENCH_PULSE_TICK_MS ticks, default 1, for BENCH_PULSE_LATENCY_S seconds, default 3, after
 * BENCH_PULSE_WARMUP_S seconds not counted, default 0.5), publisher and consumer in two separate
 * processes as deployed, for the bus and for a raw ioredis XADD -> XREADGROUP loop (the baseline), in
 * BENCH_PULSE_ROUNDS alternating rounds; medians. BENCH_PULSE_LATENCY_ONLY=1 skips the throughput part;
 * BENCH_PULSE_LAT_DEBUG=1 prints when (per 100 ms of the run) the messages over 10 ms were sent.
 */
import { fork, type ChildProcess } from 'node:child_process';
import Redis from 'ioredis';
import { Queue, Worker } from 'bullmq';
import type { EventEnvelope } from '@mdp/contracts';
import { benchMachine, deleteRedisPrefix, percentile, writeBenchResult } from '@mdp/testing';
// The build, as services run it (`pnpm bench` builds first): tsx's transform of the sources adds an
// export getter to every cross-module access, which is not what ships.
const { createEnvelope, createEventBus, encodeEntry } =
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require('../dist') as typeof import('../src');

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0';
const N = Number(process.env.BENCH_PULSE_N ?? 200_000);
const CHUNK = Number(process.env.BENCH_PULSE_CHUNK ?? 5000);
const RATE = Number(process.env.BENCH_PULSE_RATE ?? 20_000);
const LATENCY_S = Number(process.env.BENCH_PULSE_LATENCY_S ?? 3);
const SKIP_BULLMQ = process.env.BENCH_PULSE_SKIP_BULLMQ === '1';
/** The bus consumer's XREADGROUP COUNT; maxInFlight and readAhead keep the bus defaults. */
const BATCH = Number(process.env.BENCH_PULSE_BATCH ?? 1000);
const ROUNDS = Math.max(1, Number(process.env.BENCH_PULSE_ROUNDS ?? 3));
const NS = `bench${Date.now().toString(36)}`;

const symbols = ['AAPL', 'MSFT', 'GOOG', 'AMZN', 'TSLA', 'NVDA', 'META', 'IBM', 'ORCL', 'INTC'];
function barEnvelope(i: number, id?: string): EventEnvelope {
  const open = 100 + (i % 97) / 4;
  return createEnvelope(
    'md.Bar',
    {
      provider: 'ibkr',
      symbol: symbols[i % symbols.length],
      interval: '1m',
      ts: 1_700_000_000 + i * 60,
      open,
      high: open + 1.25,
      low: open - 0.75,
      close: open + 0.5,
      volume: 1000 + (i % 5000),
    },
    { key: symbols[i % symbols.length], id },
  );
}

const rate = (n: number, ms: number) => Math.round((n / ms) * 1000);
const now = () => performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Figures {
  publish_msgs_per_s: number;
  consume_msgs_per_s: number;
}

async function raw(envelopes: EventEnvelope[]): Promise<Figures> {
  const redis = new Redis(REDIS_URL);
  const stream = `${NS}.raw.md.bars`;
  let t = now();
  for (let i = 0; i < envelopes.length; i += CHUNK) {
    const pipe = redis.pipeline();
    for (const env of envelopes.slice(i, i + CHUNK)) pipe.xadd(stream, '*', ...encodeEntry(env));
    await pipe.exec();
  }
  const publishMs = now() - t;
  await redis.xgroup('CREATE', stream, 'g', '0');
  t = now();
  let got = 0;
  let toAck: string[] = [];
  while (got < envelopes.length) {
    const pipe = redis.pipeline();
    if (toAck.length) pipe.xack(stream, 'g', ...toAck);
    pipe.xreadgroup('GROUP', 'g', 'c', 'COUNT', 1000, 'BLOCK', 100, 'STREAMS', stream, '>');
    const res = (await pipe.exec())!;
    const reply = res[res.length - 1][1] as [string, [string, string[]][]][] | null;
    const entries = reply?.[0]?.[1] ?? [];
    toAck = entries.map((e) => e[0]);
    got += entries.length;
  }
  if (toAck.length) await redis.xack(stream, 'g', ...toAck);
  const consumeMs = now() - t;
  await redis.unlink(stream);
  await redis.quit();
  return {
    publish_msgs_per_s: rate(envelopes.length, publishMs),
    consume_msgs_per_s: rate(envelopes.length, consumeMs),
  };
}

async function bus(envelopes: EventEnvelope[]): Promise<Figures> {
  const b = createEventBus({ backend: 'redis', redisUrl: REDIS_URL, namespace: `${NS}.bus` });
  let t = now();
  for (let i = 0; i < envelopes.length; i += CHUNK)
    await b.publishBatch('md.bars', envelopes.slice(i, i + CHUNK));
  const publishMs = now() - t;
  let handled = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  t = now();
  b.subscribe(
    {
      stream: 'md.bars',
      group: 'g',
      consumer: 'c',
      batchSize: BATCH,
      blockMs: 100,
    },
    () => {
      if (++handled === envelopes.length) done();
    },
  );
  await finished;
  const consumeMs = now() - t;
  await b.close();
  const redis = new Redis(REDIS_URL);
  await deleteRedisPrefix(redis, `${NS}.bus.`);
  await redis.quit();
  return {
    publish_msgs_per_s: rate(envelopes.length, publishMs),
    consume_msgs_per_s: rate(envelopes.length, consumeMs),
  };
}

async function bullmq(envelopes: EventEnvelope[]): Promise<Figures> {
  const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const queue = new Queue(`${NS}-bullmq`, { connection });
  const bulk = 1000;
  let t = now();
  for (let i = 0; i < envelopes.length; i += bulk) {
    await queue.addBulk(
      envelopes
        .slice(i, i + bulk)
        .map((env) => ({ name: 'md.Bar', data: env, opts: { removeOnComplete: true } })),
    );
  }
  const publishMs = now() - t;
  let handled = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  t = now();
  // BullMQ leaves a connection it was given open: without the quit below the run never exits.
  const workerConnection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const worker = new Worker(
    `${NS}-bullmq`,
    async () => {
      if (++handled === envelopes.length) done();
    },
    { connection: workerConnection, concurrency: 100 },
  );
  await finished;
  const consumeMs = now() - t;
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  await workerConnection.quit();
  await connection.quit();
  return {
    publish_msgs_per_s: rate(envelopes.length, publishMs),
    consume_msgs_per_s: rate(envelopes.length, consumeMs),
  };
}

interface Latency {
  p50: number;
  p99: number;
  count: number;
}

/**
 * Latency runs as users deploy: the publisher and the consumer are separate processes (children of
 * this one, fresh heaps, nothing else on their event loops), the publisher pacing RATE/s in TICK_MS
 * ticks (each tick publishes what is due by then, so a late timer catches up instead of lowering the
 * rate). Envelope ids carry their sequence number; each side stamps `wallNow()` (same clock in both
 * processes) into an array by sequence: latency = handled - publish call. The first WARMUP_S seconds
 * warm the JIT and connections and are not counted.
 */
const TICK_MS = Number(process.env.BENCH_PULSE_TICK_MS ?? 1);
const WARMUP_S = Number(process.env.BENCH_PULSE_WARMUP_S ?? 0.5);
const wallNow = () => performance.timeOrigin + performance.now();
const seqId = (i: number) => `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`;
const seqOf = (id: string) => parseInt(id.slice(24), 16);
type LatencyKind = 'raw' | 'bus';
type Role = 'latency-producer' | 'latency-consumer';

/** The bus's physical name for md.bars in namespace `ns` (one partition); raw sides use it too. */
function latencyStream(ns: string): string {
  return `${ns}.md.bars`;
}

function child(role: Role, kind: LatencyKind, ns: string, total: number): ChildProcess {
  return fork(__filename, [], {
    env: {
      ...process.env,
      BENCH_PULSE_ROLE: role,
      BENCH_PULSE_LAT_KIND: kind,
      BENCH_PULSE_LAT_NS: ns,
      BENCH_PULSE_LAT_TOTAL: String(total),
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}

function exited(proc: ChildProcess): Promise<void> {
  return proc.exitCode !== null || proc.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => proc.once('exit', () => resolve()));
}

function nextMessage<T>(proc: ChildProcess): Promise<T> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`child exited (${code}) early`));
    proc.once('exit', onExit);
    proc.once('message', (m) => {
      proc.off('exit', onExit);
      resolve(m as T);
    });
  });
}

/** The publishing process: RATE/s for WARMUP_S + LATENCY_S seconds, then sends its publish times. */
async function latencyProducer(kind: LatencyKind, ns: string, total: number): Promise<void> {
  const stream = latencyStream(ns);
  const redis = kind === 'raw' ? new Redis(REDIS_URL) : undefined;
  const b =
    kind === 'bus'
      ? createEventBus({ backend: 'redis', redisUrl: REDIS_URL, namespace: ns })
      : undefined;
  const publish = async (batch: EventEnvelope[]) => {
    if (b) return b.publishBatch('md.bars', batch);
    const pipe = redis!.pipeline();
    for (const env of batch) pipe.xadd(stream, '*', ...encodeEntry(env));
    await pipe.exec();
  };
  // Typed arrays for the stamps: plain doubles, nothing of the bench's own for the measured process's
  // garbage collector to copy.
  const sentAt = new Float64Array(total);
  const start = now();
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((now() - start) * RATE) / 1000) + 1);
    if (due > sent) {
      const batch: EventEnvelope[] = [];
      for (let i = sent; i < due; i++) batch.push(barEnvelope(i, seqId(i)));
      const at = wallNow();
      for (let i = sent; i < due; i++) sentAt[i] = at;
      sent = due;
      await publish(batch);
    }
    const elapsed = now() - start;
    await sleep((Math.floor(elapsed / TICK_MS) + 1) * TICK_MS - elapsed);
  }
  process.send!(Array.from(sentAt));
  await b?.close();
  await redis?.quit();
}

/** The consuming process: stamps each sequence number's handling time; sends them when all came. */
async function latencyConsumer(kind: LatencyKind, ns: string, total: number): Promise<void> {
  const handledAt = new Float64Array(total).fill(-1);
  let count = 0;
  let finish!: () => void;
  const done = new Promise<void>((r) => (finish = r));
  const handled = (id: string) => {
    handledAt[seqOf(id)] = wallNow();
    if (++count === total) finish();
  };
  const stream = latencyStream(ns);
  const redis = new Redis(REDIS_URL);
  let close: () => Promise<void>;
  if (kind === 'bus') {
    const b = createEventBus({ backend: 'redis', redisUrl: REDIS_URL, namespace: ns });
    b.subscribe(
      {
        stream: 'md.bars',
        group: 'g',
        consumer: 'c',
        batchSize: BATCH,
        blockMs: 1000,
        startFrom: '0',
      },
      (env) => handled(env.id),
    );
    close = () => b.close();
  } else {
    // The baseline: XREADGROUP BLOCK with the previous batch's XACK pipelined ahead of it, the envelope
    // id read from the entry's `id` field without decoding the envelope.
    await redis.xgroup('CREATE', stream, 'g', '0', 'MKSTREAM');
    const sub = new Redis(REDIS_URL);
    let running = true;
    const loop = (async () => {
      let toAck: string[] = [];
      while (running) {
        const pipe = sub.pipeline();
        if (toAck.length) pipe.xack(stream, 'g', ...toAck);
        pipe.xreadgroup('GROUP', 'g', 'c', 'COUNT', BATCH, 'BLOCK', 100, 'STREAMS', stream, '>');
        const res = (await pipe.exec())!;
        const reply = res[res.length - 1][1] as [string, [string, string[]][]][] | null;
        const entries = reply?.[0]?.[1] ?? [];
        toAck = entries.map((e) => e[0]);
        for (const [, fields] of entries) handled(fields[fields.indexOf('id') + 1]);
      }
    })();
    close = async () => {
      running = false;
      await loop;
      await sub.quit();
    };
  }
  // Ready once the group exists and the consumer has had time to send its first (blocking) read.
  for (;;) {
    const groups = (await redis.xinfo('GROUPS', stream).catch(() => [])) as unknown[];
    if (groups.length) break;
    await sleep(20);
  }
  await sleep(200);
  process.send!('ready');
  const deadline = sleep(LATENCY_S * 1000 + WARMUP_S * 1000 + 10_000);
  await Promise.race([done, deadline]);
  process.send!(Array.from(handledAt));
  await close();
  await redis.unlink(stream, `${stream}.dlq`, `{${stream}}.beats`);
  await redis.quit();
}

async function pacedLatency(kind: LatencyKind): Promise<Latency> {
  const ns = `${NS}.lat${kind}${Date.now().toString(36)}`;
  const warm = Math.round(WARMUP_S * RATE);
  const total = warm + Math.round(LATENCY_S * RATE);
  // BENCH_PULSE_LAT_SIDES=raw,bus (producer,consumer) mixes the sides to see which one costs.
  const [producerKind, consumerKind] = (process.env.BENCH_PULSE_LAT_SIDES?.split(',') ?? [
    kind,
    kind,
  ]) as [LatencyKind, LatencyKind];
  const consumer = child('latency-consumer', consumerKind, ns, total);
  await nextMessage<string>(consumer);
  const handledP = nextMessage<number[]>(consumer);
  const producer = child('latency-producer', producerKind, ns, total);
  const sentAt = await nextMessage<number[]>(producer);
  const handledAt = await handledP;
  await Promise.all([consumer, producer].map(exited));
  const latencies: number[] = [];
  let missing = 0;
  for (let i = warm; i < total; i++) {
    if (handledAt[i] < 0) missing++;
    else latencies.push(handledAt[i] - sentAt[i]);
  }
  if (process.env.BENCH_PULSE_LAT_DEBUG) {
    const t0 = sentAt[warm];
    const buckets = new Map<number, number>();
    for (let i = warm; i < total; i++)
      if (handledAt[i] - sentAt[i] > 10) {
        const b = Math.floor((sentAt[i] - t0) / 100);
        buckets.set(b, (buckets.get(b) ?? 0) + 1);
      }
    console.log(
      `[debug] ${kind} late (>10 ms) per 100 ms of send time:`,
      [...buckets].map(([b, n]) => `${b * 100}ms:${n}`).join(' '),
    );
  }
  if (missing)
    console.warn(`[pulse bench] ${kind}: ${missing} of ${total - warm} not handled in time`);
  return {
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    count: latencies.length,
  };
}

const busLatency = () => pacedLatency('bus');
const rawLatency = () => pacedLatency('raw');

async function latencyFigures() {
  // Latency, raw and bus alternating for ROUNDS rounds; each figure the median over the rounds.
  const latRounds: Array<{ raw: Latency; bus: Latency }> = [];
  for (let r = 0; r < ROUNDS; r++) {
    const round = { raw: await rawLatency(), bus: await busLatency() };
    console.log(
      `latency round ${r + 1}/${ROUNDS} at ${RATE}/s offered: raw p50 ${round.raw.p50.toFixed(2)} p99 ${round.raw.p99.toFixed(2)} ms, ` +
        `bus p50 ${round.bus.p50.toFixed(2)} p99 ${round.bus.p99.toFixed(2)} ms (${round.bus.count} samples)`,
    );
    latRounds.push(round);
  }
  const latMedian = (pick: (r: { raw: Latency; bus: Latency }) => number) =>
    Number(percentile(latRounds.map(pick), 50).toFixed(3));
  const lat = { p50: latMedian((r) => r.bus.p50), p99: latMedian((r) => r.bus.p99) };
  const rawLat = { p50: latMedian((r) => r.raw.p50), p99: latMedian((r) => r.raw.p99) };
  console.log(
    `latency at ${RATE}/s offered (median): bus p50 ${lat.p50} p99 ${lat.p99} ms; raw ioredis p50 ${rawLat.p50} p99 ${rawLat.p99} ms`,
  );

  return { lat, rawLat, latRounds };
}

async function main(): Promise<void> {
  console.log(
    `[pulse bench] ${N} envelopes (Bar on md.bars), redis ${REDIS_URL.replace(/\/\/[^@]*@/, '//')}`,
    benchMachine(),
  );
  if (process.env.BENCH_PULSE_LATENCY_ONLY === '1') {
    await latencyFigures();
    return;
  }
  const redis = new Redis(REDIS_URL);
  const server = ((await redis.info('server')).match(/redis_version:(\S+)/) ?? [])[1];
  await redis.quit();
  const envelopes = Array.from({ length: N }, (_, i) => barEnvelope(i));

  // The machine's speed drifts between runs (shared host): raw and bus alternate for ROUNDS rounds
  // and each figure is the median, so one slow moment does not decide either side.
  const rounds: Array<{ raw: Figures; bus: Figures }> = [];
  for (let r = 0; r < ROUNDS; r++) {
    const round = { raw: await raw(envelopes), bus: await bus(envelopes) };
    console.log(`round ${r + 1}/${ROUNDS}: raw`, round.raw, 'bus', round.bus);
    rounds.push(round);
  }
  const median = (pick: (r: { raw: Figures; bus: Figures }) => number) =>
    percentile(rounds.map(pick), 50);
  const rawFig: Figures = {
    publish_msgs_per_s: median((r) => r.raw.publish_msgs_per_s),
    consume_msgs_per_s: median((r) => r.raw.consume_msgs_per_s),
  };
  const busFig: Figures = {
    publish_msgs_per_s: median((r) => r.bus.publish_msgs_per_s),
    consume_msgs_per_s: median((r) => r.bus.consume_msgs_per_s),
  };
  console.log('raw ioredis   (median)', rawFig);
  console.log('pulse bus     (median)', busFig);
  const bullFig = SKIP_BULLMQ ? undefined : await bullmq(envelopes);
  if (bullFig) console.log('bullmq       ', bullFig);
  const { lat, rawLat, latRounds } = await latencyFigures();

  const figures = {
    envelopes: N,
    redis_version: server,
    raw_msgs_per_s: rawFig.consume_msgs_per_s,
    bus_msgs_per_s: busFig.consume_msgs_per_s,
    bullmq_msgs_per_s: bullFig?.consume_msgs_per_s ?? null,
    ratio: Number((busFig.consume_msgs_per_s / rawFig.consume_msgs_per_s).toFixed(3)),
    raw_publish_msgs_per_s: rawFig.publish_msgs_per_s,
    bus_publish_msgs_per_s: busFig.publish_msgs_per_s,
    bullmq_publish_msgs_per_s: bullFig?.publish_msgs_per_s ?? null,
    publish_ratio: Number((busFig.publish_msgs_per_s / rawFig.publish_msgs_per_s).toFixed(3)),
    latency_offered_rate_per_s: RATE,
    latency_p50_ms: lat.p50,
    latency_p99_ms: lat.p99,
    raw_latency_p50_ms: rawLat.p50,
    raw_latency_p99_ms: rawLat.p99,
    latency_rounds: latRounds.map((r) => ({
      raw_p50_ms: Number(r.raw.p50.toFixed(3)),
      raw_p99_ms: Number(r.raw.p99.toFixed(3)),
      bus_p50_ms: Number(r.bus.p50.toFixed(3)),
      bus_p99_ms: Number(r.bus.p99.toFixed(3)),
    })),
    rounds: rounds.map((r) => ({
      raw_msgs_per_s: r.raw.consume_msgs_per_s,
      bus_msgs_per_s: r.bus.consume_msgs_per_s,
    })),
    settings: { bus_batch_size: BATCH, figures: `median of ${ROUNDS} alternating rounds` },
    targets: { ratio_min: 0.5, bus_msgs_per_s_min: 150_000, latency_p99_ms_max: 5 },
  };
  console.log(figures);
  console.log(`wrote ${writeBenchResult('pulse', figures)}`);
}

const role = process.env.BENCH_PULSE_ROLE as Role | undefined;
const roleArgs = [
  process.env.BENCH_PULSE_LAT_KIND as LatencyKind,
  process.env.BENCH_PULSE_LAT_NS!,
  Number(process.env.BENCH_PULSE_LAT_TOTAL),
] as const;
(role === 'latency-producer'
  ? latencyProducer(...roleArgs)
  : role === 'latency-consumer'
    ? latencyConsumer(...roleArgs)
    : main()
).catch((err) => {
  console.error(err);
  process.exit(1);
});
