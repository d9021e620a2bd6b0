/**
 * `pnpm bench control`: control actions from the orchestrator's side of the bus to a service and
 * back. The bench plays the orchestrator's part as SYSTEM.md gives it: it publishes
 * `control.ControlAction` envelopes on `<ns>.control.actions` and reads `<ns>.telemetry.audit` as
 * consumer group `orchestrator` (the orchestrator has no control sender of its own yet: its control
 * API comes with a later issue). The service is the pipeline, started from its build with its
 * `bootstrap()`: its ControlConsumer performs each action on its rate coordinator (pause / resume
 * of its synthetic provider) and acknowledges it with an `telemetry.AuditEnvelope`.
 *  - round trip: N actions one at a time, publish -> the audit entry for it received, p50/p99;
 *  - burst: M actions published at once, actions/s from the first publish to the last audit received.
 * Runs over Redis (REDIS_URL, default redis://127.0.0.1:6379/0) and the in-memory bus, or the
 * in-memory bus only if Redis does not answer; writes bench/results/control.json.
 * Env: BENCH_CONTROL_ACTIONS (default 1000), BENCH_CONTROL_BURST (default 5000), SCHEMA_TRACK
 * (default v1; on v2 actions and audits carry a correlation id, which is checked).
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import Redis from 'ioredis';
import type { AuditEnvelope, ControlAction, EventEnvelope, SchemaTrack } from '@mdp/contracts';
import { createEnvelope, createEventBus, type EventBus, type Subscription } from '@mdp/pulse';
import {
  benchMachine,
  deleteRedisPrefix,
  percentile,
  measureBackends,
  uniqueId,
  writeBenchResult,
} from '@mdp/testing';

// The pipeline is another app: loaded from its build (`pnpm bench` builds first; NestJS needs the
// decorator metadata tsc emits) and typed by the little used here.
const pipelineRequire = createRequire(join(__dirname, '..', '..', 'pipeline', 'package.json'));
const { bootstrap: startPipeline } = pipelineRequire('./dist/bootstrap') as {
  bootstrap(opts: {
    port: number;
    handleSignals: boolean;
    bus: EventBus;
    env: Record<string, string | undefined>;
  }): Promise<{ close(): Promise<void> }>;
};

const SEQUENTIAL = Number(process.env.BENCH_CONTROL_ACTIONS ?? 1000);
const BURST = Number(process.env.BENCH_CONTROL_BURST ?? 5000);
const TRACK: SchemaTrack = process.env.SCHEMA_TRACK === 'v2' ? 'v2' : 'v1';
const PROVIDER = 'synthetic';
const CONSUMER = 'pipeline-bench';
const ACTOR = 'bench-operator';

interface Figures {
  round_trip_ms: { samples: number; p50: number; p99: number; max: number };
  burst_actions_per_s: number;
  burst_seconds: number;
  audits_ok: number;
  audits_not_ok: number;
}

async function run(): Promise<void> {
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0';
  const { backend, results } = await measureBackends(url, measure);
  const redis = backend === 'redis';
  const main = results[backend]!;
  const figures = {
    backend,
    track: TRACK,
    sequential_actions: SEQUENTIAL,
    burst_actions: BURST,
    ...main,
    by_backend: results,
    service: 'pipeline (bootstrap from dist): ControlConsumer, group pipeline, idempotency shared',
    actions: `pause / resume of provider:${PROVIDER}, alternating`,
  };
  console.log(
    `[control bench] ${figures.backend}: round trip p50 ${main.round_trip_ms.p50} ms p99 ${main.round_trip_ms.p99} ms (${SEQUENTIAL} sequential), burst ${main.burst_actions_per_s.toLocaleString()} actions/s (${BURST} actions)` +
      (results.inmem && redis
        ? `; in-memory: p50 ${results.inmem.round_trip_ms.p50} ms p99 ${results.inmem.round_trip_ms.p99} ms, burst ${results.inmem.burst_actions_per_s.toLocaleString()} actions/s`
        : ''),
  );
  const file = writeBenchResult('control', figures);
  console.log(JSON.stringify({ ...figures, machine: benchMachine() }, null, 2));
  console.log(`wrote ${file}`);
}

async function measure(backend: 'redis' | 'inmem', url: string): Promise<Figures> {
  const namespace = uniqueId('bench');
  const mk = (): EventBus => createEventBus({ backend, redisUrl: url, namespace, track: TRACK });
  // In memory, the two sides must share one bus (separate in-memory buses are separate worlds).
  const orchestratorBus = mk();
  const serviceBus = backend === 'redis' ? mk() : orchestratorBus;
  let pipeline: { close(): Promise<void> } | undefined;
  let audits: Subscription | undefined;

  // Audit entries as the orchestrator's group receives them; `next()` waits for the next one.
  const received: Array<{ at: number; audit: AuditEnvelope }> = [];
  let wake: (() => void) | undefined;
  const next = async (timeoutMs: number) => {
    const deadline = performance.now() + timeoutMs;
    while (received.length === 0) {
      const left = deadline - performance.now();
      if (left <= 0) return undefined;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      wake = undefined;
    }
    return received.shift();
  };

  let seq = 0;
  const action = (): { envelope: EventEnvelope<ControlAction>; id: string } => {
    const i = seq++;
    const correlationId = `${namespace}-${i}`;
    const payload: ControlAction = {
      action: i % 2 === 0 ? 'pause' : 'resume',
      ts: Date.now() / 1000,
      target: `provider:${PROVIDER}`,
      ...(TRACK === 'v2' ? { actor: ACTOR, correlation_id: correlationId } : {}),
    };
    return {
      envelope: createEnvelope('control.ControlAction', payload, { key: PROVIDER, track: TRACK }),
      id: correlationId,
    };
  };
  let ok = 0;
  let notOk = 0;
  /** Counts the audit entry; `pending` maps the correlation ids still awaited to their action. */
  const check = (audit: AuditEnvelope, pending: Map<string, string>, fallback: string) => {
    let expected = fallback;
    if (TRACK === 'v2') {
      const want = pending.get(audit.correlation_id ?? '');
      if (want === undefined)
        throw new Error(`audit entry for an unknown correlation id ${audit.correlation_id}`);
      pending.delete(audit.correlation_id!);
      expected = want;
    }
    if (audit.result.status === 'ok' && audit.action === expected) ok++;
    else notOk++;
  };

  try {
    audits = orchestratorBus.subscribe<AuditEnvelope>(
      { stream: 'telemetry.audit', group: 'orchestrator', consumer: 'bench-orchestrator' },
      (envelope) => {
        received.push({ at: performance.now(), audit: envelope.payload });
        wake?.();
      },
    );
    pipeline = await startPipeline({
      port: 0,
      handleSignals: false,
      bus: serviceBus,
      env: {
        EVENT_BUS_BACKEND: backend,
        REDIS_URL: url,
        MD_NAMESPACE: namespace,
        SCHEMA_TRACK: TRACK,
        PIPELINE_CONSUMER_NAME: CONSUMER,
        PIPELINE_PROVIDERS: 'synthetic',
        PIPELINE_SYNTHETIC_NAME: PROVIDER,
        PIPELINE_SYNTHETIC_RATE: '1',
        PIPELINE_SYNTHETIC_BURST: '1',
        LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
      },
    });

    // The service's control group starts at `$` once its consumer has created it: send until the
    // first acknowledgement comes back, then let stragglers arrive and forget them.
    for (let attempt = 0; ; attempt++) {
      if (attempt === 50) throw new Error(`${backend}: no audit entry after 50 warm-up actions`);
      await orchestratorBus.publish('control.actions', action().envelope);
      if (await next(200)) break;
    }
    await new Promise((r) => setTimeout(r, 300));
    received.length = 0;

    // Round trip, one action at a time.
    const latencies: number[] = [];
    for (let i = 0; i < SEQUENTIAL; i++) {
      const a = action();
      const start = performance.now();
      await orchestratorBus.publish('control.actions', a.envelope);
      const got = await next(10_000);
      if (!got) throw new Error(`${backend}: no audit entry for action ${i} within 10 s`);
      latencies.push(got.at - start);
      const kind = a.envelope.payload.action;
      check(got.audit, new Map([[a.id, kind]]), kind);
    }

    // Burst: every action published at once, timed to the last audit entry. Entries may come back
    // in any order; on v2 each one is matched to its action by correlation id.
    const burst = Array.from({ length: BURST }, () => action());
    const pending = new Map(burst.map((a) => [a.id, a.envelope.payload.action as string]));
    const t0 = performance.now();
    await Promise.all(burst.map((a) => orchestratorBus.publish('control.actions', a.envelope)));
    let last = t0;
    for (let i = 0; i < BURST; i++) {
      const got = await next(30_000);
      if (!got) throw new Error(`${backend}: burst stalled: ${ok + notOk} audit entries in all`);
      last = got.at;
      // On v1 (no correlation id) only the result is checked: the order is not guaranteed.
      check(got.audit, pending, got.audit.action);
    }
    const seconds = (last - t0) / 1000;

    const round = (x: number) => Math.round(x * 1000) / 1000;
    return {
      round_trip_ms: {
        samples: latencies.length,
        p50: round(percentile(latencies, 50)),
        p99: round(percentile(latencies, 99)),
        max: round(Math.max(...latencies)),
      },
      burst_actions_per_s: Math.round(BURST / seconds),
      burst_seconds: round(seconds),
      audits_ok: ok,
      audits_not_ok: notOk,
    };
  } finally {
    await pipeline?.close();
    await audits?.close();
    if (backend === 'redis') {
      const r = new Redis(url);
      await deleteRedisPrefix(r, namespace);
      r.disconnect();
    }
    await orchestratorBus.close();
    if (serviceBus !== orchestratorBus) await serviceBus.close();
  }
}

run().then(
  () => process.exit(0),
  (err) => {
    console.error('[control bench] failed:', err);
    process.exit(1);
  },
);
