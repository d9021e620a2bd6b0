/**
 * The deployment files (../../infra, ../../.github) cannot be exercised here (no Docker or cluster),
 * so this pins what can drift silently: every YAML parses strictly, and each service's port, probes
 * and build argument agree across compose, Prometheus, Kubernetes and the system map.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseAllDocuments, parse } from 'yaml';

const root = join(__dirname, '..', '..', '..');
const infra = join(root, 'infra');
/** SYSTEM.md: default port per app. */
const PORTS = { orchestrator: 8080, store: 8081, pipeline: 8082 } as const;
type App = keyof typeof PORTS;
const APPS = Object.keys(PORTS) as App[];

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return yamlFiles(path);
    return /\.ya?ml$/.test(name) ? [path] : [];
  });
}

// merge: compose relies on YAML merge keys (`<<: *shared-env`), as Docker Compose resolves them.
const load = (path: string) => parse(readFileSync(path, 'utf8'), { uniqueKeys: true, strict: true, merge: true });

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = any;

describe('infra and CI files', () => {
  it.each([...yamlFiles(infra), ...yamlFiles(join(root, '.github'))].map((p) => [relative(root, p), p]))('%s parses strictly (no duplicate keys)', (_name, path) => {
    const docs = parseAllDocuments(readFileSync(path, 'utf8'), { uniqueKeys: true, strict: true, merge: true });
    const list = Array.isArray(docs) ? docs : [docs];
    expect(list.length).toBeGreaterThan(0);
    for (const d of list) expect(d.errors.map((e) => e.message)).toEqual([]);
  });

  it('the Grafana dashboard is valid JSON and queries the coordinator and bus metrics', () => {
    const dash = JSON.parse(readFileSync(join(infra, 'grafana/dashboards/mdp-overview.json'), 'utf8'));
    const exprs: string[] = dash.panels.flatMap((p: Doc) => (p.targets ?? []).map((t: Doc) => t.expr));
    for (const metric of ['mds_coord_queue_depth', 'mds_worker_write_latency_seconds_bucket', 'pulse_publish_total', 'pulse_lag_seconds']) {
      expect(exprs.some((e) => e.includes(metric))).toBe(true);
    }
  });

  describe('compose.yaml', () => {
    const compose: Doc = load(join(infra, 'compose.yaml'));

    it.each(APPS)('%s: built from infra/Dockerfile with its app name, PORT and published port match SYSTEM.md', (app) => {
      const svc = compose.services[app];
      expect(svc.build).toMatchObject({ context: '..', dockerfile: 'infra/Dockerfile', args: { APP: app, PORT: String(PORTS[app]) } });
      expect(svc.environment.PORT).toBe(String(PORTS[app]));
      expect(svc.ports).toEqual([`${PORTS[app]}:${PORTS[app]}`]);
      expect(svc.environment).toMatchObject({ EVENT_BUS_BACKEND: 'redis', REDIS_URL: 'redis://redis:6379/0', PULSE_ENABLED: 'true' });
      expect(svc.depends_on.redis).toEqual({ condition: 'service_healthy' });
    });

    it('the store gets the database; Prometheus scrapes every service on its port', () => {
      expect(compose.services.store.environment.DATABASE_URL).toMatch(/@postgres:5432\//);
      const prom: Doc = load(join(infra, 'prometheus/prometheus.yml'));
      const targets = prom.scrape_configs.flatMap((c: Doc) => c.static_configs.flatMap((s: Doc) => s.targets));
      expect(targets.sort()).toEqual(APPS.map((a) => `${a}:${PORTS[a]}`).sort());
    });
  });

  describe('kubernetes', () => {
    const k8s = join(infra, 'k8s');
    const kustomization: Doc = load(join(k8s, 'kustomization.yaml'));

    it.each(APPS)('%s: Deployment probes /ready and /health on its port, drains, and has a Service', (app) => {
      expect(kustomization.resources).toContain(`${app}.yaml`);
      const docs: Doc[] = parseAllDocuments(readFileSync(join(k8s, `${app}.yaml`), 'utf8')).map((d) => d.toJS());
      const deployment = docs.find((d) => d.kind === 'Deployment');
      const service = docs.find((d) => d.kind === 'Service');
      const pod = deployment.spec.template.spec;
      const [container] = pod.containers;
      expect(deployment.spec.selector.matchLabels).toEqual(service.spec.selector);
      expect(deployment.spec.template.metadata.labels).toMatchObject(service.spec.selector);
      expect(container.ports).toEqual([{ name: 'http', containerPort: PORTS[app] }]);
      expect(container.env).toContainEqual({ name: 'PORT', value: String(PORTS[app]) });
      expect(container.readinessProbe.httpGet).toEqual({ path: '/ready', port: 'http' });
      expect(container.livenessProbe.httpGet).toEqual({ path: '/health', port: 'http' });
      expect(container.lifecycle.preStop).toBeDefined();
      expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(30);
      expect(pod.securityContext.runAsNonRoot).toBe(true);
      expect(container.envFrom).toContainEqual({ configMapRef: { name: 'mdp-shared-env' } });
      expect(service.spec.ports).toEqual([{ name: 'http', port: PORTS[app], targetPort: 'http' }]);
    });

    it('the shared ConfigMap carries the SYSTEM.md variables', () => {
      const cm: Doc = load(join(k8s, 'configmap.yaml'));
      expect(Object.keys(cm.data)).toEqual(expect.arrayContaining(['PULSE_ENABLED', 'EVENT_BUS_BACKEND', 'REDIS_URL', 'MD_NAMESPACE', 'SCHEMA_TRACK']));
    });
  });

  it('the contract matrix spans both tracks and both backends without fail-fast', () => {
    const wf: Doc = load(join(root, '.github/workflows/contracts.yml'));
    const job = wf.jobs.contracts;
    expect(job.strategy['fail-fast']).toBe(false);
    expect(job.strategy.matrix.schema_track).toContain('["v1","v2"]');
    expect(job.strategy.matrix.bus_backend).toContain('["inmem","redis"]');
    expect(wf.on).toHaveProperty('workflow_dispatch');
    expect(wf.on).toHaveProperty('workflow_call');
    expect(job.env).toMatchObject({ PULSE_ENABLED: 'true', MD_NAMESPACE: 'test_mdp' });
  });
});
