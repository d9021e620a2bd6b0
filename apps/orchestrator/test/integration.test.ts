import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import request from 'supertest';
import { Client } from 'pg';
import { ClusterTopologyV2, HealthStatusV2 } from '@mdp/contracts';
import { createEnvelope, createEventBus, type PulseBus } from '@mdp/pulse';
import {
  createTestSchema,
  deleteRedisPrefix,
  describeWithServices,
  redisUrl,
  sharedRedisEnv,
  TestSchema,
  uniqueId,
} from '@mdp/testing';
import { bootstrap, OrchestratorHandle } from '../src/bootstrap';
import { until } from './helpers';

// The pipeline is another app: its build (turbo builds it first: it is a dev dependency).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { bootstrap: startPipeline } = require('@mdp/pipeline/dist/bootstrap') as {
  bootstrap(opts: {
    port: number;
    handleSignals: boolean;
    env: Record<string, string | undefined>;
  }): Promise<{ close(): Promise<void> }>;
};

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { bootstrap: startStore } = require('@mdp/store/dist/bootstrap') as {
  bootstrap(opts: {
    port: number;
    handleSignals: boolean;
    databaseUrl: string;
    env: Record<string, string | undefined>;
  }): Promise<{ close(): Promise<void> }>;
};

const TOKEN = 's3cret-token';

