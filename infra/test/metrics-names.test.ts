/**
 * Every metric a Grafana panel or an alert rule queries is exported by some service: the names are
 * collected from the three services' /metrics (their registries, started by `pnpm start`'s launcher)
 * and compared with each query of infra/grafana/dashboards/*.json and infra/prometheus/alerts.yml.
 * promtool (Debian package `prometheus`, installed by .ci/run) checks the Prometheus config and rules.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Redis from 'ioredis';
import { parse } from 'yaml';
import {
  createTestSchema,
  deleteRedisPrefix,
  describeWithServices,
  redisUrl,
  TestSchema,
} from '@mdp/testing';
import { exposedNames, metricNames } from './promql';
import { RunningLauncher, startLauncher } from './launcher';

const infra = join(__dirname, '..');
/** Series Prometheus itself writes per scrape target, not exported by any service. */
const PROMETHEUS_OWN = new Set(['up', 'scrape_duration_seconds', 'scrape_samples_scraped']);

type Query = { where: string; expr: string };

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

function dashboardQueries(): Query[] {
  const dir = join(infra, 'grafana', 'dashboards');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .flatMap((file) => {
      const dash: Json = JSON.parse(readFileSync(join(dir, file), 'utf8'));
      const panels: Json[] = dash.panels.flatMap((p: Json) => [p, ...(p.panels ?? [])]);
      return panels.flatMap((p) =>
        (p.targets ?? []).map((t: Json) => ({
          where: `${file}: ${p.title}`,
          expr: t.expr as string,
        })),
      );
    });
}

function ruleQueries(): Query[] {
  const rules: Json = parse(readFileSync(join(infra, 'prometheus', 'alerts.yml'), 'utf8'));
  return rules.groups.flatMap((g: Json) =>
    g.rules.map((r: Json) => ({
      where: `alerts.yml: ${r.alert ?? r.record}`,
      expr: r.expr as string,
    })),
  );
}

describe('PromQL metric names', () => {
  it('are read from expressions, leaving out functions, labels, grouping and ranges', () => {
    expect(
      metricNames(
        'histogram_quantile(0.99, sum by (le, stream) (rate(x_seconds_bucket{a="b(c)"}[5m])))',
      ).sort(),
    ).toEqual(['x_seconds_bucket']);
    expect(
      metricNames(
        'absent(up{job="mdp"}) or max by (coord_id) (a_depth) / on (coord_id) b_capacity > 0.8',
      ).sort(),
    ).toEqual(['a_depth', 'b_capacity', 'up']);
    expect(metricNames('sum(increase(c_total[$__rate_interval])) > bool 2').sort()).toEqual([
      'c_total',
    ]);
  });

  it('every dashboard panel and alert rule has a query', () => {
    expect(dashboardQueries().length).toBeGreaterThan(10);
    expect(ruleQueries().map((q) => q.where)).toEqual(
      expect.arrayContaining([
        'alerts.yml: MdpStoreCircuitOpen',
        'alerts.yml: MdpBackpressureHardSustained',
        'alerts.yml: MdpDeadLettersGrowing',
        'alerts.yml: MdpConsumerLag',
        'alerts.yml: MdpServiceSilent',
      ]),
    );
    for (const q of [...dashboardQueries(), ...ruleQueries()])
      expect({ where: q.where, names: metricNames(q.expr).length > 0 }).toEqual({
        where: q.where,
        names: true,
      });
  });
});

describeWithServices('dashboards and alert rules query exported metrics', () => {
  let schema: TestSchema;
  let launcher: RunningLauncher;
  let exported: Set<string>;

  beforeAll(async () => {
    schema = await createTestSchema();
    // Three processes on Redis: each service's registry as deployed (own bus, pulse_* included).
    launcher = await startLauncher({ EVENT_BUS_BACKEND: 'redis', DATABASE_URL: schema.url });
    exported = new Set(PROMETHEUS_OWN);
    for (const port of Object.values(launcher.ports)) {
      for (const name of exposedNames(
        await (await fetch(`http://127.0.0.1:${port}/metrics`)).text(),
      ))
        exported.add(name);
    }
  }, 120_000);

  afterAll(async () => {
    await launcher?.stop();
    if (launcher) {
      const redis = new Redis(redisUrl());
      await deleteRedisPrefix(redis, launcher.namespace).finally(() => redis.quit());
    }
    await schema?.drop();
  });

  it('the services export the families the panels are built on', () => {
    for (const name of [
      'mds_coord_queue_depth',
      'mds_coord_queue_capacity',
      'pipeline_rate_scale',
      'pulse_group_lag',
      'pulse_lag_seconds',
      'mds_worker_write_latency_seconds_bucket',
    ]) {
      expect(exported).toContain(name);
    }
    // Base units: no histogram or gauge in milliseconds.
    expect([...exported].filter((n) => /_ms(_|$)/.test(n))).toEqual([]);
  });

  it('every metric a dashboard panel or an alert rule queries is exported by some service', () => {
    const missing = [...dashboardQueries(), ...ruleQueries()].flatMap((q) =>
      metricNames(q.expr)
        .filter((n) => !exported.has(n))
        .map((n) => `${q.where}: ${n}`),
    );
    expect(missing).toEqual([]);
  });
});

describe('promtool', () => {
  const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  const available = promtool.status === 0;
  // CI installs promtool (.ci/run, ci.yml); elsewhere the check runs when it is on PATH.
  const check = available || process.env.CI === 'true' ? it : it.skip;

  check('accepts prometheus.yml and its alert rules', () => {
    expect(
      available ? 'promtool on PATH' : 'promtool missing: install the Debian package prometheus',
    ).toBe('promtool on PATH');
    const config = spawnSync(
      'promtool',
      ['check', 'config', join(infra, 'prometheus', 'prometheus.yml')],
      { encoding: 'utf8' },
    );
    expect(config.stdout + config.stderr).toContain('SUCCESS');
    expect(config.status).toBe(0);
    const rules = spawnSync(
      'promtool',
      ['check', 'rules', join(infra, 'prometheus', 'alerts.yml')],
      { encoding: 'utf8' },
    );
    expect(rules.status).toBe(0);
  });
});
