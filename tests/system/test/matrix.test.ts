/**
 * The contract matrix must test what it names: a leg is SCHEMA_TRACK x EVENT_BUS_BACKEND, and a value
 * that is neither fails the leg (the loop test refuses to run, every service refuses to start)
 * instead of quietly testing the defaults.
 */
import { spawn } from 'child_process';
import { readFileSync } from 'fs';
import path from 'path';
import { ServiceProcess } from '@mdp/testing';
import { legFromEnv } from './support/leg';
import { parse } from 'yaml';
import { assertBuilt, ENTRY, ROOT } from './support/system';

describe('the contract-matrix leg', () => {
  it('is read from SCHEMA_TRACK and EVENT_BUS_BACKEND, v1 over Redis when neither is set', () => {
    expect(legFromEnv({})).toEqual({ track: 'v1', backend: 'redis', named: false });
    expect(legFromEnv({ SCHEMA_TRACK: 'v2', EVENT_BUS_BACKEND: 'inmem' })).toEqual({
      track: 'v2',
      backend: 'inmem',
      named: true,
    });
    expect(() => legFromEnv({ SCHEMA_TRACK: 'v9' })).toThrow(
      'SCHEMA_TRACK=v9 is not a schema track',
    );
    expect(() => legFromEnv({ EVENT_BUS_BACKEND: 'kafka' })).toThrow(
      'EVENT_BUS_BACKEND=kafka is not a bus backend',
    );
  });

  it.each(['store', 'pipeline', 'orchestrator'] as const)(
    '%s refuses to start with SCHEMA_TRACK=v9 EVENT_BUS_BACKEND=kafka',
    async (service) => {
      assertBuilt();
      const proc = ServiceProcess.start({
        name: service,
        script: ENTRY[service],
        env: { SCHEMA_TRACK: 'v9', EVENT_BUS_BACKEND: 'kafka', PORT: '0', LOG_LEVEL: 'silent' },
      });
      expect(await proc.exited).toEqual({ code: 1, signal: null });
      expect(proc.output()).toMatch(/SCHEMA_TRACK: /);
      expect(proc.output()).toMatch(/EVENT_BUS_BACKEND: must be inmem or redis/);
    },
  );

  it.each([
    ['SCHEMA_TRACK', 'v9', 'SCHEMA_TRACK=v9 is not a schema track'],
    ['EVENT_BUS_BACKEND', 'kafka', 'EVENT_BUS_BACKEND=kafka is not a bus backend'],
  ])('fails the leg run when %s=%s', async (name, value, message) => {
    // The command a matrix leg runs (see .github/workflows/contracts.yml), with the bad value.
    const jest = require.resolve('jest/bin/jest');
    const child = spawn(process.execPath, [jest, '--ci', 'test/loop.test.ts'], {
      cwd: path.join(__dirname, '..'),
      env: { ...process.env, [name]: value },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).not.toBe(0);
    expect(output).toContain(`invalid contract-matrix leg: ${message}`);
    expect(output).toMatch(/Tests:\s+0 total|Test suite failed to run/);
  });

  it('is what every leg of .github/workflows/contracts.yml runs, with its track and backend, before the other suites', () => {
    const wf = parse(readFileSync(path.join(ROOT, '.github/workflows/contracts.yml'), 'utf8'));
    const job = wf.jobs.contracts;
    expect(job.env).toMatchObject({
      SCHEMA_TRACK: '${{ matrix.schema_track }}',
      EVENT_BUS_BACKEND: '${{ matrix.bus_backend }}',
    });
    const runs: string[] = job.steps.map((st: { run?: string }) => st.run ?? '');
    const loop = runs.findIndex((r) => /@mdp\/system-tests .*test\/loop\.test\.ts/.test(r));
    const build = runs.indexOf('pnpm build');
    const suites = runs.findIndex((r) => r.includes('--filter @mdp/contracts'));
    expect(build).toBeGreaterThanOrEqual(0);
    expect(loop).toBeGreaterThan(build);
    expect(suites).toBeGreaterThan(loop);
  });
});