describeWithServices(
  'orchestrator over Redis and PostgreSQL: audit trail, topology, control',
  () => {
    const namespace = uniqueId('orch_it');
    let schema: TestSchema;
    let db: Client;
    let redis: Redis;
    let publisher: PulseBus;
    let orch: OrchestratorHandle | undefined;
    let pipeline: { close(): Promise<void> } | undefined;
    let store: { close(): Promise<void> } | undefined;
    let dlqDir: string | undefined;

    const env = (extra: Record<string, string> = {}) => ({
      ...sharedRedisEnv(namespace),
      DATABASE_URL: schema.url,
      ORCH_ADMIN_TOKEN: TOKEN,
      ORCH_AUDIT_COALESCE_MS: '300',
      ORCH_POLL_MS: '200',
      ORCH_CONTROL_TIMEOUT_MS: '5000',
      HEARTBEAT_INTERVAL_MS: '300',
      ...extra,
    });
    const http = () => request(orch!.app.getHttpServer());
    const start = async () => {
      orch = await bootstrap({ port: 0, handleSignals: false, env: env() });
      // Ready once audit_log exists (the database is a readiness check).
      await until(
        async () => ((await http().get('/ready')).status === 200 ? true : undefined),
        'the orchestrator ready',
      );
    };
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const rows = async (where: string, params: unknown[] = []): Promise<any[]> =>
      (await db.query(`SELECT * FROM audit_log WHERE ${where} ORDER BY seq`, params)).rows;
    const stream = (name: string) => `${namespace}.${name}`;

    beforeAll(async () => {
      schema = await createTestSchema();
      db = new Client({ connectionString: schema.url });
      await db.connect();
      redis = new Redis(redisUrl());
      publisher = createEventBus({
        backend: 'redis',
        redisUrl: redisUrl(),
        namespace,
        track: 'v2',
      });
      await start();
    });

    afterAll(async () => {
      await store?.close();
      if (dlqDir) rmSync(dlqDir, { recursive: true, force: true });
      await pipeline?.close();
      await orch?.close();
      await publisher?.close();
      await db?.end();
      await schema?.drop();
      await deleteRedisPrefix(redis, namespace);
      await deleteRedisPrefix(redis, `{${namespace}`);
      redis?.disconnect();
    });

    const feedback = (level: 'ok' | 'soft' | 'hard', queue: number) =>
      createEnvelope(
        'telemetry.FeedbackEvent',
        {
          coordinator_id: 'bars',
          queue_size: queue,
          capacity: 1000,
          level,
          source: 'store',
          ts: Date.now() / 1000,
        },
        { key: 'bars', track: 'v2' },
      );

    it('a level change, a rate change and a dead letter each give exactly one audit row, also when redelivered to a restarted orchestrator', async () => {
      await publisher.publish('telemetry.feedback', feedback('soft', 850));
      await publisher.publish(
        'telemetry.rate_adjustment',
        createEnvelope(
          'telemetry.RateAdjustment',
          { provider: 'synthetic', scale: 0.5, reason: 'soft', ts: Date.now() / 1000 },
          { key: 'synthetic', track: 'v2' },
        ),
      );
      // A valid envelope of the wrong schema for its stream: the observer fails it straight to the DLQ.
      await publisher.publish(
        'telemetry.feedback',
        createEnvelope(
          'telemetry.RateAdjustment',
          { provider: 'x', scale: 1, reason: 'ok', ts: 1 },
          { track: 'v2' },
        ),
      );

      await until(
        async () =>
          (await rows("kind IN ('backpressure', 'rate', 'dead_letter')")).length === 3
            ? true
            : undefined,
        'three audit rows',
      );
      const [level] = await rows("kind = 'backpressure'");
      expect(level).toMatchObject({
        action: 'backpressure.level',
        target: 'coordinator:bars',
        status: 'ok',
        detail: 'level ok -> soft',
      });
      expect(level.attributes).toMatchObject({
        count: '1',
        from: 'ok',
        to: 'soft',
        queue_size: '850',
        capacity: '1000',
      });
      const [rate] = await rows("kind = 'rate'");
      expect(rate).toMatchObject({
        action: 'rate.scale',
        target: 'provider:synthetic',
        detail: 'scale 1 -> 0.5 (soft)',
      });
      const [dead] = await rows("kind = 'dead_letter'");
      expect(dead).toMatchObject({
        action: 'dlq.entries',
        target: 'telemetry.feedback',
        status: 'error',
      });
      expect(dead.attributes).toMatchObject({
        count: '1',
        dlq_stream: `${stream('telemetry.feedback')}.dlq`,
      });
      expect(dead.detail).toMatch(
        /carries telemetry\.FeedbackEvent, got meta\.schema_id "telemetry\.RateAdjustment"/,
      );
      expect(dead.detail).not.toContain('"provider"'); // the reason, never the payload

      // Redelivery: a fresh orchestrator, and the group rewound so every entry is delivered again.
      await orch!.close();
      for (const s of ['telemetry.feedback', 'telemetry.rate_adjustment'])
        await redis.xgroup('SETID', stream(s), 'orchestrator', '0');
      await start();
      await until(async () => {
        const status = (await http().get('/status')).body;
        return status.observer.streams['telemetry.feedback'].events.ok >= 1 &&
          status.observer.streams['telemetry.rate_adjustment'].events.ok >= 1
          ? true
          : undefined;
      }, 'the rewound entries delivered again');
      // Past the coalescing window and a poll of the dead-letter streams.
      await new Promise((r) => setTimeout(r, 1200));
      expect(await rows("kind IN ('backpressure', 'rate', 'dead_letter')")).toHaveLength(3);
    });

    it('level changes under overload are coalesced: one row per window with the count and the last level', async () => {
      const already = (await rows("kind = 'backpressure'")).length;
      const flood = ['hard', 'soft', 'hard', 'soft', 'hard'] as const;
      await publisher.publishBatch(
        'telemetry.feedback',
        flood.map((l, i) => feedback(l, 900 + i)),
      );
      const added: Array<{ attributes: Record<string, string> }> = await until(async () => {
        const r = await rows("kind = 'backpressure'");
        const counted = r.slice(already).reduce((n, row) => n + Number(row.attributes.count), 0);
        return counted === flood.length ? r.slice(already) : undefined;
      }, 'five level changes audited');
      expect(added.length).toBeLessThanOrEqual(2); // the flood may straddle one window boundary
      expect(added[added.length - 1].attributes.to).toBe('hard');
    });

    it('GET /audit pages newest first and filters by target and action', async () => {
      const first = (await http().get('/audit?limit=2').expect(200)).body;
      expect(first.entries).toHaveLength(2);
      expect(first.entries[0].ts).toBeGreaterThanOrEqual(first.entries[1].ts);
      const second = (await http().get(`/audit?limit=2&cursor=${first.next_cursor}`).expect(200))
        .body;
      expect(second.entries[0].seq).not.toBe(first.entries[1].seq);
      expect(second.entries[0].ts).toBeLessThanOrEqual(first.entries[1].ts);
      const byTarget = (await http().get('/audit?target=provider:synthetic').expect(200)).body;
      expect(byTarget.entries.map((e: { action: string }) => e.action)).toEqual(['rate.scale']);
      const bad = (await http().get('/audit?limit=abc&since=-1').expect(400)).body;
      expect(bad.issues.map((i: { path: string }) => i.path).sort()).toEqual(['limit', 'since']);
    });

    it('GET /topology lists the store and pipeline groups with the pending counts of XPENDING, and nodes from heartbeats', async () => {
      await redis.xgroup('CREATE', stream('md.bars'), 'store', '0', 'MKSTREAM');
      for (let i = 0; i < 4; i++)
        await publisher.publish('md.bars', createEnvelope('md.Bar', { i }, { track: 'v2' }));
      await redis.xreadgroup(
        'GROUP',
        'store',
        'store-it',
        'COUNT',
        3,
        'STREAMS',
        stream('md.bars'),
        '>',
      );
      await redis.xgroup('CREATE', stream('telemetry.feedback'), 'pipeline', '0');
      await redis.xreadgroup(
        'GROUP',
        'pipeline',
        'pipeline-it',
        'COUNT',
        2,
        'STREAMS',
        stream('telemetry.feedback'),
        '>',
      );

      const topo = await until(async () => {
        const body = (await http().get('/topology').expect(200)).body;
        return body.nodes.some((n: { role: string }) => n.role === 'orchestrator')
          ? body
          : undefined;
      }, "the orchestrator's own heartbeat in the topology");
      expect(ClusterTopologyV2.safeParse(topo).success).toBe(true);
      expect(topo).toMatchObject({ cluster_id: namespace, region: 'local' });
      const group = (s: string, g: string) =>
        topo.streams
          .find((x: { name: string }) => x.name === s)
          ?.groups.find((x: { name: string }) => x.name === g);
      const xpending = async (s: string, g: string) =>
        Number(((await redis.xpending(stream(s), g)) as unknown[])[0]);
      expect(group('md.bars', 'store')).toMatchObject({
        pending: await xpending('md.bars', 'store'),
        consumers: 1,
        lag: 1,
      });
      expect(group('md.bars', 'store').pending).toBe(3);
      expect(group('md.bars', 'store').consumer_list).toEqual([
        expect.objectContaining({ name: 'store-it', pending: 3, idle_ms: expect.any(Number) }),
      ]);
      expect(group('telemetry.feedback', 'pipeline').pending).toBe(
        await xpending('telemetry.feedback', 'pipeline'),
      );
      expect(group('telemetry.feedback', 'pipeline').pending).toBe(2);
      // The poison entry was dead-lettered twice (first delivery, then the rewound redelivery): one row, two DLQ entries.
      expect(
        topo.streams.find((x: { name: string }) => x.name === 'telemetry.feedback').dlq_length,
      ).toBe(await redis.xlen(`${stream('telemetry.feedback')}.dlq`));
      const metrics = (await http().get('/metrics').expect(200)).text;
      expect(metrics).toContain('orchestrator_stream_pending{stream="md.bars",group="store"} 3');
      expect(metrics).toMatch(/orchestrator_audit_events_total\{kind="backpressure"\} \d/);
    });

    it('control: 401 without or with a wrong token, 400 with the field path on junk, all audited', async () => {
      const none = await http()
        .post('/control')
        .send({ action: 'pause', target: 'pipeline' })
        .expect(401);
      expect(none.body).toMatchObject({
        error: 'unauthorized',
        detail: expect.stringMatching(/missing bearer token/),
      });
      expect(none.headers['www-authenticate']).toMatch(/^Bearer/);
      await http()
        .post('/control')
        .set('Authorization', 'Bearer nope')
        .send({ action: 'pause', target: 'pipeline' })
        .expect(401);
      const junk = await http()
        .post('/control')
        .set('Authorization', `Bearer ${TOKEN}`)
        .set('Content-Type', 'application/json')
        .send('{"action": pau')
        .expect(400);
      expect(junk.body.issues[0]).toMatchObject({
        path: '(body)',
        message: expect.stringMatching(/^not valid JSON/),
      });
      const bad = await http()
        .post('/control')
        .set('Authorization', `Bearer ${TOKEN}`)
        .send({ action: 'set_scale', provider: 'synthetic', scale: 7, extra: 1 })
        .expect(400);
      expect(bad.body.issues).toEqual(
        expect.arrayContaining([
          { path: 'scale', message: 'must be <= 1' },
          { path: '(body)', message: 'unknown field(s): extra' },
        ]),
      );
      const refused = await until(
        async () =>
          (await rows("kind = 'control_request' AND status = 'error'")).length === 4
            ? rows("kind = 'control_request' AND status = 'error'")
            : undefined,
        'four refusals audited',
      );
      expect(refused.map((r) => r.attributes.refused)).toEqual([
        'unauthorized',
        'unauthorized',
        'invalid',
        'invalid',
      ]);
      expect(refused.map((r) => r.action)).toEqual([
        'pause',
        'pause',
        'control.unknown',
        'set_scale',
      ]);
      const metrics = (await http().get('/metrics').expect(200)).text;
      expect(metrics).toContain(
        'orchestrator_control_actions_total{action="pause",outcome="unauthorized"} 2',
      );
    });

    it('a valid pause reaches the pipeline; its result comes back in the response and in audit_log under one correlation id', async () => {
      pipeline = await startPipeline({
        port: 0,
        handleSignals: false,
        env: {
          ...sharedRedisEnv(namespace),
          PIPELINE_CONSUMER_NAME: 'pipeline-it',
          HEARTBEAT_INTERVAL_MS: '300',
        },
      });
      // The pipeline's group starts at `$`: wait for its consumer before sending.
      await until(async () => {
        const groups = (await redis
          .xinfo('GROUPS', stream('control.actions'))
          .catch(() => [])) as unknown[][];
        return groups.some((g) => g[1] === 'pipeline') ? true : undefined;
      }, 'the pipeline control group');
      const res = await http()
        .post('/control')
        .set('Authorization', `Bearer ${TOKEN}`)
        .send({ action: 'pause', target: 'provider:synthetic', actor: 'alice' })
        .expect(200);
      expect(res.body).toMatchObject({
        status: 'ok',
        outcome: 'ok',
        detail: 'paused synthetic',
        action: 'pause',
        target: 'provider:synthetic',
        answered_by: 'pipeline-it',
      });
      const trail = await rows('correlation_id = $1', [res.body.correlation_id]);
      expect(trail.map((r) => [r.kind, r.actor, r.action, r.outcome])).toEqual([
        ['control_request', 'alice', 'pause', 'accepted'],
        ['control_result', 'pipeline-it', 'pause', 'ok'],
      ]);
      const page = (
        await http().get(`/audit?correlation_id=${res.body.correlation_id}`).expect(200)
      ).body;
      expect(page.entries).toHaveLength(2);

      // The pipeline's heartbeats make it a node of the topology and of the cluster health.
      const health = await until(async () => {
        const body = (await http().get('/health/cluster')).body;
        return body.components?.some(
          (c: { details: { service: string } }) => c.details.service === 'pipeline',
        )
          ? body
          : undefined;
      }, 'the pipeline in /health/cluster');
      expect(HealthStatusV2.safeParse(health).success).toBe(true);
    });

    it("the store pauses and resumes its ingest and replays a stream's dead letters on request", async () => {
      dlqDir = mkdtempSync(join(tmpdir(), 'orch-it-dlq-'));
      store = await startStore({
        port: 0,
        handleSignals: false,
        databaseUrl: schema.url,
        env: {
          ...sharedRedisEnv(namespace),
          MDS_CONSUMER_NAME: 'store-it2',
          MDS_DLQ_DIR: dlqDir,
          HEARTBEAT_INTERVAL_MS: '300',
        },
      });
      await until(async () => {
        const groups = (await redis
          .xinfo('GROUPS', stream('control.actions'))
          .catch(() => [])) as unknown[][];
        return groups.some((g) => g[1] === 'store') ? true : undefined;
      }, 'the store control group');
      const send = (body: object) =>
        http().post('/control').set('Authorization', `Bearer ${TOKEN}`).send(body).expect(200);
      expect((await send({ action: 'pause', target: 'store' })).body).toMatchObject({
        status: 'ok',
        answered_by: 'store-it2',
        detail: expect.stringMatching(/^ingest paused/),
      });
      expect((await send({ action: 'resume', target: 'store' })).body).toMatchObject({
        status: 'ok',
        detail: expect.stringMatching(/ingest resumed|pause lifted/),
      });
      const dlq = `${stream('telemetry.feedback')}.dlq`;
      const before = await redis.xlen(dlq);
      expect(before).toBeGreaterThan(0);
      const replay = await send({ action: 'replay_dlq', stream: 'telemetry.feedback' });
      expect(replay.body).toMatchObject({
        status: 'ok',
        target: 'stream:telemetry.feedback',
        detail: expect.stringMatching(new RegExp(`^replayed ${before} dead letters? of ${dlq}`)),
      });
      // The store answers on v1, where replay_dlq can only travel as `reload`: the header keeps the verb.
      expect(
        (await rows('correlation_id = $1', [replay.body.correlation_id])).map((r) => r.action),
      ).toEqual(['replay_dlq', 'replay_dlq']);
      const refused = await send({ action: 'reload', target: 'store' });
      // The store publishes on v1 (the default): the core's result knows ok | error, not the finer `rejected`.
      expect(refused.body).toMatchObject({
        status: 'error',
        outcome: 'error',
        detail: expect.stringMatching(/does not perform "reload"/),
      });
    });

    it('a service silent for three heartbeats is unhealthy in /health/cluster, with the reason, and audited', async () => {
      await pipeline!.close();
      pipeline = undefined;
      const health = await until(
        async () => {
          const res = await http().get('/health/cluster');
          return res.status === 503 && /silent/.test(res.body.reason) ? res.body : undefined;
        },
        'the cluster unhealthy',
        15_000,
      );
      expect(health).toMatchObject({
        service: 'cluster',
        state: 'unhealthy',
        reason: expect.stringMatching(/pipeline.*silent for \d+ s \(3 heartbeats missed\)/),
      });
      const silent = await until(
        async () =>
          (await rows("action = 'service.silent'")).length
            ? rows("action = 'service.silent'")
            : undefined,
        'the silence audited',
      );
      expect(silent[0]).toMatchObject({ kind: 'service', status: 'error', role: 'orchestrator' });
      expect(
        (await rows("action = 'service.appeared' AND attributes->>'service' = 'pipeline'")).length,
      ).toBe(1);
    });
  },
);
