import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createEnvelope, createEventBus, InMemoryStreams, type PulseBus } from '@mdp/pulse';
import { createTestSchema, describeWithPostgres, TestSchema, uniqueId } from '@mdp/testing';
import { bootstrap, OrchestratorHandle } from '../src/bootstrap';
import { until } from './helpers';

// The other two services, from their builds (turbo builds them first: they are dependencies).
type Service = { close(): Promise<void> };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { bootstrap: startPipeline } = require('@mdp/pipeline/dist/bootstrap') as {
  bootstrap(o: object): Promise<Service>;
};
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { bootstrap: startStore } = require('@mdp/store/dist/bootstrap') as {
  bootstrap(o: object): Promise<Service>;
};

/** Debian's chromium (`apt-get install chromium`, which `.ci/run` does when it is missing). */
const CHROMIUM =
  process.env.CHROMIUM_PATH ??
  ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const ARTIFACTS = join(__dirname, '..', 'test-artifacts');
const TOKEN = 'cockpit-token';

/** Without a browser: a failure on CI (never a silent skip), a visible skip elsewhere. */
const describeWithBrowser =
  CHROMIUM || process.env.CI === 'true'
    ? describeWithPostgres
    : (t: string, b: () => void) =>
        describe.skip(`${t} [skipped: no chromium; apt-get install chromium]`, b);

