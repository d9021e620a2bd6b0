/**
 * The deployment files (infra/, .github/) cannot be run here (no Docker or cluster), so they are
 * validated with real validators (scripts/validate-manifests.mjs: dclint with the Compose
 * Specification schema, kubernetes-models with the Kubernetes schemas), and this pins what can drift
 * silently: every YAML parses strictly, and each service's port, probes and build argument agree
 * across compose, Prometheus, Kubernetes and the system map.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parseAllDocuments, parse } from 'yaml';
import { catalogueEntry } from '@mdp/contracts';
import { SERVICE_INFO } from '../scripts/system-doc';

const root = join(__dirname, '..', '..');
const infra = join(root, 'infra');
/** docs/system.md: default port per app. */
const PORTS = Object.fromEntries(
  Object.entries(SERVICE_INFO).map(([app, info]) => [app, info.port]),
) as Record<App, number>;
type App = 'orchestrator' | 'store' | 'pipeline';
const APPS = Object.keys(PORTS) as App[];

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    if (name === 'node_modules') return [];
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return yamlFiles(path);
    return /\.ya?ml$/.test(name) ? [path] : [];
  });
}

// merge: compose relies on YAML merge keys (`<<: *shared-env`), as Docker Compose resolves them.
const load = (path: string) =>
  parse(readFileSync(path, 'utf8'), { uniqueKeys: true, strict: true, merge: true });

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = any;

