import { ConfigError } from '@mdp/service-kit';
import { loadOrchestratorEnv } from '../src/config';
import { bootstrap } from '../src/bootstrap';

describe('orchestrator configuration', () => {
  it('defaults: port 8080, in-memory bus, namespace mdp, track v1', () => {
    expect(loadOrchestratorEnv({})).toMatchObject({
      PORT: 8080,
      EVENT_BUS_BACKEND: 'inmem',
      MD_NAMESPACE: 'mdp',
      SCHEMA_TRACK: 'v1',
      PULSE_ENABLED: true,
    });
  });

  it('PORT overrides the port', () => {
    expect(loadOrchestratorEnv({ PORT: '18080' }).PORT).toBe(18080);
  });

  it('bad values stop start-up with every problem named', async () => {
    const attempt = bootstrap({
      port: 0,
      handleSignals: false,
      env: { PORT: 'eighty', SCHEMA_TRACK: 'v9', LOG_LEVEL: 'silent' },
    });
    await expect(attempt).rejects.toBeInstanceOf(ConfigError);
    await expect(attempt).rejects.toThrow(/PORT: .*"eighty"/);
    await expect(attempt).rejects.toThrow(/SCHEMA_TRACK: must be v1 or v2/);
  });
});
