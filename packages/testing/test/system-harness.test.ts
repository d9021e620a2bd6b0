import { writeFileSync, mkdtempSync, rmSync } from 'fs';
import http from 'http';
import net from 'net';
import os from 'os';
import path from 'path';
import Redis from 'ioredis';
import {
  freePort,
  parsePrometheus,
  RedisServer,
  ServiceProcess,
  stopAll,
  sumMetric,
  TcpProxy,
  track,
} from '../src';

afterEach(() => stopAll());

describe('parsePrometheus / sumMetric', () => {
  it('reads samples with labels and sums the ones that match', () => {
    const text = [
      '# HELP pulse_consume_total Envelopes consumed',
      '# TYPE pulse_consume_total counter',
      'pulse_consume_total{stream="ns.md.bars",track="v1",outcome="success"} 10',
      'pulse_consume_total{stream="ns.md.bars",track="v2",outcome="success"} 5',
      'pulse_consume_total{stream="ns.md.bars",track="v1",outcome="dead_letter"} 2',
      'process_resident_memory_bytes 1.5e+08',
      'odd{reason="a \\"quoted\\" one"} 1',
    ].join('\n');
    const samples = parsePrometheus(text);
    expect(sumMetric(samples, 'pulse_consume_total', { outcome: 'success' })).toBe(15);
    expect(sumMetric(samples, 'pulse_consume_total')).toBe(17);
    expect(sumMetric(samples, 'process_resident_memory_bytes')).toBe(150_000_000);
    expect(sumMetric(samples, 'missing')).toBe(0);
    expect(samples.find((s) => s.name === 'odd')?.labels.reason).toBe('a "quoted" one');
  });
});

describe('ServiceProcess', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'mdp-proc-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs a script with only the environment it is given, serves HTTP, and stops on SIGTERM', async () => {
    const script = path.join(dir, 'svc.js');
    writeFileSync(
      script,
      `const http = require('http');
       const server = http.createServer((req, res) => {
         if (req.url === '/metrics') return res.end('process_resident_memory_bytes 104857600\\n');
         res.statusCode = req.url === '/ready' ? 200 : 404; res.end('{}');
       }).listen(Number(process.env.PORT), '127.0.0.1', () => console.log('listening', process.env.GREETING, process.env.LEAK ?? 'no-leak'));
       process.on('SIGTERM', () => { console.log('bye'); server.close(() => process.exit(0)); });`,
    );
    process.env.LEAK = 'leaked';
    const port = await freePort();
    const proc = ServiceProcess.start({
      name: 'svc',
      script,
      env: { PORT: String(port), GREETING: 'hello' },
      port,
    });
    delete process.env.LEAK;
    await proc.waitReady(5000);
    expect((await proc.waitForOutput(/listening (\S+) (\S+)/))[0]).toBe('listening hello no-leak');
    expect(await proc.endpoint.rssMb()).toBe(100);
    await proc.stop();
    expect(await proc.exited).toEqual({ code: 0, signal: null });
    expect(proc.output()).toContain('[svc] bye');
    expect(await proc.endpoint.readyStatus()).toBe(0);
  });

  it('reports a process killed with SIGKILL', async () => {
    const script = path.join(dir, 'idle.js');
    writeFileSync(script, `setInterval(() => {}, 1000); console.log('up');`);
    const proc = ServiceProcess.start({ name: 'idle', script, env: {} });
    await proc.waitForOutput(/up/);
    proc.kill('SIGKILL');
    expect(await proc.exited).toEqual({ code: null, signal: 'SIGKILL' });
  });
});

describe('RedisServer', () => {
  it('keeps acknowledged writes across a SIGKILL with the append-only file', async () => {
    const server = await RedisServer.start({ appendOnly: true });
    const client = new Redis(server.url, { maxRetriesPerRequest: null });
    try {
      await client.xadd('s', '*', 'k', 'v1');
      await client.xadd('s', '*', 'k', 'v2');
      await server.kill('SIGKILL');
      await server.start();
      expect(await client.xlen('s')).toBe(2);
    } finally {
      client.disconnect();
    }
  });

  it('can be created before it runs: the port is reserved, nothing answers yet', async () => {
    const server = await RedisServer.create();
    const refused = await new Promise<boolean>((resolve) => {
      const s = net.connect(server.port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(false)));
      s.once('error', () => resolve(true));
    });
    expect(refused).toBe(true);
    await server.start();
    const client = new Redis(server.url);
    expect(await client.ping()).toBe('PONG');
    client.disconnect();
  });
});

describe('TcpProxy', () => {
  it('cuts connections when down and forwards again when up', async () => {
    const upstream = http.createServer((_, res) => res.end('ok')).listen(0, '127.0.0.1');
    await new Promise((r) => upstream.once('listening', r));
    track({
      stop: () =>
        new Promise<void>((r) => (upstream.close(() => r()), upstream.closeAllConnections())),
    });
    const proxy = track(new TcpProxy('127.0.0.1', (upstream.address() as net.AddressInfo).port));
    await proxy.up();
    const url = `http://127.0.0.1:${proxy.port}/`;
    expect(await (await fetch(url)).text()).toBe('ok');
    await proxy.down();
    await expect(fetch(url, { signal: AbortSignal.timeout(1000) })).rejects.toThrow();
    await proxy.up();
    expect(await (await fetch(url)).text()).toBe('ok');
  });
});
