import { createEventBus, InMemoryStreams, type PulseBus } from '@mdp/pulse';
import request from 'supertest';
import { bootstrap, PipelineApp } from '../../src/bootstrap';
import { ProviderRouter } from '../../src/router/provider-router';
import { waitFor } from '../support/fake-clock';

/** Two pipeline instances with the same provider, on buses sharing one in-memory "server". */
describe('several pipeline instances', () => {
  let world: InMemoryStreams;
  const buses: PulseBus[] = [];
  const apps: PipelineApp[] = [];

  const start = async (name: string) => {
    const bus = createEventBus({
      backend: 'inmem',
      namespace: 'instances',
      inmem: world,
    }) as PulseBus;
    buses.push(bus);
    const app = await bootstrap({
      port: 0,
      bus,
      handleSignals: false,
      env: {
        LOG_LEVEL: 'silent',
        PIPELINE_CONSUMER_NAME: name,
        PIPELINE_PROVIDER_LEASE_MS: '600',
        PIPELINE_PROVIDERS: 'synthetic',
        PIPELINE_SYNTHETIC_RATE: '200',
        PIPELINE_BATCH_FLUSH_MS: '20',
      },
    });
    apps.push(app);
    return app;
  };
  const status = (app: PipelineApp) => app.app.get(ProviderRouter).states()[0];
  const feedback = async (app: PipelineApp) =>
    (await request(app.app.getHttpServer()).get('/health')).body.components.find(
      (c: { name: string }) => c.name === 'feedback_consumer',
    );

  beforeAll(() => {
    world = new InMemoryStreams();
  });
  afterAll(async () => {
    await Promise.all(apps.map((a) => a.close().catch(() => undefined)));
    await Promise.all(buses.map((b) => b.close()));
  });

  it('one leads the provider and reads feedback, the other stands by and takes over when it stops', async () => {
    const a = await start('pipeline-a');
    await waitFor(() => status(a).status === 'running' && status(a).records > 0);
    const b = await start('pipeline-b');
    await new Promise((r) => setTimeout(r, 700));
    expect(status(b)).toMatchObject({ status: 'standby', records: 0 });
    expect(await feedback(a)).toMatchObject({
      state: 'healthy',
      details: { running: 'true', standby: 'false' },
    });
    expect(await feedback(b)).toMatchObject({
      state: 'healthy',
      details: { running: 'false', standby: 'true' },
    });
    await request(b.app.getHttpServer()).get('/ready').expect(200);

    await a.close();
    await waitFor(() => status(b).status === 'running' && status(b).records > 0);
    await waitFor(async () => (await feedback(b)).details.running === 'true');
  });
});