describeWithBrowser('cockpit in a real headless browser', () => {
  const namespace = uniqueId('orch_ui');
  let schema: TestSchema;
  let db: Client;
  let bus: PulseBus;
  let orch: OrchestratorHandle;
  let pipeline: Service;
  let store: Service;
  let browser: Browser;
  let page: Page;
  let dlqDir: string;

  const feedback = (level: 'ok' | 'soft' | 'hard', queue: number, ts = Date.now() / 1000) =>
    createEnvelope(
      'telemetry.FeedbackEvent',
      { coordinator_id: 'bars', queue_size: queue, capacity: 10_000, level, source: 'store', ts },
      { key: 'bars', track: 'v2' },
    );

  beforeAll(async () => {
    if (!CHROMIUM)
      throw new Error('chromium not found (apt-get install -y chromium, or set CHROMIUM_PATH)');
    schema = await createTestSchema();
    db = new Client({ connectionString: schema.url });
    await db.connect();
    dlqDir = mkdtempSync(join(tmpdir(), 'orch-ui-dlq-'));
    // The three services in one process on one in-memory bus, as `pnpm start` runs them.
    bus = createEventBus({
      backend: 'inmem',
      namespace,
      track: 'v2',
      inmem: new InMemoryStreams(),
    });
    const common = {
      EVENT_BUS_BACKEND: 'inmem',
      MD_NAMESPACE: namespace,
      LOG_LEVEL: 'silent',
      SCHEMA_TRACK: 'v2',
      HEARTBEAT_INTERVAL_MS: '1000',
    };
    store = await startStore({
      port: 0,
      handleSignals: false,
      bus,
      databaseUrl: schema.url,
      env: {
        ...common,
        MDS_DLQ_DIR: dlqDir,
        MDS_FB_ENABLE_FEEDBACK: 'false',
        MDS_CONSUMER_NAME: 'store-ui',
      },
    });
    pipeline = await startPipeline({
      port: 0,
      handleSignals: false,
      bus,
      env: { ...common, PIPELINE_CONSUMER_NAME: 'pipeline-ui', PIPELINE_IDEMPOTENCY: 'memory' },
    });
    orch = await bootstrap({
      port: 0,
      handleSignals: false,
      bus,
      env: {
        ...common,
        DATABASE_URL: schema.url,
        ORCH_ADMIN_TOKEN: TOKEN,
        ORCH_POLL_MS: '500',
        ORCH_AUDIT_COALESCE_MS: '500',
      },
    });
    await until(
      async () =>
        (await fetch(`http://127.0.0.1:${orch.port}/ready`)).status === 200 ? true : undefined,
      'the orchestrator ready',
    );

    // The last few minutes of a store under load, so the chart has a story to tell.
    const now = Date.now() / 1000;
    const history = Array.from({ length: 90 }, (_, i) => {
      const t = now - 270 + i * 3;
      const q = Math.round(4200 + 3900 * Math.sin(i / 9) + 600 * Math.sin(i / 2.3));
      const level = q >= 8000 ? 'hard' : q >= 6000 ? 'soft' : 'ok';
      return feedback(level, Math.max(0, q), t);
    });
    await bus.publishBatch('telemetry.feedback', history);
    await bus.publish(
      'telemetry.rate_adjustment',
      createEnvelope(
        'telemetry.RateAdjustment',
        { provider: 'synthetic', scale: 0.5, reason: 'soft', ts: now },
        { key: 'synthetic', track: 'v2' },
      ),
    );
    // A poison entry on a market-data stream, for the dead-letter card.
    await bus.publish(
      'md.news',
      createEnvelope('md.News', { headline: 42 }, { key: 'n', track: 'v2' }),
    );

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--disable-dev-shm-usage',
      ],
    });
    page = await browser.newPage({ viewport: { width: 1440, height: 1080 }, deviceScaleFactor: 1 });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await orch?.close();
    await pipeline?.close();
    await store?.close();
    await bus?.close();
    await db?.end();
    await schema?.drop();
    if (dlqDir) rmSync(dlqDir, { recursive: true, force: true });
  });

  it('shows live numbers, pauses a provider with the token, and the pause is in audit_log; saves a screenshot', async () => {
    await page.goto(`http://127.0.0.1:${orch.port}/`);
    await page.waitForSelector('#live[data-on="true"]');
    const depth = page.locator('#depth-bars');
    await depth.waitFor();

    // A feedback event published now changes the number on the page (server-sent events, no reload).
    await bus.publish('telemetry.feedback', feedback('soft', 6_543));
    await page.waitForFunction("document.querySelector('#depth-bars')?.textContent === '6,543'");

    // The token, typed once, is kept for the session; the pause goes through POST /control.
    await page.fill('#token', TOKEN);
    await page.click('#token-save');
    expect(await page.evaluate(() => sessionStorage.getItem('mdp.cockpit.token'))).toBe(TOKEN);
    await page.click('#providers button[data-action="pause"][data-target="provider:synthetic"]');
    const toast = page.locator('.toast.ok');
    await toast.waitFor();
    expect(await toast.textContent()).toContain('paused synthetic');

    const trail = await until(async () => {
      const { rows } = await db.query(
        "SELECT kind, actor, action, target, outcome FROM audit_log WHERE action = 'pause' ORDER BY seq",
      );
      return rows.length === 2 ? rows : undefined;
    }, 'the pause in audit_log');
    expect(trail).toEqual([
      {
        kind: 'control_request',
        actor: 'admin',
        action: 'pause',
        target: 'provider:synthetic',
        outcome: 'accepted',
      },
      {
        kind: 'control_result',
        actor: 'pipeline-ui',
        action: 'pause',
        target: 'provider:synthetic',
        outcome: 'ok',
      },
    ]);
    // ...and on the page, pushed as it was written.
    await page.waitForFunction(
      "[...document.querySelectorAll('#audit td')].some((td) => td.textContent === 'pipeline-ui')",
    );

    // Every service's heartbeat, the dead letter, then the picture.
    await page.waitForFunction("document.querySelectorAll('#services tr').length >= 4", undefined, {
      timeout: 15_000,
    });
    await page.waitForFunction("document.querySelector('#dead-letters .dlq') !== null", undefined, {
      timeout: 15_000,
    });
    await page.waitForTimeout(300);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'cockpit.png'), fullPage: true });
  }, 60_000);
});