describe('infra and CI files', () => {
  it.each(
    [...yamlFiles(infra), ...yamlFiles(join(root, '.github'))].map((p) => [relative(root, p), p]),
  )('%s parses strictly (no duplicate keys)', (_name, path) => {
    const docs = parseAllDocuments(readFileSync(path, 'utf8'), {
      uniqueKeys: true,
      strict: true,
      merge: true,
    });
    const list = Array.isArray(docs) ? docs : [docs];
    expect(list.length).toBeGreaterThan(0);
    for (const d of list) expect(d.errors.map((e) => e.message)).toEqual([]);
  });

  describe('compose.yaml', () => {
    const compose: Doc = load(join(infra, 'compose.yaml'));

    it.each(APPS)(
      '%s: built from infra/Dockerfile with its app name, PORT and published port (on 127.0.0.1) match the system map',
      (app) => {
        const svc = compose.services[app];
        expect(svc.build).toMatchObject({
          context: '..',
          dockerfile: 'infra/Dockerfile',
          args: { APP: app, PORT: String(PORTS[app]) },
        });
        expect(svc.environment.PORT).toBe(String(PORTS[app]));
        expect(svc.ports).toEqual([`127.0.0.1:${PORTS[app]}:${PORTS[app]}`]);
        expect(svc.environment).toMatchObject({
          EVENT_BUS_BACKEND: 'redis',
          REDIS_URL: 'redis://redis:6379/0',
          PULSE_ENABLED: 'true',
        });
        expect(svc.depends_on.redis).toEqual({ condition: 'service_healthy' });
      },
    );

    it('the store gets the database; Prometheus scrapes every service on its port', () => {
      expect(compose.services.store.environment.DATABASE_URL).toMatch(/@postgres:5432\//);
      const prom: Doc = load(join(infra, 'prometheus/prometheus.yml'));
      const targets = prom.scrape_configs.flatMap((c: Doc) =>
        c.static_configs.flatMap((s: Doc) => s.targets),
      );
      expect(targets.sort()).toEqual(APPS.map((a) => `${a}:${PORTS[a]}`).sort());
    });
  });

  describe('kubernetes', () => {
    const k8s = join(infra, 'k8s');
    const kustomization: Doc = load(join(k8s, 'kustomization.yaml'));

    it.each(APPS)(
      '%s: Deployment probes /ready and /health on its port, drains, and has a Service',
      (app) => {
        expect(kustomization.resources).toContain(`${app}.yaml`);
        const docs: Doc[] = parseAllDocuments(readFileSync(join(k8s, `${app}.yaml`), 'utf8')).map(
          (d) => d.toJS(),
        );
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
        expect(service.spec.ports).toEqual([
          { name: 'http', port: PORTS[app], targetPort: 'http' },
        ]);
      },
    );

    it('the shared ConfigMap carries the shared variables', () => {
      const cm: Doc = load(join(k8s, 'configmap.yaml'));
      expect(Object.keys(cm.data)).toEqual(
        expect.arrayContaining([
          'PULSE_ENABLED',
          'EVENT_BUS_BACKEND',
          'REDIS_URL',
          'MD_NAMESPACE',
          'SCHEMA_TRACK',
        ]),
      );
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

describe('validators (scripts/validate-manifests.mjs)', () => {
  const validate = (...args: string[]) => {
    const run = spawnSync(
      process.execPath,
      [join(infra, 'scripts', 'validate-manifests.mjs'), '--json', ...args],
      { encoding: 'utf8' },
    );
    return {
      code: run.status,
      ...(JSON.parse(run.stdout) as {
        problems: string[];
        composeFiles: number;
        k8sObjects: number;
      }),
    };
  };

  it('compose.yaml passes the Compose Specification schema and every Kubernetes object its schema', () => {
    const r = validate();
    expect(r.problems).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.k8sObjects).toBeGreaterThanOrEqual(12);
  });

  it('they reject what a real engine or cluster would reject', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mdp-manifests-'));
    try {
      writeFileSync(
        join(dir, 'compose.yaml'),
        'services:\n  a:\n    image: redis\n    restrat: always\n',
      );
      writeFileSync(
        join(dir, 'compose-ports.yaml'),
        'services:\n  a:\n    image: redis\n    ports: ["6379:6379"]\n',
      );
      writeFileSync(
        join(dir, 'k8s.yaml'),
        [
          'apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: x }\nspec:\n  selector: { matchLabels: { a: b } }\n  template:\n    spec:\n      containers: [{ name: c, image: i, ports: [{ containerPort: http }] }]',
          'apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata: { name: s }\nspec: { triggers: [] }',
          'apiVersion: v1\nkind: NoSuchKind\nmetadata: { name: n }',
        ].join('\n---\n'),
      );
      const r = validate(
        '--compose',
        join(dir, 'compose.yaml'),
        '--compose',
        join(dir, 'compose-ports.yaml'),
        '--k8s',
        join(dir, 'k8s.yaml'),
      );
      expect(r.code).toBe(1);
      const text = r.problems.join('\n');
      expect(text).toMatch(/compose\.yaml: .*instancePath="\/services\/a".*additionalProperties/); // `restrat`: not in the schema
      expect(text).toMatch(/6379:6379.*interface/); // a port published on every interface
      expect(text).toMatch(/containerPort must be integer/);
      expect(text).toMatch(/ScaledObject s: .*scaleTargetRef/);
      expect(text).toContain('no schema for v1 NoSuchKind');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('deployment hardening', () => {
  it('compose publishes Redis and PostgreSQL on 127.0.0.1 only', () => {
    const compose: Doc = load(join(infra, 'compose.yaml'));
    for (const svc of Object.values(compose.services) as Doc[])
      for (const p of svc.ports ?? []) expect(p).toMatch(/^127\.0\.0\.1:/);
    expect(compose.services.redis.ports).toEqual(['127.0.0.1:6379:6379']);
    expect(compose.services.postgres.ports).toEqual(['127.0.0.1:5432:5432']);
  });

  it('the Dockerfile deploys exactly from the lockfile with the pinned pnpm, and the app files stay root-owned', () => {
    const dockerfile = readFileSync(join(infra, 'Dockerfile'), 'utf8');
    const pnpm = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).packageManager.split(
      '@',
    )[1];
    expect(dockerfile).toContain(`ARG PNPM_VERSION=${pnpm}`);
    expect(dockerfile).toMatch(/pnpm --filter "@mdp\/\$\{APP\}" --prod deploy --frozen-lockfile/);
    expect(dockerfile).not.toMatch(/--prod deploy[^\n]*--legacy/);
    expect(
      parse(readFileSync(join(root, 'pnpm-workspace.yaml'), 'utf8')).injectWorkspacePackages,
    ).toBe(true);
    const runtime = dockerfile.slice(dockerfile.indexOf('AS runtime'));
    expect(runtime).toContain('COPY --from=build /out ./');
    expect(runtime).not.toMatch(/COPY --from=build --chown/);
    expect(runtime).toMatch(/chmod -R go-w \/app/);
    expect(runtime.indexOf('USER node')).toBeGreaterThan(
      runtime.indexOf('chown node:node /app/.data'),
    );
  });

  const k8sDocs = (file: string): Doc[] =>
    parseAllDocuments(readFileSync(join(infra, 'k8s', file), 'utf8')).map((d) => d.toJS());

  it('the store pod cannot start without DATABASE_URL in production', () => {
    const container = k8sDocs('store.yaml').find((d) => d.kind === 'Deployment').spec.template.spec
      .containers[0];
    expect(container.env).toContainEqual({ name: 'NODE_ENV', value: 'production' });
    expect(container.env).toContainEqual({
      name: 'DATABASE_URL',
      valueFrom: { secretKeyRef: { name: 'mdp-secrets', key: 'DATABASE_URL' } },
    });
  });

  it.each(['store', 'pipeline'])('%s: a PodDisruptionBudget selects its pods', (app) => {
    const docs = k8sDocs(`${app}.yaml`);
    const pdb = docs.find((d) => d.kind === 'PodDisruptionBudget');
    expect(pdb.spec.selector.matchLabels).toEqual(
      docs.find((d) => d.kind === 'Deployment').spec.selector.matchLabels,
    );
  });

  it("KEDA scales the store on its group's pending entries of the bars stream (names from the catalogue)", () => {
    const [scaled] = k8sDocs('keda/store-scaledobject.yaml');
    expect(scaled.spec.scaleTargetRef.name).toBe('store');
    const [trigger] = scaled.spec.triggers;
    expect(trigger.type).toBe('redis-streams');
    const bars = catalogueEntry('md.bars')!;
    const group = bars.groups.find((g) => g.service === 'store')!;
    expect(trigger.metadata).toMatchObject({
      stream: `mdp.${bars.name}`,
      consumerGroup: group.name,
    });
    expect(Number(trigger.metadata.pendingEntriesCount)).toBeGreaterThan(0);
    expect(load(join(infra, 'k8s', 'keda', 'kustomization.yaml')).resources).toEqual([
      '..',
      'store-scaledobject.yaml',
    ]);
  });

  it('resource requests are set and within the limits', () => {
    for (const app of APPS) {
      const { resources } = k8sDocs(`${app}.yaml`).find((d) => d.kind === 'Deployment').spec
        .template.spec.containers[0];
      const mi = (q: string) => Number(q.replace(/Mi$/, ''));
      expect(mi(resources.requests.memory)).toBeLessThanOrEqual(mi(resources.limits.memory));
    }
  });
});
