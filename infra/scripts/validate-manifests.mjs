#!/usr/bin/env node
// Validates the deployment files with real validators, no Docker engine or cluster needed:
// - compose files against the Compose Specification JSON schema, with dclint (which ships that schema
//   and adds checks such as ports bound to an interface; style-only rules are off in dclint.config.json);
// - Kubernetes manifests against the Kubernetes OpenAPI schemas of `kubernetes-models` (KEDA's
//   ScaledObject against `@kubernetes-models/keda`); a Kustomization's resources must exist.
//
//   node infra/scripts/validate-manifests.mjs [--json] [--compose FILE]... [--k8s DIR|FILE]...
// Without arguments: infra/compose.yaml and everything under infra/k8s. `pnpm --filter @mdp/infra
// validate` runs it (CI's `manifests` job); infra/test/manifests.test.ts too, with broken samples.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseAllDocuments } from 'yaml';

const INFRA = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

/** dclint's report for a compose file, one line per problem; empty when it is valid. */
export function validateCompose(file) {
  // The package exports no path to its bin; its package.json is exported.
  const bin = join(dirname(require.resolve('dclint/package.json')), 'bin', 'dclint.cjs');
  const run = spawnSync(
    process.execPath,
    [bin, '--config', join(INFRA, 'dclint.config.json'), '--no-color', file],
    { encoding: 'utf8' },
  );
  if (run.status === 0) return [];
  const lines = (run.stdout + run.stderr)
    .split('\n')
    .filter((l) => l.trim() && !l.includes(file) && !/problems? \(/.test(l));
  return (lines.length ? lines : [`dclint exited ${run.status}`]).map(
    (l) => `${relative(INFRA, file)}: ${l.trim()}`,
  );
}

/** The model class that validates an object of this apiVersion and kind, or undefined. */
async function modelOf(apiVersion, kind) {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  const pkg = group.endsWith('keda.sh') ? '@kubernetes-models/keda' : 'kubernetes-models';
  const file = join(INFRA, 'node_modules', pkg, group, version, `${kind}.js`);
  if (!/^[A-Za-z0-9]+$/.test(kind) || !existsSync(file)) return undefined;
  return (await import(pathToFileURL(file).href))[kind];
}

function yamlFiles(path) {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path).flatMap((name) =>
    statSync(join(path, name)).isDirectory() || /\.ya?ml$/.test(name)
      ? yamlFiles(join(path, name))
      : [],
  );
}

/** Every Kubernetes object in the files, validated; one line per problem. */
export async function validateKubernetes(paths) {
  const problems = [];
  let objects = 0;
  for (const file of paths.flatMap(yamlFiles)) {
    const where = relative(INFRA, file);
    for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
      if (doc.errors.length)
        problems.push(`${where}: ${doc.errors.map((e) => e.message).join('; ')}`);
      const manifest = doc.toJS();
      if (!manifest) continue;
      const { apiVersion, kind } = manifest;
      if (kind === 'Kustomization') {
        for (const r of manifest.resources ?? [])
          if (!existsSync(join(dirname(file), r)))
            problems.push(`${where}: resource ${r} does not exist`);
        continue;
      }
      objects++;
      if (!apiVersion || !kind) {
        problems.push(`${where}: an object without apiVersion or kind`);
        continue;
      }
      const Model = await modelOf(apiVersion, kind);
      if (!Model) {
        problems.push(`${where}: no schema for ${apiVersion} ${kind}`);
        continue;
      }
      try {
        new Model(manifest).validate();
      } catch (err) {
        problems.push(`${where}: ${kind} ${manifest.metadata?.name ?? ''}: ${err.message}`);
      }
    }
  }
  return { problems, objects };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const json = args.includes('--json');
  const valuesOf = (flag) =>
    args.flatMap((a, i) => (a === flag && args[i + 1] ? [resolve(args[i + 1])] : []));
  const explicit = valuesOf('--compose').length + valuesOf('--k8s').length > 0;
  const composeFiles = explicit ? valuesOf('--compose') : [join(INFRA, 'compose.yaml')];
  const k8sPaths = explicit ? valuesOf('--k8s') : [join(INFRA, 'k8s')];
  const compose = composeFiles.flatMap(validateCompose);
  const k8s = await validateKubernetes(k8sPaths);
  const problems = [...compose, ...k8s.problems];
  if (json)
    console.log(
      JSON.stringify({ problems, composeFiles: composeFiles.length, k8sObjects: k8s.objects }),
    );
  else {
    for (const p of problems) console.error(p);
    console.log(
      problems.length
        ? `${problems.length} problem(s)`
        : `${composeFiles.length} compose file(s) and ${k8s.objects} Kubernetes objects are valid`,
    );
  }
  process.exit(problems.length ? 1 : 0);
}
