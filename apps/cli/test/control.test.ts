/**
 * `mdp control` against the real orchestrator's control API, with the real pipeline answering, both
 * in this process on one in-memory bus: the result comes back, the action is in the audit trail, and
 * a wrong token, disabled control or an unreachable orchestrator give clear errors.
 */
import { createEventBus, EventBus } from '@mdp/pulse';
import { bootstrap as orchestrator, OrchestratorHandle } from '@mdp/orchestrator/dist/bootstrap';
import { bootstrap as pipeline, PipelineApp } from '@mdp/pipeline/dist/bootstrap';
import { createTestSchema, describeWithPostgres, TestSchema, uniqueId } from '@mdp/testing';
import { controlBody } from '../src/commands/control';
import { mdp, until } from './helpers';

const TOKEN = 'test-token';

describe('control request body', () => {
  it('pause / resume target the pipeline, a named provider, or --target; set-scale is checked like the API checks it', () => {
    expect(controlBody('pause', { actor: 'a' })).toMatchObject({
      action: 'pause',
      target: 'pipeline',
      actor: 'a',
    });
    expect(controlBody('resume', { provider: 'synthetic', actor: 'a' })).toMatchObject({
      action: 'resume',
      target: 'provider:synthetic',
    });
    expect(controlBody('pause', { target: 'store', actor: 'a' })).toMatchObject({
      target: 'store',
    });
    expect(
      controlBody('set-scale', { provider: 'synthetic', scale: 0.5, actor: 'a' }),
    ).toMatchObject({
      action: 'set_scale',
      provider: 'synthetic',
      scale: 0.5,
      target: 'provider:synthetic',
    });
    expect(() => controlBody('set-scale', { provider: 'synthetic', scale: 2 })).toThrow(
      'scale: must be <= 1',
    );
  });
});

describeWithPostgres('mdp control (the real orchestrator and pipeline)', () => {
  let schema: TestSchema;
  let bus: EventBus;
  let orch: OrchestratorHandle;
  let pipe: PipelineApp;
  let env: Record<string, string>;

  beforeAll(async () => {
    schema = await createTestSchema();
    const ns = uniqueId('cli_ctl_');
    bus = createEventBus({ backend: 'inmem', namespace: ns, track: 'v1' });
    const shared = { EVENT_BUS_BACKEND: 'inmem', MD_NAMESPACE: ns, LOG_LEVEL: 'fatal' };
    pipe = await pipeline({
      bus,
      port: 0,
      handleSignals: false,
      env: { ...shared, PIPELINE_PROVIDERS: 'synthetic', PIPELINE_IDEMPOTENCY: 'memory' },
    });
    orch = await orchestrator({
      bus,
      port: 0,
      handleSignals: false,
      env: {
        ...shared,
        DATABASE_URL: schema.url,
        ORCH_ADMIN_TOKEN: TOKEN,
        ORCH_CONTROL_TIMEOUT_MS: '5000',
      },
    });
    env = { ORCH_URL: `http://127.0.0.1:${orch.port}`, ORCH_ADMIN_TOKEN: TOKEN };
  }, 60_000);

  afterAll(async () => {
    await orch?.close();
    await pipe?.close();
    await bus?.close();
    await schema?.drop();
  });

  const providers = async () =>
    (await (await fetch(`${pipe.url}/providers`)).json()) as Array<{
      provider: string;
      paused: boolean;
      scale: number;
    }>;

  it('pause, set-scale and resume reach the pipeline and print its answer', async () => {
    const pause = await mdp(['control', 'pause', 'synthetic', '--reason', 'cli test'], env);
    expect(pause.err).toBe('');
    expect(pause.code).toBe(0);
    expect(JSON.parse(pause.out)).toMatchObject({
      status: 'ok',
      outcome: 'ok',
      action: 'pause',
      target: 'provider:synthetic',
    });
    expect((await providers()).find((p) => p.provider === 'synthetic')?.paused).toBe(true);

    const scale = await mdp(['control', 'set-scale', 'synthetic', '0.25'], env);
    expect(scale.code).toBe(0);
    expect(JSON.parse(scale.out)).toMatchObject({ status: 'ok', action: 'set_scale' });
    expect((await providers()).find((p) => p.provider === 'synthetic')?.scale).toBe(0.25);

    const resume = await mdp(['control', 'resume', 'synthetic'], env);
    expect(resume.code).toBe(0);
    expect((await providers()).find((p) => p.provider === 'synthetic')?.paused).toBe(false);

    // The request is audited with the CLI's actor (rows arrive through the audit stream).
    const auditRows = async () =>
      (
        (await (await fetch(`${env.ORCH_URL}/audit?kind=control_request&limit=50`)).json()) as {
          entries: Array<{ action: string; actor: string }>;
        }
      ).entries;
    await until(
      async () => (await auditRows()).filter((r) => r.actor.endsWith('@mdp-cli')).length >= 3,
    );
    expect((await auditRows()).map((r) => r.action)).toEqual(
      expect.arrayContaining(['pause', 'set_scale', 'resume']),
    );
  });

  it('a target that refuses the action: the answer is shown and the exit code is 1', async () => {
    const r = await mdp(['control', 'pause', 'nope-provider'], env);
    expect(r.code).toBe(1);
    expect(r.err).toContain('the target answered with an error');
  });

  it('clear errors: no token, wrong token, unreachable orchestrator', async () => {
    expect((await mdp(['control', 'pause'], { ORCH_URL: env.ORCH_URL })).err).toContain(
      'ORCH_ADMIN_TOKEN is not set',
    );
    const wrong = await mdp(['control', 'pause'], { ...env, ORCH_ADMIN_TOKEN: 'nope' });
    expect(wrong.code).toBe(1);
    expect(wrong.err).toContain('refused the token (401)');
    const down = await mdp(['control', 'pause'], { ...env, ORCH_URL: 'http://127.0.0.1:1' });
    expect(down.code).toBe(1);
    expect(down.err).toContain('cannot reach the orchestrator at http://127.0.0.1:1/control');
  });
});
