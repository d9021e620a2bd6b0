/**
 * `mdp control` against an HTTP server that plays the orchestrator's documented control API:
 * POST /control with a ControlAction body and `Authorization: Bearer <ORCH_ADMIN_TOKEN>`; 200 with the
 * target's ControlResult, 202 with a correlation id when the target has not answered in time, 401 on a
 * missing or wrong token, 403 when control is disabled, 400 on junk.
 */
import { createServer, IncomingMessage, Server } from 'node:http';
import { once } from 'node:events';
import { ControlActionV2 } from '@mdp/contracts';
import { controlBody } from '../src/commands/control';
import { mdp } from './helpers';

const TOKEN = 'test-token';

describe('mdp control (HTTP to the orchestrator)', () => {
  let server: Server;
  let url: string;
  const requests: Array<{ auth?: string; body: Record<string, unknown> }> = [];
  let mode: 'ok' | 'slow' | 'disabled' = 'ok';

  beforeAll(async () => {
    server = createServer(async (req: IncomingMessage, res) => {
      let raw = '';
      for await (const chunk of req) raw += chunk;
      const body = JSON.parse(raw || '{}');
      requests.push({ auth: req.headers.authorization, body });
      const reply = (status: number, payload: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(payload));
      if (req.method !== 'POST' || req.url !== '/control') return reply(404, { message: 'not found' });
      if (mode === 'disabled') return reply(403, { message: 'control disabled' });
      if (req.headers.authorization !== `Bearer ${TOKEN}`) return reply(401, { message: 'unauthorized' });
      const parsed = ControlActionV2.safeParse(body);
      if (!parsed.success) return reply(400, { message: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`) });
      if (mode === 'slow') return reply(202, { correlation_id: 'c-1', status: 'pending' });
      return reply(200, { status: 'ok', detail: `${body.action} done`, correlation_id: 'c-1' });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise((r) => server.close(r)));
  beforeEach(() => {
    requests.length = 0;
    mode = 'ok';
  });

  const env = () => ({ ORCH_URL: url, ORCH_ADMIN_TOKEN: TOKEN });

  it('pause and resume send a ControlAction with the bearer token and print the result', async () => {
    const pause = await mdp(['control', 'pause', '--target', 'pipeline', '--reason', 'maintenance'], env());
    expect(pause.err).toBe('');
    expect(pause.code).toBe(0);
    expect(JSON.parse(pause.out)).toMatchObject({ status: 'ok', detail: 'pause done' });
    expect(requests[0].auth).toBe(`Bearer ${TOKEN}`);
    expect(requests[0].body).toMatchObject({ action: 'pause', target: 'pipeline', reason: 'maintenance' });
    const resume = await mdp(['control', 'resume', 'synthetic'], env());
    expect(resume.code).toBe(0);
    expect(requests[1].body).toMatchObject({ action: 'resume', provider: 'synthetic' });
  });

  it('set-scale sends provider and scale; a scale outside 0..1 never leaves the CLI', async () => {
    const r = await mdp(['control', 'set-scale', 'synthetic', '0.25'], env());
    expect(r.code).toBe(0);
    expect(requests[0].body).toMatchObject({ action: 'set_scale', provider: 'synthetic', scale: 0.25 });
    expect(ControlActionV2.safeParse(controlBody('set-scale', { provider: 'p', scale: 1 })).success).toBe(true);
    const bad = await mdp(['control', 'set-scale', 'synthetic', '2'], env());
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('scale must be a number from 0 to 1');
    expect(requests).toHaveLength(1);
  });

  it('202: accepted, the result comes later', async () => {
    mode = 'slow';
    const r = await mdp(['control', 'pause'], env());
    expect(r.code).toBe(0);
    expect(r.out).toContain('accepted');
    expect(r.out).toContain('c-1');
  });

  it('clear errors: no token, wrong token, control disabled, orchestrator unreachable', async () => {
    expect((await mdp(['control', 'pause'], { ORCH_URL: url })).err).toContain('ORCH_ADMIN_TOKEN is not set');
    expect(requests).toHaveLength(0);
    const wrong = await mdp(['control', 'pause'], { ...env(), ORCH_ADMIN_TOKEN: 'nope' });
    expect(wrong.code).toBe(1);
    expect(wrong.err).toContain('refused the token (401)');
    mode = 'disabled';
    expect((await mdp(['control', 'pause'], env())).err).toContain('control is disabled on the orchestrator (403)');
    const down = await mdp(['control', 'pause'], { ...env(), ORCH_URL: 'http://127.0.0.1:1' });
    expect(down.code).toBe(1);
    expect(down.err).toContain('cannot reach the orchestrator at http://127.0.0.1:1/control');
  });
});
