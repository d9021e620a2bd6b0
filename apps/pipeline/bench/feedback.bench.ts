/**
 * `pnpm bench feedback`: store feedback through the pipeline's consumer.
 *  - throughput: feedback events/s from the stream to applied rate adjustments (each one also
 *    announced on telemetry.rate_adjustment, as in production);
 *  - latency: publish of one feedback event -> the provider's rate actually changed, p50/p99.
 * Runs over Redis (REDIS_URL, default redis://127.0.0.1:6379/0), or the in-memory bus if Redis does
 * not answer; writes bench/results/feedback.json.
 */
import Redis from 'ioredis';
import { createEnvelope, createEventBus, type EventBus } from '@mdp/pulse';
import { benchMachine, measureBackends, percentile, writeBenchResult } from '@mdp/testing';
import type { FeedbackEvent } from '@mdp/contracts';
import { FeedbackConsumer } from '../src/feedback/feedback-consumer';
import { FeedbackHandler } from '../src/feedback/feedback-handler';
import { RateCoordinator } from '../src/rate/rate-coordinator';
import { RateCoordinatorAdapter } from '../src/rate/rate-coordinator-adapter';

const THROUGHPUT_EVENTS = Number(process.env.BENCH_FEEDBACK_EVENTS ?? 20_000);
const LATENCY_SAMPLES = Number(process.env.BENCH_FEEDBACK_SAMPLES ?? 500);
const PUBLISH_BATCH = 500;
const LEVELS = ['ok', 'soft', 'hard'] as const;
const SCALE = { ok: 1, soft: 0.5, hard: 0 } as const;

const feedback = (i: number, level: (typeof LEVELS)[number]): FeedbackEvent => ({
  coordinator_id: 'bench-store',
  queue_size: i % 1000,
  capacity: 1000,
  level,
  source: 'store',
  ts: Date.now() / 1000,
});

interface Figures {
  events_per_sec: number;
  latency_ms: { p50: number; p99: number; max: number };
}

async function run(): Promise<void> {
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0';
  const { backend, results } = await measureBackends(url, measure);
  const figures = {
    backend,
    events: THROUGHPUT_EVENTS,
    latency_samples: LATENCY_SAMPLES,
    ...results[backend],
    by_backend: results,
    settings: { idempotency: 'shared', publish_batch: PUBLISH_BATCH, consumer_block_ms: 100 },
  };
  const file = writeBenchResult('feedback', figures);
  console.log(JSON.stringify({ ...figures, machine: benchMachine() }, null, 2));
  console.log(`wrote ${file}`);
}

async function measure(backend: 'redis' | 'inmem', url: string): Promise<Figures> {
  const namespace = `bench${Date.now().toString(36)}`;
  const mk = (): EventBus => createEventBus({ backend, redisUrl: url, namespace });
  // In memory, producer and consumer must share one bus (separate in-memory buses are separate worlds).
  const pipelineBus = mk();
  const producer = backend === 'redis' ? mk() : pipelineBus;

  const coordinator = new RateCoordinator();
  coordinator.registerProvider('bench', { rate: 1000, burst: 1000 });
  let applied = 0;
  const consumer = new FeedbackConsumer(
    pipelineBus,
    new FeedbackHandler(new RateCoordinatorAdapter(coordinator), 'bench'),
    {
      consumer: 'bench-1',
      idempotency: 'shared',
      blockMs: 100,
      onAdjustment: () => applied++,
    },
  );
  consumer.start();

  try {
    // Throughput: the backlog is published first, so the figure is the consumer's, not the producer's.
    const t0 = performance.now();
    for (let i = 0; i < THROUGHPUT_EVENTS; i += PUBLISH_BATCH) {
      const batch = [];
      for (let j = i; j < Math.min(THROUGHPUT_EVENTS, i + PUBLISH_BATCH); j++)
        batch.push(
          createEnvelope('telemetry.FeedbackEvent', feedback(j, LEVELS[j % 3]), {
            key: 'bench-store',
          }),
        );
      await producer.publishBatch('telemetry.feedback', batch);
    }
    let last = { applied, at: performance.now() };
    while (applied < THROUGHPUT_EVENTS) {
      await new Promise((r) => setTimeout(r, 5));
      if (applied !== last.applied) last = { applied, at: performance.now() };
      else if (performance.now() - last.at > 30_000)
        throw new Error(
          `${backend}: no progress for 30 s at ${applied}/${THROUGHPUT_EVENTS} events`,
        );
    }
    const seconds = (performance.now() - t0) / 1000;
    const eventsPerSec = THROUGHPUT_EVENTS / seconds;

    // Latency: one event at a time, timed until the coordinator reports the new scale.
    const latencies: number[] = [];
    for (let i = 0; i < LATENCY_SAMPLES; i++) {
      const level = LEVELS[coordinator.snapshot('bench').scale === 1 ? 2 : 0];
      const changed = new Promise<number>((resolve) => {
        const off = coordinator.onChange((s) => {
          if (s.provider === 'bench' && s.scale === SCALE[level]) {
            off();
            resolve(performance.now());
          }
        });
      });
      const start = performance.now();
      await producer.publish(
        'telemetry.feedback',
        createEnvelope('telemetry.FeedbackEvent', feedback(i, level), { key: 'bench-store' }),
      );
      latencies.push((await changed) - start);
    }

    return {
      events_per_sec: Math.round(eventsPerSec),
      latency_ms: {
        p50: round(percentile(latencies, 50)),
        p99: round(percentile(latencies, 99)),
        max: round(Math.max(...latencies)),
      },
    };
  } finally {
    await consumer.stop();
    if (backend === 'redis') {
      const r = new Redis(url);
      let cursor = '0';
      do {
        const [next, keys] = await r.scan(cursor, 'MATCH', `${namespace}.*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length) await r.unlink(...keys);
      } while (cursor !== '0');
      r.disconnect();
    }
    await pipelineBus.close();
    if (producer !== pipelineBus) await producer.close();
  }
}

const round = (x: number) => Math.round(x * 1000) / 1000;

run().catch((err) => {
  console.error(err);
  process.exit(1);
});
