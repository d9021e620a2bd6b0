import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The field rules of the Python core's pydantic models (`fixtures/core-1.4.61/models.json`, written by
 * hand from the model definitions) and a checker applying them as the core would validate a value.
 */
export interface FieldRule {
  type: 'str' | 'int' | 'float' | 'enum' | 'model' | 'list' | 'dict_str_str' | 'any';
  required?: boolean;
  nullable?: boolean;
  default?: unknown;
  values?: string[];
  ref?: string;
  ge?: number;
  gt?: number;
  le?: number;
}
export interface ModelRule {
  module: string;
  schema_id?: string;
  enum?: string[];
  fields?: Record<string, FieldRule>;
}

export const CORE_DIR = join(__dirname, 'fixtures/core-1.4.61');
export const readCore = <T>(name: string): T =>
  JSON.parse(readFileSync(join(CORE_DIR, name), 'utf8')) as T;
export const CORE_MODELS = readCore<{ models: Record<string, ModelRule> }>('models.json').models;

/** The core model whose schema id is `schemaId`. */
export function coreModelOf(schemaId: string): string {
  const name = Object.keys(CORE_MODELS).find((m) => CORE_MODELS[m].schema_id === schemaId);
  if (!name) throw new Error(`no core model for ${schemaId}`);
  return name;
}

/** Problems the core's model `model` finds in `value` (empty = the core accepts it). */
export function coreProblems(model: string, value: unknown, path = ''): string[] {
  const rule = CORE_MODELS[model];
  if (!rule?.fields) throw new Error(`unknown core model ${model}`);
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    return [`${path || '(root)'}: must be an object for ${model}`];
  const obj = value as Record<string, unknown>;
  const out: string[] = [];
  for (const [name, field] of Object.entries(rule.fields)) {
    const at = path ? `${path}.${name}` : name;
    if (!(name in obj) || obj[name] === undefined) {
      if (field.required) out.push(`${at}: is required`);
      continue;
    }
    out.push(...fieldProblems(field, obj[name], at));
  }
  return out;
}

function fieldProblems(field: FieldRule, v: unknown, at: string): string[] {
  if (v === null) return field.nullable ? [] : [`${at}: must not be null`];
  switch (field.type) {
    case 'any':
      return [];
    case 'str':
      return typeof v === 'string' ? [] : [`${at}: must be a string`];
    case 'int':
    case 'float': {
      if (typeof v !== 'number' || !Number.isFinite(v)) return [`${at}: must be a number`];
      if (field.type === 'int' && !Number.isInteger(v)) return [`${at}: must be an integer`];
      const out: string[] = [];
      if (field.ge !== undefined && !(v >= field.ge)) out.push(`${at}: must be >= ${field.ge}`);
      if (field.gt !== undefined && !(v > field.gt)) out.push(`${at}: must be > ${field.gt}`);
      if (field.le !== undefined && !(v <= field.le)) out.push(`${at}: must be <= ${field.le}`);
      return out;
    }
    case 'enum': {
      const values = field.values ?? CORE_MODELS[field.ref!].enum!;
      return typeof v === 'string' && values.includes(v)
        ? []
        : [`${at}: must be one of ${values.join(' | ')}`];
    }
    case 'model':
      return coreProblems(field.ref!, v, at);
    case 'list':
      return Array.isArray(v)
        ? v.flatMap((item, i) => coreProblems(field.ref!, item, `${at}.${i}`))
        : [`${at}: must be a list`];
    case 'dict_str_str':
      return v !== null && typeof v === 'object' && !Array.isArray(v)
        ? Object.entries(v).flatMap(([k, x]) =>
            typeof x === 'string' ? [] : [`${at}.${k}: must be a string`],
          )
        : [`${at}: must be a string map`];
  }
}
