/**
 * Writes every contract's JSON Schema to `schemas/<track>/<schema_id>.json` and removes files that no
 * longer correspond to a contract. Run: `pnpm --filter @mdp/contracts schemas`.
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { jsonSchemaDocuments, renderJsonSchema } from '../src/json-schema';

const root = join(__dirname, '..', 'schemas');
const docs = jsonSchemaDocuments();
const wanted = new Set(docs.map((d) => join(root, d.path)));

for (const doc of docs) {
  const file = join(root, doc.path);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, renderJsonSchema(doc));
}
for (const dir of readdirSync(root, { withFileTypes: true }).filter((e) => e.isDirectory())) {
  for (const name of readdirSync(join(root, dir.name))) {
    const file = join(root, dir.name, name);
    if (!wanted.has(file)) {
      rmSync(file);
      console.log(`removed ${relative(process.cwd(), file)}`);
    }
  }
}
console.log(`wrote ${docs.length} JSON Schema files to ${relative(process.cwd(), root) || '.'}`);
